"""Resident login through WeChat: the real HTTP client against a local WeChat stand-in, the
sandbox, first-login registration, and tokens."""

from __future__ import annotations

import uuid
from typing import Any

import jwt

from services.identity.service.accounts import SESSION_KEY
from shared.auth.tokens import TokenVerifier
from shared.testing.plugin import running
from tests.identity.conftest import WeChatStandIn, assert_problem, bearer, login


async def test_first_wechat_login_creates_the_account_and_announces_it_once(
    identity_app: Any, identity_sql: Any
) -> None:
    openid = f"o{uuid.uuid4().hex}"
    async with running(identity_app()) as client:
        first = await login(client, openid)
        second = await login(client, openid)
        # The returning login's refresh token was stored with it (one-statement path).
        rotated = await client.post("/api/v1/identity/refresh",
                                    json={"refresh_token": second["refresh_token"]})
        assert rotated.status_code == 200, rotated.text
    assert first["user"]["id"] == second["user"]["id"]
    assert first["user"]["roles"] == ["resident"]
    assert first["user"]["verified"] is False
    assert first["expires_in"] > 0
    events = await identity_sql(
        "SELECT envelope FROM outbox WHERE event_type = 'identity.user_registered' "
        "AND envelope->'payload'->>'user_id' = :uid", uid=first["user"]["id"]
    )
    assert len(events) == 1
    assert events[0]["envelope"]["payload"]["channel"] == "wechat"


async def test_login_goes_through_the_real_client_and_keeps_the_session_key(
    identity_app: Any, wechat_server: tuple[WeChatStandIn, str], identity_sql: Any
) -> None:
    stand_in, base = wechat_server
    code = f"c{uuid.uuid4().hex}"
    session_key = f"SK-{code}-secret"  # what the stand-in answers for this code
    app = identity_app(wechat_api_base=base, wechat_app_secret="s3cret")
    async with running(app) as client:
        response = await client.post("/api/v1/identity/wechat-login", json={"code": code})
        assert response.status_code == 200, response.text
        me = await client.get("/api/v1/identity/me",
                              headers=bearer(response.json()["access_token"]))
        pii = app.state.runtime.context.pii
    assert stand_in.calls[code] == 1
    assert stand_in.seen_secrets == ["s3cret"]
    for answer in (response, me):
        assert session_key not in answer.text
        assert "session_key" not in answer.text
    rows = await identity_sql("SELECT wechat_session_key FROM users WHERE openid = :o",
                              o=f"o-{code}")
    stored = rows[0]["wechat_session_key"]
    # Kept encrypted: not the key itself (a short fragment could turn up in any ciphertext),
    # but the key once decrypted.
    assert session_key not in stored
    assert pii.decrypt(stored, context=SESSION_KEY) == session_key


async def test_busy_and_rate_limited_answers_are_retried_with_backoff(
    identity_app: Any, wechat_server: tuple[WeChatStandIn, str]
) -> None:
    stand_in, base = wechat_server
    code = f"c{uuid.uuid4().hex}"
    stand_in.login_script[code] = [-1, 45011, -1]
    async with running(identity_app(wechat_api_base=base, wechat_retries=3)) as client:
        response = await client.post("/api/v1/identity/wechat-login", json={"code": code})
    assert response.status_code == 200, response.text
    assert stand_in.calls[code] == 4


async def test_wechat_errors_become_clear_problems(
    identity_app: Any, wechat_server: tuple[WeChatStandIn, str], identity_sql: Any
) -> None:
    stand_in, base = wechat_server
    limited, busy, blocked = (f"c{uuid.uuid4().hex}" for _ in range(3))
    stand_in.login_script[limited] = [45011] * 10
    stand_in.login_script[busy] = [-1] * 10
    stand_in.login_script[blocked] = [40226]
    async with running(identity_app(wechat_api_base=base, wechat_retries=2)) as client:
        post = client.post
        assert_problem(await post("/api/v1/identity/wechat-login", json={"code": "bad-code"}),
                       400, "wechat_code_invalid")
        assert_problem(await post("/api/v1/identity/wechat-login", json={"code": blocked}),
                       403, "wechat_user_blocked")
        assert_problem(await post("/api/v1/identity/wechat-login", json={"code": limited}),
                       429, "wechat_rate_limited")
        assert_problem(await post("/api/v1/identity/wechat-login", json={"code": busy}),
                       503, "wechat_busy")
        assert_problem(await post("/api/v1/identity/wechat-login", json={"code": ""}),
                       422, "validation_error")
    assert stand_in.calls["bad-code"] == 1
    assert stand_in.calls[blocked] == 1
    assert stand_in.calls[limited] == 3
    assert stand_in.calls[busy] == 3
    assert await identity_sql("SELECT id FROM users WHERE openid = :o",
                              o=f"o-{blocked}") == []


