"""Gateway fixtures: stand-in services reached in-process (AsgiUpstream) and over real HTTP
(HttpUpstream), token keys, and a gateway per mode. Nothing here needs a database or broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import httpx
import pytest
from fastapi import FastAPI

from gateway import SERVICES, GatewayApp, create_gateway_app
from shared.auth import SigningKey, TokenSigner, TokenVerifier, generate_signing_key
from shared.testing.live_server import serving
from tests.gateway.gateway_setup import (
    AUDIENCE,
    ISSUER,
    asgi_upstreams,
    gateway_settings,
    http_upstreams,
)
from tests.gateway.stand_in_services import create_stand_in


@pytest.fixture(scope="session")
def issuer_key() -> SigningKey:
    return generate_signing_key()


@pytest.fixture(scope="session")
def signer(issuer_key: SigningKey) -> TokenSigner:
    return TokenSigner(issuer_key, issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture(scope="session")
def stranger_signer() -> TokenSigner:
    """Same issuer and audience, but a key the platform never published."""
    return TokenSigner(generate_signing_key(), issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture(scope="session")
def verifier(issuer_key: SigningKey) -> TokenVerifier:
    return TokenVerifier([issuer_key.public_key], issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture
def token(signer: TokenSigner) -> str:
    """A fresh resident's token: each test gets its own subject, hence its own rate bucket."""
    return signer.access_token(subject=uuid.uuid4(), roles=["resident"])


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def service_apps() -> dict[str, FastAPI]:
    return {name: create_stand_in(name) for name in SERVICES}


@pytest.fixture(scope="session")
async def service_urls(service_apps: dict[str, FastAPI]) -> AsyncIterator[dict[str, str]]:
    """Every stand-in served by its own uvicorn on 127.0.0.1."""
    async with AsyncExitStack() as stack:
        urls = {
            name: await stack.enter_async_context(serving(app))
            for name, app in service_apps.items()
        }
        yield urls


@pytest.fixture(scope="session", params=["asgi", "http"])
async def gateway(
    request: pytest.FixtureRequest,
    service_apps: dict[str, FastAPI],
    service_urls: dict[str, str],
    verifier: TokenVerifier,
) -> AsyncIterator[GatewayApp]:
    """The gateway in front of all six stand-ins, in-process (embedded mode) or over HTTP."""
    if request.param == "asgi":
        upstreams = asgi_upstreams(service_apps)
    else:
        upstreams = http_upstreams(service_urls)
    app = create_gateway_app(gateway_settings(), upstreams=upstreams, verifier=verifier)
    async with app.lifespan():
        yield app


@pytest.fixture
async def client(gateway: GatewayApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=gateway, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
        yield c


@pytest.fixture
def make_client() -> Callable[[GatewayApp], httpx.AsyncClient]:
    """A client for a gateway built inside a test (remember ``async with`` it)."""

    def make(app: GatewayApp, client_ip: str = "198.51.100.9") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://gateway.test")

    return make
