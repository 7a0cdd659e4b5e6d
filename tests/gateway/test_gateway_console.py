"""The gateway serves the built staff console at /console/ (gateway/console.py), here from a
fake build in a temporary directory: long-lived hashed assets, a revalidated index.html, deep
links drawn by the app, a strict CSP on every answer, nothing outside the build. And
`make console` builds it only when it is missing or out of date (a stand-in npm records what
make asks of it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from gateway import GatewayApp, create_gateway_app
from gateway.console import Console, ConsoleSettings
from shared.auth import TokenVerifier
from tests.gateway.gateway_setup import asgi_upstreams, call_raw, gateway_settings

INDEX = (
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>平安e家</title>'
    '<script type="module" src="/console/assets/index-B2x9Qk.js"></script>'
    '<link rel="stylesheet" href="/console/assets/index-Cf31aa.css"></head>'
    '<body><div id="app"></div></body></html>'
)
SCRIPT = "export const routes = [" + ",".join(f'"/page/{n}"' for n in range(400)) + "];\n"
STYLE = "body { font-family: sans-serif; }\n"
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)
YEAR = "public, max-age=31536000, immutable"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A console build as vite lays it out, with a secret next to it that must stay there."""
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX, encoding="utf-8")
    (root / "favicon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (root / "assets" / "index-B2x9Qk.js").write_text(SCRIPT)
    (root / "assets" / "index-Cf31aa.css").write_text(STYLE)
    (root / "assets" / "logo-9f8e7d.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    (tmp_path / "secret.txt").write_text("database password")
    return root


@pytest.fixture
def console_gateway(
    service_apps: dict[str, FastAPI], verifier: TokenVerifier
) -> Callable[..., GatewayApp]:
    """``console_gateway(dist_dir, tile_hosts=[...])``: a gateway serving that build."""

    def build(dist_dir: Path, **settings: object) -> GatewayApp:
        console = Console(ConsoleSettings(dist_dir=dist_dir, **settings))
        return create_gateway_app(gateway_settings(), upstreams=asgi_upstreams(service_apps),
                                  verifier=verifier, console=console)

    return build


@pytest.fixture
async def visitor(
    console_gateway: Callable[..., GatewayApp], dist: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway serving the fake build (no lifespan: files need none)."""
    transport = httpx.ASGITransport(app=console_gateway(dist))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
        yield c


def assert_guarded(response: httpx.Response) -> None:
    assert response.headers["content-security-policy"] == STRICT_CSP
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_console_page_is_served_revalidated_under_a_strict_csp(
    visitor: httpx.AsyncClient,
) -> None:
    response = await visitor.get("/console/")
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-request-id"]
    assert_guarded(response)


async def test_hashed_assets_are_cached_for_a_year_with_their_types(
    visitor: httpx.AsyncClient,
) -> None:
    expected = {
        "/console/assets/index-B2x9Qk.js": "text/javascript; charset=utf-8",
        "/console/assets/index-Cf31aa.css": "text/css; charset=utf-8",
        "/console/assets/logo-9f8e7d.png": "image/png",
    }
    for path, content_type in expected.items():
        response = await visitor.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == content_type
        assert response.headers["cache-control"] == YEAR
        assert_guarded(response)
    assert (await visitor.get("/console/assets/index-B2x9Qk.js")).text == SCRIPT


async def test_files_outside_assets_are_revalidated_not_kept(visitor: httpx.AsyncClient) -> None:
    response = await visitor.get("/console/favicon.svg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["cache-control"] == "no-cache"


async def test_a_deep_link_into_the_app_answers_the_console_page(
    visitor: httpx.AsyncClient,
) -> None:
    for path in ("/console/cases/0b9d6c1e-4f1a-4d8e-9c53-1f2a3b4c5d6e", "/console/queue",
                 "/console/cases/ZZ2026000123/", "/console/admin/units?page=2"):
        response = await visitor.get(path)
        assert response.status_code == 200, path
        assert response.text == INDEX
        assert response.headers["cache-control"] == "no-cache"
        assert_guarded(response)


async def test_a_missing_file_is_404_never_the_page_under_a_script_url(
    visitor: httpx.AsyncClient,
) -> None:
    for path in ("/console/assets/index-Old123.js", "/console/assets/", "/console/robots.txt",
                 "/console/cases/report.pdf"):
        response = await visitor.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"
        assert_guarded(response)


async def test_console_without_its_slash_redirects_keeping_the_query(
    visitor: httpx.AsyncClient,
) -> None:
    response = await visitor.get("/console", params={"next": "/console/queue"})
    assert response.status_code == 308
    assert response.headers["location"] == "/console/?next=%2Fconsole%2Fqueue"
    assert_guarded(response)


@pytest.mark.parametrize("path", [
    "/console/../secret.txt",
    "/console/assets/../../secret.txt",
    "/console/%2e%2e/secret.txt",
    "/console/..%2fsecret.txt",
    "/console/..%5csecret.txt",
    "/console/assets/%00index-B2x9Qk.js",
])
async def test_no_path_leads_out_of_the_build(
    console_gateway: Callable[..., GatewayApp], dist: Path, path: str
) -> None:
    """Paths exactly as a hostile client sends them (httpx would normalise the dots away)."""
    answer = await call_raw(console_gateway(dist), "GET", path, [])
    assert answer.status == 404
    assert b"database password" not in answer.body
    assert answer.json()["code"] == "not_found"


async def test_a_symbolic_link_out_of_the_build_is_not_followed(
    visitor: httpx.AsyncClient, dist: Path
) -> None:
    (dist / "assets" / "leak-123abc.js").symlink_to(dist.parent / "secret.txt")
    response = await visitor.get("/console/assets/leak-123abc.js")
    assert response.status_code == 404
    assert "database password" not in response.text


async def test_text_is_gzipped_for_a_browser_that_accepts_it(
    visitor: httpx.AsyncClient,
) -> None:
    zipped = await visitor.get("/console/assets/index-B2x9Qk.js",
                               headers={"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(SCRIPT) // 3
    assert zipped.text == SCRIPT  # httpx unzips it
    assert zipped.headers["vary"] == "accept-encoding"
    for refused in ("identity", "gzip;q=0, identity"):
        plain = await visitor.get("/console/assets/index-B2x9Qk.js",
                                  headers={"Accept-Encoding": refused})
        assert "content-encoding" not in plain.headers
        assert int(plain.headers["content-length"]) == len(SCRIPT)


async def test_an_unchanged_page_is_revalidated_with_304_and_a_rebuild_is_picked_up(
    visitor: httpx.AsyncClient, dist: Path
) -> None:
    first = await visitor.get("/console/")
    again = await visitor.get("/console/", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert_guarded(again)
    (dist / "index.html").write_text(INDEX.replace("B2x9Qk", "Zz0011"), encoding="utf-8")
    rebuilt = await visitor.get("/console/", headers={"If-None-Match": first.headers["etag"]})
    assert rebuilt.status_code == 200
    assert "index-Zz0011.js" in rebuilt.text


async def test_head_answers_the_headers_without_the_body(visitor: httpx.AsyncClient) -> None:
    response = await visitor.head("/console/assets/index-Cf31aa.css")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(STYLE))
    assert response.content == b""
    missing = await visitor.head("/console/assets/index-Old123.js")
    assert missing.status_code == 404
    assert int(missing.headers["content-length"]) > 0
    assert missing.content == b""


async def test_the_console_takes_no_writes(visitor: httpx.AsyncClient) -> None:
    for method in ("POST", "PUT", "DELETE"):
        response = await visitor.request(method, "/console/cases/1")
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, HEAD"
        assert response.json()["code"] == "method_not_allowed"
        assert_guarded(response)


async def test_without_a_build_the_console_tells_the_operator_to_build_it(
    console_gateway: Callable[..., GatewayApp], tmp_path: Path
) -> None:
    transport = httpx.ASGITransport(app=console_gateway(tmp_path / "never-built"))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        for path in ("/console/", "/console/cases/1", "/console/assets/index-B2x9Qk.js"):
            response = await client.get(path)
            assert response.status_code == 503
            assert response.json()["code"] == "console_not_built"
            assert "make console" in response.json()["detail"]
            assert response.headers["cache-control"] == "no-store"
            assert_guarded(response)


async def test_the_map_tile_server_is_the_only_other_image_source(
    console_gateway: Callable[..., GatewayApp], dist: Path
) -> None:
    gateway = console_gateway(dist, tile_hosts=["https://t0.tianditu.gov.cn",
                                                 "https://*.tiles.example.cn:8443"])
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        csp = (await client.get("/console/")).headers["content-security-policy"]
    assert ("img-src 'self' data: blob: https://t0.tianditu.gov.cn "
            "https://*.tiles.example.cn:8443;") in csp
    assert "connect-src 'self';" in csp


@pytest.mark.parametrize("host", [
    "https://t0.tianditu.gov.cn; script-src *",
    "https://tiles.example.cn/path",
    "*",
    "t0.tianditu.gov.cn",
    "https://a.example.cn https://b.example.cn",
])
def test_a_tile_host_that_is_not_one_origin_is_refused(host: str) -> None:
    with pytest.raises(ValidationError, match="tile host"):
        ConsoleSettings(tile_hosts=[host])


TIANDITU = "https://t0.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=k3y"


async def test_the_console_learns_the_tile_url_from_the_gateway_at_run_time(
    console_gateway: Callable[..., GatewayApp], dist: Path
) -> None:
    transport = httpx.ASGITransport(app=console_gateway(dist, tile_url=TIANDITU))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        response = await client.get("/console/config.json")
    assert response.status_code == 200
    assert response.json() == {"tile_url": TIANDITU}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "img-src 'self' data: blob: https://t0.tianditu.gov.cn;" in (
        response.headers["content-security-policy"])


async def test_without_a_tile_url_the_console_is_told_there_is_none(
    visitor: httpx.AsyncClient, dist: Path
) -> None:
    (dist / "config.json").write_text('{"tile_url": "https://evil.example.cn/{z}/{x}/{y}"}')
    response = await visitor.get("/console/config.json")
    assert response.status_code == 200
    assert response.json() == {"tile_url": None}
    assert_guarded(response)


async def test_the_tile_url_origin_joins_the_extra_tile_hosts_in_the_csp(
    console_gateway: Callable[..., GatewayApp], dist: Path
) -> None:
    gateway = console_gateway(dist, tile_url="http://tiles.example.cn:8080/{z}/{x}/{y}.png",
                              tile_hosts=["https://t1.tianditu.gov.cn"])
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        csp = (await client.get("/console/")).headers["content-security-policy"]
    assert ("img-src 'self' data: blob: http://tiles.example.cn:8080 "
            "https://t1.tianditu.gov.cn;") in csp


@pytest.mark.parametrize(("url", "reason"), [
    ("https://t0.tianditu.gov.cn/DataServer?x={x}&y={y}", "missing {z}"),
    ("ftp://tiles.example.cn/{z}/{x}/{y}", "https:// or http:// origin"),
    ("//tiles.example.cn/{z}/{x}/{y}", "https:// or http:// origin"),
    ("https://{x}.example.cn/{z}/{y}", "https:// or http:// origin"),
    ("https://user:pw@tiles.example.cn/{z}/{x}/{y}", "https:// or http:// origin"),
    ("https://tiles.example.cn; script-src */{z}/{x}/{y}", "spaces, quotes"),
    ("https://tiles.example.cn/{z}/{x}/{y}\"onerror=", "spaces, quotes"),
])
def test_a_tile_url_that_is_not_a_template_on_one_origin_is_refused(
    url: str, reason: str
) -> None:
    with pytest.raises(ValidationError, match="tile URL") as refused:
        ConsoleSettings(tile_url=url)
    assert reason in str(refused.value)


def test_a_bad_tile_url_in_the_environment_stops_the_gateway_starting(
    service_apps: dict[str, FastAPI], verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EHOME_CONSOLE_TILE_URL", "https://t0.tianditu.gov.cn/tiles")
    with pytest.raises(ValidationError, match="must contain"):
        create_gateway_app(gateway_settings(), upstreams=asgi_upstreams(service_apps),
                           verifier=verifier)


async def test_the_build_directory_comes_from_the_environment(
    service_apps: dict[str, FastAPI], verifier: TokenVerifier, dist: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EHOME_CONSOLE_DIST_DIR", str(dist))
    gateway = create_gateway_app(gateway_settings(), upstreams=asgi_upstreams(service_apps),
                                 verifier=verifier)
    assert (await call_raw(gateway, "GET", "/console/", [])).body.decode() == INDEX


async def test_paths_that_only_begin_like_the_console_are_not_the_console(
    visitor: httpx.AsyncClient,
) -> None:
    response = await visitor.get("/consoles")
    assert response.status_code == 404
    assert "content-security-policy" not in response.headers


# -- how the build gets there: make console ----------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
FAKE_NPM = """#!/bin/sh
# Records each call; `ci` installs, `run build` builds, as the real ones leave their marks.
echo "$*" >> "$NPM_LOG"
case "$*" in
  ci*) mkdir -p node_modules && : > node_modules/.package-lock.json ;;
  "run build") mkdir -p dist && echo built > dist/index.html ;;
esac
"""


@dataclass
class ConsoleCheckout:
    """A checkout holding just the console's files, with make's tools and a stand-in npm."""

    root: Path
    bin: Path
    log: Path

    def touch(self, relative: str, at: float) -> None:
        path = self.root / "web" / "console" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        os.utime(path, (at, at))

    def make_console(self, *, with_npm: bool = True) -> subprocess.CompletedProcess[str]:
        self.log.write_text("")
        (self.bin / "npm").unlink(missing_ok=True)
        if with_npm:
            (self.bin / "npm").write_text(FAKE_NPM)
            (self.bin / "npm").chmod(0o755)
        env = {"PATH": str(self.bin), "NPM_LOG": str(self.log), "HOME": str(self.root)}
        return subprocess.run(
            [shutil.which("make") or "make", "--no-print-directory", "-f",
             str(REPO / "Makefile"), "console"],
            cwd=self.root, env=env, capture_output=True, text=True, timeout=60, check=False)

    def npm_calls(self) -> list[str]:
        return self.log.read_text().splitlines()


@pytest.fixture
def checkout(tmp_path: Path) -> ConsoleCheckout:
    """Sources at t=1000, installed packages at t=2000, a build at t=3000: up to date."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("sh", "find", "touch", "mkdir", "cat"):  # all the recipes use but npm
        found = shutil.which(tool)
        assert found is not None, tool
        (tools / tool).symlink_to(found)
    made = ConsoleCheckout(root=tmp_path / "repo", bin=tools, log=tmp_path / "npm.log")
    for source in ("src/main.ts", "src/views/Queue.vue", "index.html", "package.json",
                   "package-lock.json", "vite.config.ts"):
        made.touch(source, 1000)
    made.touch("node_modules/.package-lock.json", 2000)
    made.touch("dist/index.html", 3000)
    return made


def test_make_console_leaves_an_up_to_date_build_alone(checkout: ConsoleCheckout) -> None:
    result = checkout.make_console()
    assert result.returncode == 0, result.stderr
    assert checkout.npm_calls() == []


@pytest.mark.parametrize("changed", ["src/views/Queue.vue", "src/new/Page.vue", "index.html",
                                     "package.json", "vite.config.ts"])
def test_make_console_rebuilds_when_a_source_is_newer_than_the_build(
    checkout: ConsoleCheckout, changed: str
) -> None:
    checkout.touch(changed, 4000)
    result = checkout.make_console()
    assert result.returncode == 0, result.stderr
    assert checkout.npm_calls() == ["run build"]


def test_make_console_builds_what_was_never_built(checkout: ConsoleCheckout) -> None:
    (checkout.root / "web/console/dist/index.html").unlink()
    assert checkout.make_console().returncode == 0
    assert checkout.npm_calls() == ["run build"]
    assert (checkout.root / "web/console/dist/index.html").read_text() == "built\n"


@pytest.mark.parametrize("how", ["lock changed", "never installed"])
def test_make_console_installs_the_locked_packages_first_when_they_changed(
    checkout: ConsoleCheckout, how: str
) -> None:
    if how == "lock changed":
        checkout.touch("package-lock.json", 4000)
    else:
        shutil.rmtree(checkout.root / "web/console/node_modules")
    result = checkout.make_console()
    assert result.returncode == 0, result.stderr
    assert checkout.npm_calls() == ["ci --no-audit --no-fund", "run build"]


def test_make_console_without_npm_says_what_it_needs(checkout: ConsoleCheckout) -> None:
    shutil.rmtree(checkout.root / "web/console/node_modules")
    result = checkout.make_console(with_npm=False)
    assert result.returncode != 0
    assert "needs Node 20 and npm" in result.stdout + result.stderr
