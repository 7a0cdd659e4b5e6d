"""Identity records each revocation with the change that causes it and serves them on its
internal feed; its own replicas read them from the table (shared/auth/revocations.py)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.auth.internal import internal_headers
from shared.auth.tokens import TokenVerifier
from shared.problems import Unauthorized
from shared.testing.plugin import running, wait_until
from tests.identity.conftest import admin_token, assert_problem, bearer

FEED = "/internal/identity/revocations"
INTERNAL = internal_headers("dev-only-internal-key", "tests")
PASSWORD = "staff-password-for-revocation-1"


async def _staff(client: Any, admin: dict[str, str]) -> tuple[str, dict[str, Any]]:
    username = f"st{uuid.uuid4().hex[:10]}"
    created = await client.post("/api/v1/identity/staff", headers=admin, json={
        "username": username, "password": PASSWORD, "roles": ["dispatcher"],
        "regions": ["350626"]})
    assert created.status_code == 201, created.text
    login = await client.post("/api/v1/identity/staff-login",
                              json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return created.json()["id"], login.json()


async def test_the_feed_serves_revocations_to_internal_callers_from_a_cursor_on(
    identity_app: Any,
) -> None:
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        staff_id, _ = await _staff(client, admin)
        anonymous = await client.get(FEED)
        before = await client.get(FEED, headers=INTERNAL)
        await client.post(f"/api/v1/identity/staff/{staff_id}/disable", headers=admin)
        since = await client.get(FEED, headers=INTERNAL,
                                 params={"since": before.json()["cursor"]})
        malformed = [await client.get(FEED, headers=INTERNAL, params={"since": since})
                     for since in ("yesterday", "2026-12-06T08:00:00",
                                   "0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00+08:00")]

    assert_problem(anonymous, 401, "internal_key_invalid")
    assert before.status_code == 200, before.text
    assert staff_id not in [r["key"] for r in before.json()["revocations"]]
    entries = [r for r in since.json()["revocations"] if r["key"] == staff_id]
    assert [(r["kind"]) for r in entries] == ["subject"]
    for refused in malformed:
        assert_problem(refused, 400, "cursor_invalid")


async def test_identity_itself_refuses_a_disabled_accounts_token_within_seconds(
    identity_app: Any, token_verifier: TokenVerifier,
) -> None:
    """Identity keeps the verifier it was given current from its own table: in the embedded
    mode that verifier is the gateway's and every service's too."""
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        staff_id, login = await _staff(client, admin)
        token = login["access_token"]
        assert (await client.get("/api/v1/identity/me", headers=bearer(token))).status_code == 200
        await client.post(f"/api/v1/identity/staff/{staff_id}/disable", headers=admin)

        async def refused() -> bool:
            answer = await client.get("/api/v1/identity/me", headers=bearer(token))
            return answer.status_code == 401 and answer.json()["code"] == "token_revoked"

        await wait_until(refused, within=10.0, interval=0.1)
    with pytest.raises(Unauthorized) as shared_verifier:
        token_verifier.verify(token)
    assert shared_verifier.value.code == "token_revoked"


async def test_a_reused_refresh_token_ends_its_sessions_access_tokens_too(
    identity_app: Any,
) -> None:
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        _, login = await _staff(client, admin)
        refreshed = await client.post("/api/v1/identity/refresh",
                                      json={"refresh_token": login["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        reused = await client.post("/api/v1/identity/refresh",
                                   json={"refresh_token": login["refresh_token"]})
        assert_problem(reused, 401, "refresh_token_reused")
        token = refreshed.json()["access_token"]

        async def refused() -> bool:
            answer = await client.get("/api/v1/identity/me", headers=bearer(token))
            return answer.status_code == 401 and answer.json()["code"] == "token_revoked"

        await wait_until(refused, within=10.0, interval=0.1)
