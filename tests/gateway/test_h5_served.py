"""The gateway serves the residents' web pages (web/h5, built by `make h5`) at /h5/, here from
a fake build: under a CSP that allows previews (blob: images and media) and the QR image
(data:) but nothing inline; without a build the operator is told how to build them."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from gateway import create_gateway_app
from gateway.h5_app import H5App, H5Settings
from shared.auth import TokenVerifier
from tests.gateway.gateway_setup import asgi_upstreams, gateway_settings

INDEX = ('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>平安e家</title>'
         '<script type="module" src="/h5/assets/index-Q1w2e3.js"></script></head>'
         '<body><div id="app"></div></body></html>')


def _client(service_apps: dict[str, FastAPI], verifier: TokenVerifier, dist: Path
            ) -> httpx.AsyncClient:
    gateway = create_gateway_app(gateway_settings(), upstreams=asgi_upstreams(service_apps),
                                 verifier=verifier, h5=H5App(H5Settings(dist_dir=dist)))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway),
                             base_url="http://gateway.test")


async def test_the_pages_are_served_under_a_csp_with_previews_and_no_inline_script(
    service_apps: dict[str, FastAPI], verifier: TokenVerifier, tmp_path: Path,
) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX, encoding="utf-8")
    async with _client(service_apps, verifier, tmp_path) as client:
        page = await client.get("/h5/")
        deep_link = await client.get("/h5/cases/42")
    assert page.status_code == 200
    assert deep_link.text == page.text == INDEX
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "img-src 'self' data: blob:" in csp
    assert "media-src 'self' blob:" in csp
    assert "unsafe-eval" not in csp


async def test_without_a_build_the_operator_is_told_to_build_the_pages(
    service_apps: dict[str, FastAPI], verifier: TokenVerifier, tmp_path: Path,
) -> None:
    async with _client(service_apps, verifier, tmp_path / "never-built") as client:
        response = await client.get("/h5/notices")
    assert response.status_code == 503
    assert response.json()["code"] == "h5_app_not_built"
    assert "make h5" in response.json()["detail"]
