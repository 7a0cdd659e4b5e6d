"""The partner app in a fresh schema, a stand-in identity (internal API only), a stand-in
partner HTTP server that receives webhooks over a real socket, and the platform a partner
reaches through the gateway (events and routing over RabbitMQ)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI, HTTPException

from gateway.app import GatewayApp, create_gateway_app
from gateway.partner.app import create_app as create_partner
from gateway.partner.settings import Settings as PartnerSettings
from gateway.partner.signing_client import signed_headers
from gateway.settings import GatewaySettings
from gateway.upstreams import AsgiUpstream
from services.events.app import create_app as create_events
from services.events.settings import Settings as EventsSettings
from services.routing.app import create_app as create_routing
from services.routing.settings import Settings as RoutingSettings
from shared.auth.tokens import TokenSigner
from shared.testing.plugin import Migrator, running
from tests.events.conftest import START
from tests.events.flows import GRID, Loop, MovableClock, People

APP_A = "pk_app_a"
APP_B = "pk_app_b"
ALL_SCOPES = ["events:submit", "events:read", "webhooks:manage"]


class Clock:
    """Real time plus whatever a test skips ahead (the retry schedule is hours long)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@dataclass
class StandInIdentity:
    """Identity's internal partner endpoints, answering from dictionaries."""

    signer: TokenSigner
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    phones: dict[str, uuid.UUID] = field(default_factory=dict)
    credential_calls: int = 0

    def add_app(self, app_key: str, secret: str, *, scopes: list[str] | None = None,
                regions: list[str] | None = None, callback_hosts: list[str] | None = None
                ) -> None:
        self.apps[app_key] = {
            "app_id": str(uuid.uuid4()), "app_key": app_key, "disabled": False,
            "scopes": ALL_SCOPES if scopes is None else scopes,
            "allowed_regions": [GRID[:6]] if regions is None else regions,
            "callback_hosts": callback_hosts or [],
            "secrets": [{"secret": secret, "expires_at": None}],
        }

    def app(self) -> FastAPI:
        api = FastAPI()

        @api.get("/internal/identity/partners/{app_key}/credentials")
        async def credentials(app_key: str) -> dict[str, Any]:
            self.credential_calls += 1
            if app_key not in self.apps:
                raise HTTPException(404)
            return self.apps[app_key]

        @api.post("/internal/identity/residents/match")
        async def match(body: dict[str, Any]) -> dict[str, Any]:
            user = self.phones.get(body.get("phone") or "")
            if user is None:
                raise HTTPException(404)
            return {"user_id": str(user), "verified": True}

        @api.post("/internal/identity/partner-tokens", status_code=201)
        async def token(body: dict[str, Any]) -> dict[str, Any]:
            return {"access_token": self.signer.access_token(
                subject=uuid.UUID(body["user_id"]), roles=["resident"], verified=True,
                kind="partner", ttl_seconds=300, extra={"partner_app": body["app_key"]}),
                "expires_at": datetime.now(UTC).isoformat()}

        return api


@dataclass
class PartnerServer:
    """A partner's webhook endpoint on a real socket: answers ``fail_first`` attempts with
    500, then 200; records every request."""

    fail_first: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    delay_seconds: float = 0.0
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append({"headers": dict(request.headers), "body": body,
                              "path": request.path, "query": request.query_string,
                              "raw_path": request.raw_path.partition("?")[0]})
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if len(self.received) <= self.fail_first:
            return web.Response(status=500, text="not yet")
        return web.Response(status=200, text="ok")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/ehome?tenant=1"

    def delivery_ids(self) -> list[str]:
        return [r["headers"]["X-Delivery-Id"] for r in self.received]