async def test_an_unreachable_wechat_answers_503_after_retries(identity_app: Any) -> None:
    app = identity_app(wechat_api_base="http://127.0.0.1:9", wechat_retries=1)
    async with running(app) as client:
        response = await client.post("/api/v1/identity/wechat-login", json={"code": "x"})
    assert_problem(response, 503, "wechat_unavailable")


async def test_the_sandbox_refuses_codes_it_does_not_know(identity_app: Any) -> None:
    async with running(identity_app()) as client:
        response = await client.post("/api/v1/identity/wechat-login",
                                     json={"code": "not-a-sandbox-code"})
        empty = await client.post("/api/v1/identity/wechat-login", json={"code": "sandbox:"})
    assert_problem(response, 400, "wechat_code_invalid")
    assert_problem(empty, 400, "wechat_code_invalid")


async def test_access_tokens_carry_the_claims_and_verify_with_the_published_jwks(
    identity_app: Any,
) -> None:
    async with running(identity_app()) as client:
        pair = await login(client)
        jwks = (await client.get("/api/v1/identity/jwks")).json()
    verifier = TokenVerifier(issuer="ehome-identity", audience="ehome")
    verifier.load_jwks(jwks)
    principal = verifier.verify(pair["access_token"])
    assert str(principal.subject) == pair["user"]["id"]
    assert principal.roles == {"resident"}
    assert principal.verified is False
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    assert {"sub", "roles", "regions", "depts", "verified", "exp", "kind"} <= claims.keys()
    assert jwt.get_unverified_header(pair["access_token"])["alg"] == "EdDSA"


async def test_refresh_rotates_and_a_replayed_refresh_token_revokes_the_family(
    identity_app: Any,
) -> None:
    async with running(identity_app()) as client:
        first = await login(client)
        rotated = await client.post("/api/v1/identity/refresh",
                                    json={"refresh_token": first["refresh_token"]})
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()
        assert second["refresh_token"] != first["refresh_token"]

        replay = await client.post("/api/v1/identity/refresh",
                                   json={"refresh_token": first["refresh_token"]})
        assert_problem(replay, 401, "refresh_token_reused")
        # The thief's replay also ends the legitimate holder's newer token.
        after = await client.post("/api/v1/identity/refresh",
                                  json={"refresh_token": second["refresh_token"]})
        assert_problem(after, 401, "refresh_token_revoked")


async def test_logout_ends_the_session(identity_app: Any) -> None:
    async with running(identity_app()) as client:
        pair = await login(client)
        out = await client.post("/api/v1/identity/logout",
                                json={"refresh_token": pair["refresh_token"]},
                                headers=bearer(pair["access_token"]))
        assert out.status_code == 204
        again = await client.post("/api/v1/identity/refresh",
                                  json={"refresh_token": pair["refresh_token"]})
    assert_problem(again, 401, "refresh_token_revoked")


async def test_malformed_tokens_are_refused_with_specific_codes(identity_app: Any) -> None:
    async with running(identity_app()) as client:
        garbage = await client.get("/api/v1/identity/me", headers=bearer("not.a.jwt"))
        missing = await client.get("/api/v1/identity/me")
        scheme = await client.get("/api/v1/identity/me", headers={"Authorization": "Basic x"})
        unknown = await client.post("/api/v1/identity/refresh",
                                    json={"refresh_token": "rt_" + "x" * 40})
        short = await client.post("/api/v1/identity/refresh", json={"refresh_token": "x"})
    assert_problem(garbage, 401, "token_invalid")
    assert_problem(missing, 401, "token_missing")
    assert_problem(scheme, 401, "token_invalid")
    assert_problem(unknown, 401, "refresh_token_invalid")
    assert_problem(short, 422, "validation_error")


async def test_the_jwks_also_publishes_the_previous_key_during_a_rotation(
    identity_app: Any,
) -> None:
    from shared.auth.tokens import generate_signing_key, key_id, public_key_pem

    previous = generate_signing_key()
    app = identity_app(jwt_public_keys=[public_key_pem(previous.public_key)])
    async with running(app) as client:
        jwks = (await client.get("/api/v1/identity/jwks")).json()
    kids = [k["kid"] for k in jwks["keys"]]
    assert len(kids) == 2
    assert key_id(previous.public_key) in kids


async def test_concurrent_first_logins_create_one_account_and_one_event(
    identity_app: Any, identity_sql: Any
) -> None:
    import asyncio

    openid = f"o{uuid.uuid4().hex}"
    async with running(identity_app()) as client:
        pairs = await asyncio.gather(*(login(client, openid) for _ in range(6)))
    assert len({p["user"]["id"] for p in pairs}) == 1
    events = await identity_sql(
        "SELECT 1 FROM outbox WHERE event_type = 'identity.user_registered' "
        "AND envelope->'payload'->>'user_id' = :uid", uid=pairs[0]["user"]["id"])
    assert len(events) == 1
