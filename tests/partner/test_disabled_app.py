"""A partner app an admin disables in identity is refused within seconds (issue #15, defect
11), although the partner API caches an app's credentials for 30 s: identity's revocation feed
names the app and the cache forgets it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI

from gateway.partner.signing_client import signed_headers
from shared.auth.revocations import HttpRevocationSource
from shared.auth.tokens import SigningKey, TokenVerifier
from shared.testing.plugin import Migrator, running, wait_until
from tests.partner.conftest import Clock
from tests.partner.test_identity_for_partners import ADMIN_PASSWORD, identity_with_admin

FEED = "http://identity/internal/identity/revocations"


async def test_a_disabled_partner_apps_signed_calls_are_refused_within_seconds(
    migrator: Migrator, service_settings: Callable[..., Any], token_verifier: TokenVerifier,
    signing_key: SigningKey, make_partner: Callable[..., FastAPI], clock: Clock,
) -> None:
    identity = await identity_with_admin(migrator, service_settings, token_verifier,
                                         signing_key)
    to_identity = httpx.ASGITransport(app=identity)
    partner = make_partner(credentials_cache_seconds=30, wiring={
        "identity_transport": to_identity,
        "revocation_source": lambda _: HttpRevocationSource(
            FEED, "dev-only-internal-key", caller="partner", transport=to_identity)})
    async with running(identity) as admin_client, running(partner) as client:
        admin = {"Authorization": "Bearer " + (await admin_client.post(
            "/api/v1/identity/staff-login",
            json={"username": "admin", "password": ADMIN_PASSWORD})).json()["access_token"]}
        app = (await admin_client.post("/api/v1/identity/partners", headers=admin, json={
            "name": "芗里芗亲", "scopes": ["webhooks:manage"]})).json()

        async def signed_call() -> httpx.Response:
            headers = signed_headers(app["app_key"], app["secret"], "GET", "/open/v1/webhooks",
                                     "", b"", now=clock().timestamp())
            return await client.get("/open/v1/webhooks", headers=headers)

        before = await signed_call()
        disabled = await admin_client.post(f"/api/v1/identity/partners/{app['id']}/disable",
                                           headers=admin)
        assert disabled.status_code == 200, disabled.text
        started = time.monotonic()

        async def refused() -> bool:
            answer = await signed_call()
            return answer.status_code == 401 and answer.json()["code"] == "app_disabled"

        await wait_until(refused, within=10.0, interval=0.1)
        seconds = time.monotonic() - started

    assert before.status_code == 200, before.text
    assert seconds < 10.0  # not the 30 s the credentials stay cached
