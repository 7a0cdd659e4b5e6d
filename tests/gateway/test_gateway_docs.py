"""Swagger UI works without the internet: the gateway's /docs and every service's own load
only same-origin files, each of which is served, and a CSP forbids any other origin."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from shared.auth import TokenVerifier
from shared.settings import ServiceSettings
from shared.web import create_service_app

_REFERENCE = re.compile(r"""(?:src|href|data-openapi-url)\s*=\s*["']([^"']+)["']""")
_EXPECTED_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}


@pytest.fixture
async def service_client(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    settings = ServiceSettings(
        environment="test", database_url="postgresql://unused@127.0.0.1:1/none", broker="memory"
    )
    app = create_service_app(settings, title="Ping'an e-Home events", verifier=verifier)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://events.test") as client:
        yield client


async def _assert_docs_are_self_contained(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    references = _REFERENCE.findall(page.text)
    assert references, page.text
    # Same origin only: a path, never a scheme or a network-path reference ("//host/...").
    outside = [url for url in references if not url.startswith("/") or url.startswith("//")]
    assert outside == [], outside
    assert "<script>" not in page.text  # no inline script: the CSP can forbid them
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "http" not in policy
    assert "*" not in policy
    for url in references:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rfind(".") :]
        assert asset.headers["content-type"].startswith(_EXPECTED_TYPES[suffix]), url
        assert asset.content
    bundle = await client.get(next(url for url in references if url.endswith("bundle.js")))
    assert b"SwaggerUIBundle" in bundle.content


async def test_gateway_docs_load_nothing_from_outside(client: httpx.AsyncClient) -> None:
    await _assert_docs_are_self_contained(client)


async def test_a_services_own_docs_load_nothing_from_outside(
    service_client: httpx.AsyncClient,
) -> None:
    await _assert_docs_are_self_contained(service_client)


async def test_only_the_shipped_files_are_served_as_docs_assets(
    client: httpx.AsyncClient,
) -> None:
    for name in ("redoc.standalone.js", "..%2F__init__.py", "core.py"):
        response = await client.get(f"/docs/assets/{name}")
        assert response.status_code == 404, name
