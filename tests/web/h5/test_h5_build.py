"""The built residents' pages fit the gateway's CSP (no inline script, no eval), and the gateway
serves them at /h5/ with that CSP, deep links drawn by the app."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.h5_app import H5Settings
from tests.web.conftest import ConsolePlatform
from tests.web.console.test_console_build import evaluating, inline_scripts
from tests.web.grid.test_grid_api_paths import SNAPSHOT, WEB, generated_schemas


def test_the_built_pages_have_no_inline_script_and_no_eval() -> None:
    dist: Path = H5Settings().dist_dir
    assert inline_scripts((dist / "index.html").read_text(encoding="utf-8")) == []
    chunks = sorted((dist / "assets").glob("*.js"))
    assert chunks, "the build has no script chunks"
    found = {c.name: hits for c in chunks if (hits := evaluating(c.read_text(encoding="utf-8")))}
    assert found == {}


def test_the_gateway_serves_the_pages_with_their_csp_and_deep_links(
    console_platform: ConsolePlatform,
) -> None:
    http = console_platform.api.http
    page = http.get("/h5/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "img-src 'self' data: blob:" in csp
    assert "media-src 'self' blob:" in csp
    assert "unsafe-eval" not in csp
    deep = http.get("/h5/cases/5d0c7a8e-1111-4c4c-8888-123456789abc")
    assert deep.status_code == 200
    assert deep.text == page.text
    assert http.get("/h5/assets/missing-chunk.js").status_code == 404


def test_the_pages_are_typed_from_the_platforms_snapshot() -> None:
    """src/api/schema.d.ts was generated from web/console/openapi.json as it is now: after a
    refresh of the snapshot, run `npm run api:types` in web/h5."""
    scripts = json.loads((WEB / "h5" / "package.json").read_text(encoding="utf-8"))["scripts"]
    assert "../console/openapi.json" in scripts["api:types"]
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    typed = generated_schemas((WEB / "h5" / "src" / "api" / "schema.d.ts").read_text(
        encoding="utf-8"))
    assert typed == set(snapshot["components"]["schemas"]), (
        "web/h5/src/api/schema.d.ts is stale: run `npm run api:types` in web/h5")
