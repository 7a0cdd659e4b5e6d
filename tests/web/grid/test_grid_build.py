"""The built grid app fits the gateway's CSP (no inline script, no eval), and its service
worker lists every file of the build, so a phone that loaded the app once opens it without
signal."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gateway.grid_app import GridSettings
from tests.web.console.test_console_build import evaluating, inline_scripts

PRECACHE = re.compile(r"const PRECACHE = (\[.*?\])\n", re.DOTALL)


def test_the_built_app_has_no_inline_script_and_no_eval() -> None:
    dist: Path = GridSettings().dist_dir
    assert inline_scripts((dist / "index.html").read_text(encoding="utf-8")) == []
    scripts = [*sorted((dist / "assets").glob("*.js")), dist / "sw.js"]
    found = {s.name: hits for s in scripts if (hits := evaluating(s.read_text(encoding="utf-8")))}
    assert found == {}


def test_the_service_worker_keeps_every_file_of_the_build() -> None:
    dist: Path = GridSettings().dist_dir
    match = PRECACHE.search((dist / "sw.js").read_text(encoding="utf-8"))
    assert match, "sw.js has no precache list: was it built by vite.config.ts?"
    kept = set(json.loads(match.group(1)))
    built = {"/grid/" + str(p.relative_to(dist)) for p in dist.rglob("*")
             if p.is_file() and p.name not in ("index.html", "sw.js")}
    assert "/grid/" in kept  # the page itself, under the URL phones open
    assert built <= kept, sorted(built - kept)
