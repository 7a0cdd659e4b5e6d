"""Phone binding through getuserphonenumber, and the one shared WeChat access token."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from shared.auth.internal import internal_headers
from shared.testing.plugin import running
from tests.identity.conftest import WeChatStandIn, assert_problem, bearer, login

PHONE = "/api/v1/identity/me/phone"
TOKEN = "/internal/identity/wechat-access-token"


async def test_a_resident_binds_a_phone_in_the_sandbox(
    identity_app: Any, identity_sql: Any
) -> None:
    async with running(identity_app()) as client:
        pair = await login(client)
        answer = await client.post(PHONE, json={"code": "sandbox-phone:13812341234"},
                                   headers=bearer(pair["access_token"]))
        bad = await client.post(PHONE, json={"code": "sandbox-phone:123"},
                                headers=bearer(pair["access_token"]))
    assert answer.status_code == 200, answer.text
    assert answer.json()["phone"] == "138****1234"
    assert "13812341234" not in answer.text
    assert_problem(bad, 400, "phone_code_invalid")
    rows = await identity_sql("SELECT phone_cipher, phone_index FROM users WHERE id = :u",
                              u=pair["user"]["id"])
    assert "13812341234" not in rows[0]["phone_cipher"]
    assert len(rows[0]["phone_index"]) == 64


async def test_binding_through_wechat_fetches_the_access_token_once_and_recovers_from_40001(
    identity_app: Any, wechat_server: tuple[WeChatStandIn, str]
) -> None:
    stand_in, base = wechat_server
    stand_in.phone_for_code = {"p1": "13900001111", "p2": "13900002222"}
    async with running(identity_app(wechat_api_base=base)) as client:
        pair = await login(client)
        headers = bearer(pair["access_token"])
        first = await client.post(PHONE, json={"code": "p1"}, headers=headers)
        # Someone forced a refresh elsewhere: our cached token is now invalid (40001).
        stand_in.current_token = "AT-rotated-elsewhere"
        second = await client.post(PHONE, json={"code": "p2"}, headers=headers)
        unknown = await client.post(PHONE, json={"code": "p-unknown"}, headers=headers)
        me = await client.get("/api/v1/identity/me", headers=headers)
    assert first.json()["phone"] == "139****1111"
    assert second.json()["phone"] == "139****2222"
    assert_problem(unknown, 400, "phone_code_invalid")
    assert me.json()["phone"] == "139****2222"
    forced = [call["force_refresh"] for call in stand_in.seen["stable_token"]]
    assert forced == [False, True]


async def test_the_access_token_is_shared_refreshed_before_expiry_with_one_refresh_in_flight(
    identity_app: Any, wechat_server: tuple[WeChatStandIn, str]
) -> None:
    stand_in, base = wechat_server
    stand_in.token_delay_seconds = 0.2
    stand_in.token_expires_in = 61
    app = identity_app(wechat_api_base=base, wechat_token_refresh_margin_seconds=60)
    headers = internal_headers("dev-only-internal-key", "feedback")
    async with running(app) as client:
        answers = await asyncio.gather(*(client.get(TOKEN, headers=headers) for _ in range(10)))
        assert {a.json()["access_token"] for a in answers} == {"AT1"}
        assert len(stand_in.seen["stable_token"]) == 1
        await asyncio.sleep(1.1)  # now inside the refresh margin
        again = await client.get(TOKEN, headers=headers)
        refused = await client.get(TOKEN, headers={"X-Internal-Key": "wrong"})
    assert len(stand_in.seen["stable_token"]) == 2
    assert again.status_code == 200
    assert_problem(refused, 401, "internal_key_invalid")


async def test_staff_cannot_bind_a_resident_phone(identity_app: Any, make_token: Any) -> None:
    async with running(identity_app()) as client:
        answer = await client.post(
            PHONE, json={"code": "sandbox-phone:13812341234"},
            headers=bearer(make_token(subject=uuid.uuid4(), roles=["dispatcher"])))
    assert_problem(answer, 403, "residents_only")


async def test_a_malformed_number_from_wechat_is_refused_and_not_stored(
    identity_app: Any, wechat_server: tuple[WeChatStandIn, str], identity_sql: Any
) -> None:
    stand_in, base = wechat_server
    stand_in.phone_for_code = {"odd": "12345"}
    async with running(identity_app(wechat_api_base=base)) as client:
        pair = await login(client)
        answer = await client.post(PHONE, json={"code": "odd"},
                                   headers=bearer(pair["access_token"]))
        empty = await client.post(PHONE, json={"code": ""}, headers=bearer(pair["access_token"]))
    assert_problem(answer, 422, "phone_invalid")
    assert_problem(empty, 422, "validation_error")
    rows = await identity_sql("SELECT phone_cipher FROM users WHERE id = :u",
                              u=pair["user"]["id"])
    assert rows[0]["phone_cipher"] is None
