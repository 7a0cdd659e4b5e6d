"""What the caller sees when a service is slow, down, broken, or says no."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import structlog
from starlette.types import Receive, Scope, Send

from gateway import AsgiUpstream, GatewayApp, create_gateway_app
from gateway.upstreams import HttpUpstream, UpstreamTimeout
from shared.auth import TokenVerifier
from shared.testing.live_server import closed_port
from tests.gateway.gateway_assertions import assert_problem
from tests.gateway.gateway_setup import UPSTREAM_TIMEOUT, gateway_settings, http_upstreams


async def test_closed_upstream_port_is_503_upstream_unavailable(
    verifier: TokenVerifier, auth: dict[str, str], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    upstreams = http_upstreams({"events": f"http://127.0.0.1:{closed_port()}"})
    app = create_gateway_app(gateway_settings(), upstreams=upstreams, verifier=verifier)
    async with app.lifespan(), make_client(app) as client:
        response = await client.get("/api/v1/events/whoami", headers=auth)
    assert_problem(response, 503, "upstream_unavailable")


async def test_upstream_slower_than_the_timeout_is_504_upstream_timeout(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.get(
        "/api/v1/booking/slow", params={"seconds": UPSTREAM_TIMEOUT * 4}, headers=auth
    )
    assert_problem(response, 504, "upstream_timeout")


async def test_upstream_just_within_the_timeout_answers(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.get("/api/v1/booking/slow", params={"seconds": 0.05}, headers=auth)
    assert response.status_code == 200


async def test_upstream_problem_json_is_passed_through_unchanged(
    client: httpx.AsyncClient, auth: dict[str, str], gateway: GatewayApp
) -> None:
    upstream = gateway.proxy._upstreams["booking"]
    direct = await upstream.send("GET", "/api/v1/booking/problem", [], b"")

    response = await client.get("/api/v1/booking/problem", headers=auth)

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.content == direct.body
    assert response.json()["code"] == "already_booked"


async def test_embedded_service_that_crashes_without_answering_is_502(
    verifier: TokenVerifier, auth: dict[str, str], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    upstreams = {"relief": AsgiUpstream("relief", broken, timeout=1.0)}
    app = create_gateway_app(gateway_settings(), upstreams=upstreams, verifier=verifier)
    async with app.lifespan(), make_client(app) as client:
        response = await client.get("/api/v1/relief/anything", headers=auth)
    assert_problem(response, 502, "bad_gateway")


async def test_http_upstream_timeout_is_raised_as_upstream_timeout(
    service_urls: dict[str, str],
) -> None:
    upstream = HttpUpstream("routing", service_urls["routing"], timeout=0.2)
    await upstream.start()
    try:
        with pytest.raises(UpstreamTimeout):
            await upstream.send("GET", "/api/v1/routing/slow?seconds=1", [], b"")
    finally:
        await upstream.close()


async def test_embedded_service_context_does_not_leak_into_the_gateway() -> None:
    async def binds_its_own_context(scope: Scope, receive: Receive, send: Send) -> None:
        structlog.contextvars.bind_contextvars(service="relief")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    structlog.contextvars.bind_contextvars(service="gateway")
    try:
        answer = await AsgiUpstream("relief", binds_its_own_context).send("GET", "/x", [], b"")
        assert answer.status == 204
        assert structlog.contextvars.get_contextvars()["service"] == "gateway"
    finally:
        structlog.contextvars.unbind_contextvars("service")


async def test_embedded_service_sees_the_callers_address() -> None:
    seen: list[object] = []

    async def records_client(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["client"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    headers = [(b"x-forwarded-for", b"10.0.0.1, 203.0.113.7")]
    await AsgiUpstream("relief", records_client).send("GET", "/x", headers, b"")
    assert seen == [("203.0.113.7", 0)]


async def test_unavailable_upstream_does_not_reveal_its_address(
    verifier: TokenVerifier, auth: dict[str, str], make_client: Callable[..., httpx.AsyncClient]
) -> None:
    port = closed_port()
    upstreams = http_upstreams({"booking": f"http://127.0.0.1:{port}"})
    app = create_gateway_app(gateway_settings(), upstreams=upstreams, verifier=verifier)
    async with app.lifespan(), make_client(app) as client:
        response = await client.get("/api/v1/booking/whoami", headers=auth)
    body = assert_problem(response, 503, "upstream_unavailable")
    assert str(port) not in response.text
    assert "127.0.0.1" not in response.text
    assert body["detail"] == "the booking service is unavailable; retry later"
