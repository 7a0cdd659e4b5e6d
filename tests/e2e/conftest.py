"""The whole platform in one test process: every service app and the partner app behind the
real gateway, each service with its own RabbitMQ connection, on schemas and queue names of
its own. Requests go through the gateway exactly as the mini-program's would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from gateway.embedded import assemble_gateway, build_service_apps
from gateway.settings import GatewaySettings
from shared.auth.tokens import SigningKey, TokenVerifier
from shared.db.migrate import SERVICES
from shared.testing.plugin import Migrator, wait_until
from tests.relief.conftest import MovableClock


@dataclass
class Platform:
    client: httpx.AsyncClient
    relief_clock: MovableClock
    prefix: str


@pytest.fixture
async def platform(
    amqp_url: str,
    database_url: str,
    migrator: Migrator,
    run_prefix: str,
    signing_key: SigningKey,
    token_verifier: TokenVerifier,
) -> AsyncIterator[Platform]:
    prefix = f"{run_prefix}e{uuid.uuid4().hex[:5]}"
    await migrator.ensure(*SERVICES, "partner", prefix=prefix)
    relief_clock = MovableClock()
    apps = build_service_apps(
        database_url=database_url,
        amqp_url=amqp_url,
        signing_key=signing_key,
        verifier=token_verifier,
        settings_overrides={
            "environment": "test",
            "schema_prefix": prefix,
            "amqp_prefix": prefix,
            "outbox_poll_seconds": 0.2,
        },
        wiring_overrides={"relief": {"clock": relief_clock}},
    )
    settings = GatewaySettings(rate_limit_per_second=1000, rate_limit_burst=1000)
    gateway = assemble_gateway(settings, apps, token_verifier)
    async with (
        gateway.lifespan(),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gateway), base_url="http://gateway"
        ) as client,
    ):
        yield Platform(client=client, relief_clock=relief_clock, prefix=prefix)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()


async def report_once_regions_are_known(client: httpx.AsyncClient, token: str,
                                        body: dict[str, Any]) -> str:
    """Report an event, retried while events has not yet learnt the region (routing's seed
    and new regions reach it as messages); the new case's id."""
    created: dict[str, Any] = {}

    async def reported() -> bool:
        response = await client.post("/api/v1/events", json=body, headers=bearer(token))
        if response.status_code == 422 and response.json().get("code") == "region_unknown":
            return False
        created.update(ok(response, 201))
        return True

    await wait_until(reported, within=15)
    return str(created["id"])
