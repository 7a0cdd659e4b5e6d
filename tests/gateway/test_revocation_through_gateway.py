"""Revocation reaches every verifier within seconds (issue #15, defect 11): the real identity
and events services behind the real gateway, each process with a verifier of its own, as in
the distributed mode. The gateway and events poll identity's revocation feed (in-process
here, over HTTP there); identity reads its own table. A disabled, re-scoped or logged-out
staff member's access token is refused at the gateway, at a service reached directly with the
gateway's endorsement, and at identity itself — long before the token expires."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway import AsgiUpstream, create_gateway_app
from services.events.app import create_app as create_events
from services.events.settings import Settings as EventsSettings
from services.identity.app import create_app as create_identity
from services.identity.settings import Settings as IdentitySettings
from shared.auth.revocations import HttpRevocationSource
from shared.auth.tokens import ENDORSEMENT_HEADER, SigningKey, TokenEndorser, TokenVerifier
from shared.testing.plugin import AUDIENCE, ISSUER, Migrator, wait_until
from tests.gateway.gateway_setup import gateway_settings

ADMIN_PASSWORD = "bootstrap-admin-password-for-revocation-tests"
PASSWORD = "staff-password-for-revocation-1"
FEED = "http://identity/internal/identity/revocations"
# What "within seconds" means here, on a loaded 2-core machine (a poll every second).
WITHIN = 10.0


@dataclass
class Platform:
    gateway: httpx.AsyncClient
    events: httpx.AsyncClient  # the events service reached directly, not through the gateway
    endorser: TokenEndorser
    admin: dict[str, str]

    def endorsed(self, token: str) -> dict[str, str]:
        """What the gateway sends the service with a token it verified."""
        return {"Authorization": f"Bearer {token}",
                ENDORSEMENT_HEADER: self.endorser.endorse(token)}

    async def staff(self, roles: list[str], regions: list[str]) -> tuple[str, str]:
        """A new staff account: its id and username."""
        username = f"st{uuid.uuid4().hex[:10]}"
        created = await self.gateway.post("/api/v1/identity/staff", headers=self.admin, json={
            "username": username, "password": PASSWORD, "roles": roles, "regions": regions})
        assert created.status_code == 201, created.text
        return created.json()["id"], username

    async def login(self, username: str) -> dict[str, Any]:
        response = await self.gateway.post("/api/v1/identity/staff-login",
                                           json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return response.json()


def _verifier(signing_key: SigningKey, internal_key: str) -> TokenVerifier:
    """A process's own verifier (and so its own revocation list)."""
    return TokenVerifier([signing_key.public_key], issuer=ISSUER, audience=AUDIENCE,
                         endorser=TokenEndorser(internal_key))


@pytest.fixture
def platform(
    migrator: Migrator, run_prefix: str, service_settings: Callable[..., Any],
    signing_key: SigningKey, tmp_path: Path,
) -> Callable[[], Any]:
    @asynccontextmanager
    async def start() -> AsyncIterator[Platform]:
        prefix = f"{run_prefix}v{uuid.uuid4().hex[:5]}"
        await migrator.ensure("identity", "events", prefix=prefix)
        identity_settings = service_settings(
            IdentitySettings, schema_prefix=prefix, bootstrap_admin_password=ADMIN_PASSWORD,
            argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)
        key = identity_settings.internal_api_key
        identity = create_identity(identity_settings, verifier=_verifier(signing_key, key),
                                   signing_key=signing_key)

        def feed(caller: str) -> HttpRevocationSource:
            return HttpRevocationSource(FEED, key, caller=caller,
                                        transport=httpx.ASGITransport(app=identity))

        events = create_events(
            service_settings(EventsSettings, schema_prefix=prefix, amqp_prefix=prefix,
                             attachment_dir=str(tmp_path)),
            verifier=_verifier(signing_key, key), revocation_source=lambda _: feed("events"))
        gateway = create_gateway_app(
            gateway_settings(upstream_timeout_seconds=10.0, max_body_bytes=65536),
            upstreams={"identity": AsgiUpstream("identity", identity, 10.0),
                       "events": AsgiUpstream("events", events, 10.0)},
            verifier=_verifier(signing_key, key), mounted_apps=[identity, events],
            revocation_source=feed("gateway"))
        async with gateway.lifespan(), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gateway), base_url="http://gateway"
        ) as through_gateway, httpx.AsyncClient(
            transport=httpx.ASGITransport(app=events), base_url="http://events"
        ) as direct:
            admin = await through_gateway.post("/api/v1/identity/staff-login", json={
                "username": "admin", "password": ADMIN_PASSWORD})
            assert admin.status_code == 200, admin.text
            yield Platform(through_gateway, direct, TokenEndorser(key),
                           {"Authorization": f"Bearer {admin.json()['access_token']}"})

    return start


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _refused_everywhere(platform: Platform, token: str) -> float:
    """Seconds until the token is refused (401 token_revoked) at the gateway, at events
    reached directly with the gateway's endorsement, and at identity."""
    started = time.monotonic()

    async def refused() -> bool:
        answers = [
            await platform.gateway.get("/api/v1/events", headers=_bearer(token)),
            await platform.events.get("/api/v1/events", headers=platform.endorsed(token)),
            await platform.gateway.get("/api/v1/identity/me", headers=_bearer(token)),
        ]
        return all(a.status_code == 401 and a.json()["code"] == "token_revoked"
                   for a in answers)

    await wait_until(refused, within=WITHIN, interval=0.1)
    return time.monotonic() - started


