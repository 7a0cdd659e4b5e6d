"""After real-name verification the caller's tokens say so: a verified answer carries a fresh
pair of the same login; a pending one, and a status read with an older token, say to refresh."""

from __future__ import annotations

from typing import Any

from shared.auth.tokens import TokenVerifier
from shared.testing.plugin import running, wait_until
from tests.identity.conftest import (
    RealNameStandIn,
    assert_problem,
    bearer,
    login,
    unique_id_number,
)

VERIFY = "/api/v1/identity/me/verification"


async def test_a_verified_answer_carries_fresh_tokens_of_the_same_login_that_say_verified(
    identity_app: Any, token_verifier: TokenVerifier
) -> None:
    async with running(identity_app()) as client:
        pair = await login(client)
        answer = await client.post(VERIFY, json={"name": "张三", "id_number": unique_id_number()},
                                   headers=bearer(pair["access_token"]))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] == "verified"
        assert body["refresh_required"] is False
        tokens = body["tokens"]
        assert tokens["user"]["verified"] is True

        old = token_verifier.verify(pair["access_token"])
        new = token_verifier.verify(tokens["access_token"])
        assert old.verified is False
        assert new.verified is True
        assert new.subject == old.subject
        assert new.session_id == old.session_id  # the same login (refresh family)

        me = await client.get("/api/v1/identity/me", headers=bearer(tokens["access_token"]))
        assert me.json()["verified"] is True
        # Logging out of that login ends the new pair as well.
        out = await client.post("/api/v1/identity/logout",
                                json={"refresh_token": pair["refresh_token"]},
                                headers=bearer(tokens["access_token"]))
        assert out.status_code == 204, out.text
        refreshed = await client.post("/api/v1/identity/refresh",
                                      json={"refresh_token": tokens["refresh_token"]})
        assert_problem(refreshed, 401, "refresh_token_revoked")


async def test_a_rejected_answer_carries_no_tokens(identity_app: Any) -> None:
    async with running(identity_app()) as client:
        pair = await login(client)
        answer = await client.post(VERIFY, json={"name": "测试拒绝",
                                                 "id_number": unique_id_number()},
                                   headers=bearer(pair["access_token"]))
    assert answer.json() == {"status": "rejected", "reason": "mismatch", "tokens": None,
                             "refresh_required": False}


async def test_a_pending_answer_says_to_refresh_once_the_verification_completes(
    identity_app: Any, realname_server: tuple[RealNameStandIn, str],
    token_verifier: TokenVerifier,
) -> None:
    stand_in, base = realname_server
    stand_in.slow_calls, stand_in.delay = 1, 1.0
    app = identity_app(verify_api_base=base, verify_timeout_seconds=0.3,
                       verify_retry_seconds=0.2, verify_worker_poll_seconds=0.1)
    async with running(app) as client:
        pair = await login(client)
        headers = bearer(pair["access_token"])
        answer = await client.post(VERIFY, json={"name": "王五", "id_number": unique_id_number()},
                                   headers=headers)
        assert answer.json()["status"] == "pending"
        assert answer.json()["refresh_required"] is True
        assert answer.json()["tokens"] is None

        async def verified() -> bool:
            return (await client.get(VERIFY, headers=headers)).json()["status"] == "verified"

        await wait_until(verified, within=10)
        stale = (await client.get(VERIFY, headers=headers)).json()
        assert stale["refresh_required"] is True
        fresh = await client.post("/api/v1/identity/refresh",
                                  json={"refresh_token": pair["refresh_token"]})
        access = fresh.json()["access_token"]
        assert token_verifier.verify(access).verified is True
        current = (await client.get(VERIFY, headers=bearer(access))).json()
        assert current["refresh_required"] is False
