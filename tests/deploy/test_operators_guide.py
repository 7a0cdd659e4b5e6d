"""The operators' guide covers what operators do, and the files it points to exist."""

from __future__ import annotations

import re

from tests.deploy.manifests import K8S, ROOT

GUIDE = K8S / "README.md"


def test_the_guide_covers_deploying_scaling_rotating_draining_and_parking() -> None:
    headings = [
        line.lstrip("#").strip().lower()
        for line in GUIDE.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    ]
    for topic in ("deploying", "scaling", "rotating secrets", "draining a queue",
                  "dead-letter", "consumers"):
        assert any(topic in heading for heading in headings), f"no section on {topic}"


def test_every_path_the_guide_names_exists() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:base|components|overlays)/[\w./<>-]+)`", text))
    named |= {f"../../{p}" for p in re.findall(r"`((?:tests/deploy|shared)/[\w./-]+\.py)`", text)}
    assert named
    for path in sorted(named):
        if "<" in path:  # a pattern such as base/<svc>/hpa.yaml: every service has one
            continue
        if path.endswith(("secrets.env", ".pem")):  # operators create these (git-ignored)
            continue
        assert (K8S / path).resolve().exists() or (ROOT / path).exists(), path