async def _accepted_everywhere(platform: Platform, token: str) -> None:
    answers = [
        await platform.gateway.get("/api/v1/events", headers=_bearer(token)),
        await platform.events.get("/api/v1/events", headers=platform.endorsed(token)),
        await platform.gateway.get("/api/v1/identity/me", headers=_bearer(token)),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text


async def test_a_disabled_staff_accounts_token_is_refused_everywhere_within_seconds(
    platform: Callable[[], Any],
) -> None:
    async with platform() as p:
        staff_id, username = await p.staff(["admin"], [])
        token = (await p.login(username))["access_token"]
        await _accepted_everywhere(p, token)
        pii_log = await p.gateway.get("/api/v1/identity/admin/pii-access", headers=_bearer(token))
        assert pii_log.status_code == 200, pii_log.text

        disabled = await p.gateway.post(f"/api/v1/identity/staff/{staff_id}/disable",
                                        headers=p.admin)
        assert disabled.status_code == 200, disabled.text
        seconds = await _refused_everywhere(p, token)
        pii_log = await p.gateway.get("/api/v1/identity/admin/pii-access", headers=_bearer(token))

    assert pii_log.status_code == 401
    assert pii_log.json()["code"] == "token_revoked"
    assert seconds < WITHIN  # typically about one poll interval


async def test_a_rescoped_staff_accounts_old_token_is_refused_and_a_new_login_has_the_new_scope(
    platform: Callable[[], Any],
) -> None:
    async with platform() as p:
        staff_id, username = await p.staff(["dispatcher"], ["350626"])
        old = (await p.login(username))["access_token"]
        await _accepted_everywhere(p, old)

        rescoped = await p.gateway.put(f"/api/v1/identity/staff/{staff_id}/scope",
                                       headers=p.admin,
                                       json={"roles": ["dispatcher"], "regions": ["350623"]})
        assert rescoped.status_code == 200, rescoped.text
        await _refused_everywhere(p, old)
        new = await p.login(username)
        await _accepted_everywhere(p, new["access_token"])

    assert new["user"]["regions"] == ["350623"]


async def test_a_logged_out_sessions_token_is_refused_and_the_accounts_other_sessions_are_not(
    platform: Callable[[], Any],
) -> None:
    async with platform() as p:
        _, username = await p.staff(["dispatcher"], ["350626"])
        leaving, staying = await p.login(username), await p.login(username)
        logout = await p.gateway.post("/api/v1/identity/logout",
                                      headers=_bearer(leaving["access_token"]),
                                      json={"refresh_token": leaving["refresh_token"]})
        assert logout.status_code == 204, logout.text
        await _refused_everywhere(p, leaving["access_token"])
        await _accepted_everywhere(p, staying["access_token"])
