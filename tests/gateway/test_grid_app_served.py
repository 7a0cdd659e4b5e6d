"""The gateway serves the grid workers' app (web/grid, built by `make grid`) at /grid/ beside
the console, here from a fake build in a temporary directory: its service worker is revalidated
on every load so a new build reaches phones, the CSP lets that worker run and nothing inline,
hashed assets are kept for a year, deep links answer the app's page, and without a build the
operator is told how to build it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gateway import GatewayApp, create_gateway_app
from gateway.console import Console, ConsoleSettings
from gateway.grid_app import GridApp, GridSettings
from shared.auth import TokenVerifier
from tests.gateway.gateway_setup import asgi_upstreams, call_raw, gateway_settings

INDEX = (
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>网格通</title>'
    '<script type="module" src="/grid/assets/index-G7h2Kq.js"></script>'
    '<link rel="manifest" href="/grid/manifest.webmanifest"></head>'
    '<body><div id="app"></div></body></html>'
)
WORKER = "const PRECACHE = ['/grid/', '/grid/assets/index-G7h2Kq.js'];\n" * 40
MANIFEST = '{"name": "网格通", "start_url": "/grid/", "scope": "/grid/"}'
YEAR = "public, max-age=31536000, immutable"


@pytest.fixture
def grid_dist(tmp_path: Path) -> Path:
    root = tmp_path / "grid-dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX, encoding="utf-8")
    (root / "sw.js").write_text(WORKER)
    (root / "manifest.webmanifest").write_text(MANIFEST, encoding="utf-8")
    (root / "assets" / "index-G7h2Kq.js").write_text("export const app = 1;\n" * 100)
    return root


@pytest.fixture
def grid_gateway(
    service_apps: dict[str, FastAPI], verifier: TokenVerifier, tmp_path: Path
) -> Callable[[Path], GatewayApp]:
    """``grid_gateway(dist_dir)``: a gateway serving that grid build (and no console)."""

    def build(dist_dir: Path) -> GatewayApp:
        return create_gateway_app(
            gateway_settings(), upstreams=asgi_upstreams(service_apps), verifier=verifier,
            console=Console(ConsoleSettings(dist_dir=tmp_path / "no-console")),
            grid=GridApp(GridSettings(dist_dir=dist_dir)))

    return build


@pytest.fixture
async def phone(
    grid_gateway: Callable[[Path], GatewayApp], grid_dist: Path
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=grid_gateway(grid_dist))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
        yield c


def assert_guarded(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "worker-src 'self'" in csp
    assert "unsafe-eval" not in csp
    assert "default-src 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_app_page_is_served_revalidated_under_a_csp_that_allows_its_worker(
    phone: httpx.AsyncClient,
) -> None:
    response = await phone.get("/grid/")
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-request-id"]
    assert_guarded(response)


async def test_the_service_worker_is_revalidated_so_a_new_build_reaches_phones(
    phone: httpx.AsyncClient,
) -> None:
    response = await phone.get("/grid/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.text == WORKER
    assert_guarded(response)
    manifest = await phone.get("/grid/manifest.webmanifest")
    assert manifest.headers["content-type"] == "application/manifest+json"
    assert manifest.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_kept_for_a_year(phone: httpx.AsyncClient) -> None:
    response = await phone.get("/grid/assets/index-G7h2Kq.js")
    assert response.status_code == 200
    assert response.headers["cache-control"] == YEAR
    assert (await phone.get("/grid/assets/gone-000000.js")).status_code == 404


async def test_a_deep_link_answers_the_app_page(phone: httpx.AsyncClient) -> None:
    for path in ("/grid/tasks", "/grid/tasks/0b9d6c1e-4f1a-4d8e-9c53-1f2a3b4c5d6e",
                 "/grid/outbox?x=1"):
        response = await phone.get(path)
        assert response.status_code == 200, path
        assert response.text == INDEX
    redirect = await phone.get("/grid")
    assert redirect.status_code == 308
    assert redirect.headers["location"] == "/grid/"


async def test_the_app_takes_no_writes_and_nothing_outside_its_build(
    phone: httpx.AsyncClient,
) -> None:
    written = await phone.post("/grid/tasks")
    assert written.status_code == 405
    assert written.headers["allow"] == "GET, HEAD"
    assert (await phone.get("/grid/..%2F..%2Fsecret.txt")).status_code == 404
    assert (await phone.get("/gridiron")).status_code == 404


async def test_without_a_build_the_operator_is_told_to_build_it(
    grid_gateway: Callable[[Path], GatewayApp], tmp_path: Path
) -> None:
    transport = httpx.ASGITransport(app=grid_gateway(tmp_path / "never-built"))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        for path in ("/grid/", "/grid/tasks", "/grid/sw.js"):
            response = await client.get(path)
            assert response.status_code == 503
            assert response.json()["code"] == "grid_app_not_built"
            assert "make grid" in response.json()["detail"]
            assert response.headers["cache-control"] == "no-store"
        # The console is its own mount: its own (missing) build, its own code.
        console = await client.get("/console/")
        assert console.json()["code"] == "console_not_built"


async def test_the_build_directory_comes_from_the_environment(
    service_apps: dict[str, FastAPI], verifier: TokenVerifier, grid_dist: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EHOME_GRID_DIST_DIR", str(grid_dist))
    gateway = create_gateway_app(gateway_settings(), upstreams=asgi_upstreams(service_apps),
                                 verifier=verifier)
    assert (await call_raw(gateway, "GET", "/grid/", [])).body.decode() == INDEX