@asynccontextmanager
async def partner_server(**options: Any) -> AsyncIterator[PartnerServer]:
    server = PartnerServer(**options)
    app = web.Application()
    app.router.add_post("/hooks/ehome", server.handle)
    app.router.add_post("/hooks/{tail}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    # Port 0 above: the port the OS chose is the one listed address of the started server.
    [port] = {address[1] for address in runner.addresses}
    server.port = port
    try:
        yield server
    finally:
        await runner.cleanup()


@dataclass
class Signer:
    """Signs open-API calls the way a partner does (with the shipped signing client)."""

    client: httpx.AsyncClient
    clock: Clock
    app_key: str
    secret: str

    async def call(self, method: str, path: str, payload: Any = None, *,
                   headers: dict[str, str] | None = None, nonce: str | None = None,
                   at: float | None = None, secret: str | None = None) -> httpx.Response:
        import json as _json

        body = b"" if payload is None else _json.dumps(payload).encode()
        bare, _, query = path.partition("?")
        signed = signed_headers(self.app_key, secret or self.secret, method, bare, query, body,
                                now=self.clock().timestamp() if at is None else at, nonce=nonce)
        if body:
            signed["Content-Type"] = "application/json"
        signed |= headers or {}
        return await self.client.request(method, path, content=body or None, headers=signed)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def identity(token_signer: TokenSigner) -> StandInIdentity:
    stand_in = StandInIdentity(signer=token_signer)
    stand_in.add_app(APP_A, "secret-a-" + uuid.uuid4().hex)
    stand_in.add_app(APP_B, "secret-b-" + uuid.uuid4().hex)
    return stand_in


@pytest.fixture
async def partner_prefix(migrator: Migrator, run_prefix: str) -> AsyncIterator[str]:
    prefix = f"{run_prefix}p{uuid.uuid4().hex[:6]}"
    await migrator.ensure("partner", prefix=prefix)
    yield prefix
    migrator.release(prefix)


@pytest.fixture
def make_partner(
    service_settings: Callable[..., Any], token_verifier: Any, identity: StandInIdentity,
    clock: Clock, partner_prefix: str,
) -> Callable[..., FastAPI]:
    def build(*, events_app: FastAPI | None = None, wiring: dict[str, Any] | None = None,
              **overrides: Any) -> FastAPI:
        values: dict[str, Any] = {
            "schema_prefix": partner_prefix, "amqp_prefix": partner_prefix,
            "allow_private_callbacks": True,
            "callback_hosts": {APP_A: ["127.0.0.1"], APP_B: ["127.0.0.1"]},
            "delivery_poll_seconds": 0.05, "credentials_cache_seconds": 0,
        }
        values.update(overrides)
        extra: dict[str, Any] = {
            "verifier": token_verifier, "clock": clock,
            "identity_transport": httpx.ASGITransport(app=identity.app()),
        }
        if events_app is not None:
            extra["events_transport"] = httpx.ASGITransport(app=events_app)
        extra.update(wiring or {})
        return create_partner(service_settings(PartnerSettings, **values), **extra)

    return build


def signer_for(client: httpx.AsyncClient, clock: Clock, identity: StandInIdentity,
               app_key: str) -> Signer:
    return Signer(client, clock, app_key, identity.apps[app_key]["secrets"][0]["secret"])


@dataclass
class Platform:
    gateway: httpx.AsyncClient  # in-process, to the gateway below
    loop: Loop
    partner_app: FastAPI
    gateway_app: GatewayApp  # to serve on a socket, for clients of their own (Open311)


@pytest.fixture
async def platform(
    migrator: Migrator, run_prefix: str, amqp_url: str, service_settings: Callable[..., Any],
    token_verifier: Any, make_token: Callable[..., str], make_partner: Callable[..., FastAPI],
    tmp_path: Any,
) -> AsyncIterator[Platform]:
    prefix = f"{run_prefix}{uuid.uuid4().hex[:6]}"
    await migrator.ensure("events", "routing", "partner", prefix=prefix)
    bus: dict[str, Any] = {"schema_prefix": prefix, "amqp_prefix": prefix,
                           "broker": "rabbitmq", "amqp_url": amqp_url,
                           "outbox_poll_seconds": 0.2}
    service_clock = MovableClock(START)
    events_app = create_events(
        service_settings(EventsSettings, attachment_dir=str(tmp_path), **bus),
        verifier=token_verifier, clock=service_clock)
    routing_app = create_routing(
        service_settings(RoutingSettings, timer_scan_seconds=0.1, **bus),
        verifier=token_verifier, clock=service_clock)
    partner_app = make_partner(events_app=events_app, **bus)
    gateway = create_gateway_app(
        GatewaySettings(log_json=True),
        upstreams={"events": AsgiUpstream("events", events_app),
                   "routing": AsgiUpstream("routing", routing_app)},
        verifier=token_verifier, partner_upstream=AsgiUpstream("partner", partner_app))
    async with AsyncExitStack() as stack:
        events = await stack.enter_async_context(running(events_app))
        routing = await stack.enter_async_context(running(routing_app))
        await stack.enter_async_context(running(partner_app))
        await stack.enter_async_context(gateway.lifespan())
        client = await stack.enter_async_context(httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gateway), base_url="http://gateway"))
        yield Platform(gateway=client, partner_app=partner_app, gateway_app=gateway,
                       loop=Loop(events=events, routing=routing, people=People(make_token)))
    migrator.release(prefix)
