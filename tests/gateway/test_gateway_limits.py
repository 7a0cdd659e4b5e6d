"""Body size and request rate limits."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from gateway import GatewayApp, create_gateway_app
from gateway.ratelimit import RateLimiter
from shared.auth import TokenSigner, TokenVerifier
from tests.gateway.gateway_assertions import assert_problem
from tests.gateway.gateway_setup import MAX_BODY, asgi_upstreams, gateway_settings


async def test_declared_body_over_the_limit_is_refused_with_413(
    client: httpx.AsyncClient, auth: dict[str, str], service_apps: dict[str, FastAPI]
) -> None:
    request_id = f"big-{uuid.uuid4().hex}"
    response = await client.post(
        "/api/v1/events/echo",
        content=b"x" * (MAX_BODY + 1),
        headers={**auth, "X-Request-ID": request_id},
    )
    assert_problem(response, 413, "payload_too_large")
    assert request_id not in service_apps["events"].state.seen


async def test_chunked_body_over_the_limit_is_refused_with_413(
    client: httpx.AsyncClient, auth: dict[str, str], service_apps: dict[str, FastAPI]
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"y" * (MAX_BODY // 2)

    request_id = f"chunked-{uuid.uuid4().hex}"
    response = await client.post(
        "/api/v1/events/echo", content=chunks(), headers={**auth, "X-Request-ID": request_id}
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413, "payload_too_large")
    assert request_id not in service_apps["events"].state.seen


async def test_body_within_the_limit_reaches_the_service_intact(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield "分".encode() * 100
        yield b"tail"

    response = await client.put("/api/v1/feedback/echo", content=chunks(), headers=auth)
    echoed = response.json()
    expected = "分".encode() * 100 + b"tail"
    assert echoed["body_length"] == len(expected)
    assert hashlib.sha256(echoed["body"].encode()).digest() == hashlib.sha256(expected).digest()


async def test_burst_exhausted_is_429_with_retry_after(
    service_apps: dict[str, FastAPI],
    verifier: TokenVerifier,
    signer: TokenSigner,
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    settings = gateway_settings(rate_limit_per_second=0.5, rate_limit_burst=3)
    app = create_gateway_app(settings, upstreams=asgi_upstreams(service_apps), verifier=verifier)
    greedy = {"Authorization": f"Bearer {signer.access_token(subject=uuid.uuid4(), roles=[])}"}
    other = {"Authorization": f"Bearer {signer.access_token(subject=uuid.uuid4(), roles=[])}"}
    async with app.lifespan(), make_client(app) as client:
        for _ in range(3):
            assert (await client.get("/api/v1/events/whoami", headers=greedy)).status_code == 200
        refused = await client.get("/api/v1/events/whoami", headers=greedy)
        # Another resident behind the same address has a bucket of their own.
        unaffected = await client.get("/api/v1/events/whoami", headers=other)

    assert_problem(refused, 429, "rate_limited")
    retry_after = int(refused.headers["retry-after"])
    assert retry_after >= 1
    assert retry_after == 2  # one token at 0.5 tokens/s
    assert unaffected.status_code == 200


async def test_anonymous_callers_are_limited_per_address(
    service_apps: dict[str, FastAPI],
    verifier: TokenVerifier,
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    settings = gateway_settings(rate_limit_per_second=1.0, rate_limit_burst=2)
    app: GatewayApp = create_gateway_app(
        settings, upstreams=asgi_upstreams(service_apps), verifier=verifier
    )
    async with app.lifespan():
        async with make_client(app, "192.0.2.1") as first:
            statuses = [
                (await first.get("/api/v1/events/categories")).status_code for _ in range(3)
            ]
        async with make_client(app, "192.0.2.2") as second:
            elsewhere = await second.get("/api/v1/events/categories")
    assert statuses == [200, 200, 429]
    assert elsewhere.status_code == 200


async def test_bad_tokens_are_throttled_per_address(
    service_apps: dict[str, FastAPI],
    verifier: TokenVerifier,
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    settings = gateway_settings(rate_limit_per_second=1.0, rate_limit_burst=2)
    app = create_gateway_app(settings, upstreams=asgi_upstreams(service_apps), verifier=verifier)
    bad = {"Authorization": "Bearer not-a-jwt"}
    async with app.lifespan(), make_client(app) as client:
        statuses = [
            (await client.get("/api/v1/events/whoami", headers=bad)).status_code for _ in range(3)
        ]
    assert statuses == [401, 401, 429]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_refills_at_the_configured_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_second=2.0, burst=2, clock=clock)
    assert limiter.take("a").allowed
    assert limiter.take("a").allowed
    refused = limiter.take("a")
    assert not refused.allowed
    assert refused.retry_after_seconds == 1
    clock.now += 0.5  # one token at 2 tokens/s
    assert limiter.take("a").allowed
    assert not limiter.take("a").allowed


def test_idle_buckets_are_evicted() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_second=10.0, burst=10, clock=clock)
    for n in range(1000):
        limiter.take(f"client-{n}")
    assert len(limiter) == 1000
    clock.now += 1.0  # burst / rate: every bucket has refilled, so none carries state
    limiter.take("newcomer")
    assert len(limiter) == 1


def test_bucket_map_never_exceeds_its_bound() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_second=1.0, burst=5, max_clients=100, clock=clock)
    for n in range(10_000):
        limiter.take(f"client-{n}")
        clock.now += 0.0001
    assert len(limiter) <= 100


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (1.0, 0)])
def test_limiter_rejects_nonsense_settings(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="rate_per_second"):
        RateLimiter(rate_per_second=rate, burst=burst)


async def test_anonymous_limit_can_differ_from_the_per_principal_limit(
    service_apps: dict[str, FastAPI],
    verifier: TokenVerifier,
    auth: dict[str, str],
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    settings = gateway_settings(
        rate_limit_per_second=100.0,
        rate_limit_burst=100,
        anonymous_rate_limit_per_second=0.1,
        anonymous_rate_limit_burst=1,
    )
    app = create_gateway_app(settings, upstreams=asgi_upstreams(service_apps), verifier=verifier)
    async with app.lifespan(), make_client(app) as client:
        anonymous = [(await client.get("/api/v1/routing/regions")).status_code for _ in range(2)]
        signed_in = [
            (await client.get("/api/v1/routing/whoami", headers=auth)).status_code for _ in range(5)
        ]
    assert anonymous[0] != 429  # reached routing (which has no such stand-in route)
    assert anonymous[1] == 429
    assert signed_in == [200] * 5


async def test_a_service_at_its_in_flight_limit_is_refused_at_the_door(
    service_apps: dict[str, FastAPI],
    verifier: TokenVerifier,
    make_client: Callable[[GatewayApp], httpx.AsyncClient],
    auth: dict[str, str],
) -> None:
    settings = gateway_settings(upstream_max_in_flight={"relief": 2})
    app = create_gateway_app(settings, upstreams=asgi_upstreams(service_apps), verifier=verifier)
    async with app.lifespan(), make_client(app) as client:
        holding = [
            asyncio.create_task(client.get("/api/v1/relief/slow?seconds=0.3", headers=auth))
            for _ in range(2)
        ]
        await asyncio.sleep(0.1)
        # Refused before the token is even looked at: a bad one gets the same 503, not 401.
        turned_away = await client.get(
            "/api/v1/relief/whoami", headers={"Authorization": "Bearer not.a.token"}
        )
        elsewhere = await client.get("/api/v1/events/whoami", headers=auth)
        held = await asyncio.gather(*holding)
        afterwards = await client.get("/api/v1/relief/whoami", headers=auth)
    assert_problem(turned_away, 503, "overloaded")
    assert turned_away.headers["retry-after"] == "1"
    assert elsewhere.status_code == 200
    assert [r.status_code for r in held] == [200, 200]
    assert afterwards.status_code == 200


def test_in_flight_limits_name_known_services_and_are_positive() -> None:
    with pytest.raises(ValueError, match="unknown service"):
        gateway_settings(upstream_max_in_flight={"bookings": 10})
    with pytest.raises(ValueError, match="at least 1"):
        gateway_settings(upstream_max_in_flight={"booking": 0})
