"""Identity's internal endpoints for the partner app, on the real identity service: a
partner's user is matched through the blind index, an on-behalf token is issued, and the
callback hosts an admin allows an app are the ones the partner app lets it subscribe."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI

from gateway.partner.signing_client import signed_headers
from services.identity.app import create_app as create_identity
from services.identity.settings import Settings as IdentitySettings
from shared.auth.internal import internal_headers
from shared.auth.tokens import SigningKey, TokenVerifier
from shared.testing.plugin import Migrator, running
from tests.identity.conftest import unique_id_number
from tests.partner.conftest import Clock

ADMIN_PASSWORD = "bootstrap-admin-password-for-partner-tests"
INTERNAL = internal_headers("dev-only-internal-key", "partner")


async def identity_with_admin(
    migrator: Migrator, service_settings: Callable[..., Any], token_verifier: TokenVerifier,
    signing_key: SigningKey,
) -> FastAPI:
    """The real identity service on a schema of its own: the bootstrap admin is created once
    per schema, and another test may already have created it with another password in the
    run's shared one."""
    prefix = f"{migrator.prefix}p{uuid.uuid4().hex[:5]}"
    await migrator.ensure("identity", prefix=prefix)
    settings = service_settings(IdentitySettings, schema_prefix=prefix,
                                bootstrap_admin_password=ADMIN_PASSWORD,
                                argon2_time_cost=1, argon2_memory_kib=1024,
                                argon2_parallelism=1)
    return create_identity(settings, verifier=token_verifier, signing_key=signing_key)


async def test_a_partner_user_is_matched_by_phone_and_acted_for_with_a_partner_token(
    migrator: Migrator, service_settings: Callable[..., Any], token_verifier: TokenVerifier,
    signing_key: SigningKey,
) -> None:
    app = await identity_with_admin(migrator, service_settings, token_verifier, signing_key)
    phone = f"137{uuid.uuid4().int % 10**8:08d}"
    async with running(app) as client:
        login = (await client.post("/api/v1/identity/wechat-login",
                                   json={"code": f"sandbox:o{uuid.uuid4().hex}"})).json()
        bound = await client.post("/api/v1/identity/me/phone",
                                  json={"code": f"sandbox-phone:{phone}"},
                                  headers={"Authorization": f"Bearer {login['access_token']}"})
        assert bound.status_code == 200, bound.text
        admin = (await client.post("/api/v1/identity/staff-login", json={
            "username": "admin", "password": ADMIN_PASSWORD})).json()["access_token"]
        created = (await client.post("/api/v1/identity/partners", json={
            "name": "芗里芗亲", "scopes": ["events:submit"], "allowed_regions": ["350626"]},
            headers={"Authorization": f"Bearer {admin}"})).json()

        id_number = unique_id_number()
        other = (await client.post("/api/v1/identity/wechat-login",
                                   json={"code": f"sandbox:o{uuid.uuid4().hex}"})).json()
        verified = await client.post("/api/v1/identity/me/verification",
                                     json={"name": "张三", "id_number": id_number},
                                     headers={"Authorization": f"Bearer {other['access_token']}"})
        assert verified.json()["status"] == "verified", verified.text
        by_id = await client.post("/internal/identity/residents/match",
                                  json={"id_number": id_number.lower()}, headers=INTERNAL)
        matched = await client.post("/internal/identity/residents/match",
                                    json={"phone": phone}, headers=INTERNAL)
        unknown = await client.post("/internal/identity/residents/match",
                                    json={"phone": "13000000001"}, headers=INTERNAL)
        malformed = await client.post("/internal/identity/residents/match",
                                      json={"phone": "12"}, headers=INTERNAL)
        unverified_id = await client.post("/internal/identity/residents/match",
                                          json={"id_number": "350623199001011239"},
                                          headers=INTERNAL)
        both = await client.post("/internal/identity/residents/match",
                                 json={"phone": phone, "id_number": "x"}, headers=INTERNAL)
        without_key = await client.post("/internal/identity/residents/match",
                                        json={"phone": phone})
        user_id = matched.json()["user_id"]
        issued = await client.post("/internal/identity/partner-tokens", headers=INTERNAL,
                                   json={"app_key": created["app_key"], "user_id": user_id})
        await client.post(f"/api/v1/identity/partners/{created['id']}/disable",
                          headers={"Authorization": f"Bearer {admin}"})
        disabled = await client.post("/internal/identity/partner-tokens", headers=INTERNAL,
                                     json={"app_key": created["app_key"], "user_id": user_id})

    assert by_id.json() == {"user_id": other["user"]["id"], "verified": True}
    assert matched.status_code == 200, matched.text
    assert user_id == login["user"]["id"]
    assert matched.json()["verified"] is False
    for refused in (unknown, malformed, unverified_id):
        assert (refused.status_code, refused.json()["code"]) == (404, "resident_not_matched")
    assert both.status_code == 422
    assert without_key.status_code == 401
    assert issued.status_code == 201, issued.text
    principal = token_verifier.verify(issued.json()["access_token"])
    assert str(principal.subject) == user_id
    assert principal.kind == "partner"
    assert principal.roles == frozenset({"resident"})
    assert principal.extra["partner_app"] == created["app_key"]
    assert (disabled.status_code, disabled.json()["code"]) == (410, "partner_disabled")


async def test_the_callback_hosts_an_admin_allows_in_identity_are_the_ones_an_app_subscribes_on(
    migrator: Migrator, service_settings: Callable[..., Any], token_verifier: TokenVerifier,
    signing_key: SigningKey, make_partner: Callable[..., FastAPI], clock: Clock,
) -> None:
    identity = await identity_with_admin(migrator, service_settings, token_verifier,
                                         signing_key)
    # No setting lists any host: identity's list is the only one.
    partner = make_partner(callback_hosts={}, wiring={
        "identity_transport": httpx.ASGITransport(app=identity)})
    async with running(identity) as admin_client, running(partner) as client:
        admin = {"Authorization": "Bearer " + (await admin_client.post(
            "/api/v1/identity/staff-login",
            json={"username": "admin", "password": ADMIN_PASSWORD})).json()["access_token"]}
        app = (await admin_client.post("/api/v1/identity/partners", headers=admin, json={
            "name": "芗里芗亲", "scopes": ["webhooks:manage"]})).json()

        async def subscribe(url: str) -> httpx.Response:
            body = json.dumps({"event_types": ["event.closed"], "callback_url": url}).encode()
            headers = signed_headers(app["app_key"], app["secret"], "POST", "/open/v1/webhooks",
                                     "", body, now=clock().timestamp())
            return await client.post("/open/v1/webhooks", content=body,
                                     headers=headers | {"Content-Type": "application/json"})

        before = await subscribe("https://hooks.xlxq.example/ehome")
        allowed = await admin_client.put(
            f"/api/v1/identity/partners/{app['id']}/callback-hosts", headers=admin,
            json={"callback_hosts": ["hooks.xlxq.example"]})
        assert allowed.status_code == 200, allowed.text
        after = await subscribe("https://hooks.xlxq.example/ehome")
        elsewhere = await subscribe("https://evil.example.net/ehome")

    assert (before.status_code, before.json()["code"]) == (422, "callback_host_not_allowed")
    assert after.status_code == 201, after.text
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (422, "callback_host_not_allowed")
