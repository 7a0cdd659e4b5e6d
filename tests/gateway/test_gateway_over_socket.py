"""The gateway served by uvicorn on a real socket, in front of services on real sockets:
what a mini-program client sees on the wire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway import SERVICES, create_gateway_app
from shared.auth import TokenVerifier
from shared.testing.live_server import serving
from tests.gateway.gateway_assertions import assert_problem
from tests.gateway.gateway_setup import MAX_BODY, UPSTREAM_TIMEOUT, gateway_settings, http_upstreams


@pytest.fixture(scope="module")
async def gateway_url(service_urls: dict[str, str], verifier: TokenVerifier) -> AsyncIterator[str]:
    app = create_gateway_app(
        gateway_settings(), upstreams=http_upstreams(service_urls), verifier=verifier
    )
    async with serving(app, lifespan="on") as url:
        yield url


@pytest.fixture
async def wire(gateway_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=5.0) as client:
        yield client


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_is_reached_over_the_wire(
    wire: httpx.AsyncClient, auth: dict[str, str], service: str
) -> None:
    response = await wire.get(f"/api/v1/{service}/whoami", headers=auth)
    assert response.status_code == 200
    assert response.json() == {"service": service}


async def test_declared_oversize_body_is_refused_before_it_is_sent(gateway_url: str) -> None:
    """Only the headers go out; the 413 must come back without the body ever being sent."""
    host, port = gateway_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            b"POST /api/v1/events/echo HTTP/1.1\r\n"
            b"Host: gateway.test\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {MAX_BODY * 1000}\r\n\r\n".encode()
        )
        await writer.drain()
        async with asyncio.timeout(3):
            status_line = await reader.readline()
            head = await reader.readuntil(b"\r\n\r\n")
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 413"), status_line
    assert b"content-type: application/problem+json" in head.lower()


async def test_chunked_oversize_body_is_refused_over_the_wire(
    wire: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"z" * 512

    response = await wire.post("/api/v1/relief/echo", content=chunks(), headers=auth)
    assert_problem(response, 413, "payload_too_large")


async def test_chunked_body_within_the_limit_arrives_whole(
    wire: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"alpha-", b"beta-", b"gamma"):
            yield part

    response = await wire.post("/api/v1/relief/echo", content=chunks(), headers=auth)
    assert response.json()["body"] == "alpha-beta-gamma"


async def test_request_id_round_trip_over_the_wire(
    wire: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await wire.get("/api/v1/routing/echo", headers={**auth, "X-Request-ID": "wire-1"})
    assert response.headers["x-request-id"] == "wire-1"
    assert dict(response.json()["headers"])["x-request-id"] == "wire-1"


async def test_hop_by_hop_headers_stop_at_the_gateway_over_the_wire(
    wire: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    sent = await wire.get(
        "/api/v1/routing/echo",
        headers={**auth, "Connection": "X-Client-Private", "X-Client-Private": "secret"},
    )
    assert "x-client-private" not in dict(sent.json()["headers"])
    received = await wire.get("/api/v1/routing/hop-by-hop", headers=auth)
    assert "x-upstream-private" not in received.headers
    assert "proxy-authenticate" not in received.headers
    assert received.headers.get("keep-alive") != "timeout=99"
    assert received.headers["x-upstream-public"] == "kept"


async def test_slow_service_is_504_over_the_wire(
    wire: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await wire.get(
        "/api/v1/events/slow", params={"seconds": UPSTREAM_TIMEOUT * 3}, headers=auth
    )
    assert_problem(response, 504, "upstream_timeout")


async def test_missing_token_is_401_over_the_wire(wire: httpx.AsyncClient) -> None:
    assert_problem(await wire.get("/api/v1/booking/whoami"), 401, "token_missing")
