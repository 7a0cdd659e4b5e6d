"""``python -m bench [NAME ...] [options]``: run every benchmark package found under bench/
(or only those named). Options after the names go to each benchmark unchanged. ``chaos`` (fault
injection, minutes long: ``make chaos``) runs only when named."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

# Run only when named: not measurements against a baseline, and minutes long.
ON_REQUEST = frozenset({"chaos"})


def discover() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(
        module.name
        for module in pkgutil.iter_modules([str(here)])
        if module.ispkg and not module.name.startswith("_")
    )


def main(argv: list[str]) -> int:
    available = discover()
    names = [arg for arg in argv if not arg.startswith("-") and arg in available]
    options = [arg for arg in argv if arg not in names]
    failed: list[str] = []
    for name in names or [name for name in available if name not in ON_REQUEST]:
        module = importlib.import_module(f"bench.{name}")
        print(f"== bench {name} ==", flush=True)
        if module.main(options) != 0:
            failed.append(name)
    if failed:
        print(f"benchmarks that failed or missed their targets: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
