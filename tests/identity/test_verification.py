"""Real-name verification: local checks, the sandbox, a slow provider, one account per ID."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from shared.testing.plugin import running, wait_until
from tests.identity.conftest import (
    RealNameStandIn,
    assert_problem,
    bearer,
    login,
    unique_id_number,
)

VERIFY = "/api/v1/identity/me/verification"


async def _refresh(client: Any, pair: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/identity/refresh",
                                 json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_resident_verifies_in_the_sandbox_and_the_account_says_so(
    identity_app: Any, identity_sql: Any
) -> None:
    id_number = unique_id_number()
    async with running(identity_app()) as client:
        pair = await login(client)
        answer = await client.post(VERIFY, json={"name": "张三", "id_number": id_number},
                                   headers=bearer(pair["access_token"]))
        assert answer.json()["status"] == "verified"
        assert answer.json()["reason"] is None
        fresh = await _refresh(client, pair)
        me = (await client.get("/api/v1/identity/me",
                               headers=bearer(fresh["access_token"]))).json()
    assert me["verified"] is True
    assert me["id_number"] == id_number[:6] + "********" + id_number[-4:]
    assert me["name"] == "张*"
    assert fresh["user"]["verified"] is True
    events = await identity_sql(
        "SELECT envelope FROM outbox WHERE event_type = 'identity.user_verified' "
        "AND envelope->'payload'->>'user_id' = :uid", uid=pair["user"]["id"])
    assert len(events) == 1
    assert id_number not in str(events[0]["envelope"])


async def test_the_sandbox_rejects_the_mismatch_name(identity_app: Any) -> None:
    async with running(identity_app()) as client:
        pair = await login(client)
        answer = await client.post(VERIFY, json={"name": "测试拒绝",
                                                 "id_number": unique_id_number()},
                                   headers=bearer(pair["access_token"]))
        me = (await client.get("/api/v1/identity/me",
                               headers=bearer(pair["access_token"]))).json()
    assert answer.json() == {"status": "rejected", "reason": "mismatch", "tokens": None,
                             "refresh_required": False}
    assert me["verified"] is False


@pytest.mark.parametrize(
    ("id_number", "code"),
    [
        ("35062319900101", "id_number_malformed"),
        ("350623199013011234", "id_number_birth_date"),
        ("000000199001011234", "id_number_region"),
        ("350623199001011230", "id_number_checksum"),
    ],
)
async def test_malformed_id_numbers_write_nothing(
    identity_app: Any, identity_sql: Any, id_number: str, code: str
) -> None:
    async with running(identity_app()) as client:
        pair = await login(client)
        answer = await client.post(VERIFY, json={"name": "张三", "id_number": id_number},
                                   headers=bearer(pair["access_token"]))
    assert_problem(answer, 422, code)
    rows = await identity_sql("SELECT id FROM verification_requests WHERE user_id = :u",
                              u=pair["user"]["id"])
    assert rows == []


async def test_one_id_number_verifies_one_account(identity_app: Any) -> None:
    id_number = unique_id_number()
    async with running(identity_app()) as client:
        first, second = await login(client), await login(client)
        ok = await client.post(VERIFY, json={"name": "李四", "id_number": id_number},
                               headers=bearer(first["access_token"]))
        taken = await client.post(VERIFY, json={"name": "李四", "id_number": id_number},
                                  headers=bearer(second["access_token"]))
        again = await client.post(VERIFY, json={"name": "李四", "id_number": id_number},
                                  headers=bearer(first["access_token"]))
    assert ok.json()["status"] == "verified"
    assert_problem(taken, 409, "id_number_taken")
    assert_problem(again, 409, "already_verified")


async def test_two_accounts_verifying_one_id_number_at_once_end_with_one_verified(
    identity_app: Any, identity_sql: Any
) -> None:
    async with running(identity_app()) as client:
        for _ in range(5):
            id_number = unique_id_number()
            accounts = [await login(client) for _ in range(3)]
            answers = await asyncio.gather(*(
                client.post(VERIFY, json={"name": "李四", "id_number": id_number},
                            headers=bearer(a["access_token"]))
                for a in accounts
            ))
            # Each loser is told the number is taken: refused up front (409) when the winner
            # had already committed, rejected after the provider's answer otherwise.
            outcomes = [
                (a.json()["status"], a.json()["reason"]) if a.status_code == 200
                else (a.status_code, a.json()["code"]) for a in answers
            ]
            assert outcomes.count(("verified", None)) == 1, outcomes
            assert all(o in (("verified", None), ("rejected", "id_number_taken"),
                             (409, "id_number_taken")) for o in outcomes), outcomes
            verified = await identity_sql(
                "SELECT count(*) AS n FROM users WHERE id = ANY(:ids) AND verified",
                ids=[uuid.UUID(a["user"]["id"]) for a in accounts])
            assert verified[0]["n"] == 1
            pending = await identity_sql(
                "SELECT count(*) AS n FROM verification_requests WHERE user_id = ANY(:ids) "
                "AND status = 'pending'", ids=[uuid.UUID(a["user"]["id"]) for a in accounts])
            assert pending[0]["n"] == 0


async def test_a_provider_timeout_leaves_the_request_pending_and_the_worker_finishes_it(
    identity_app: Any, realname_server: tuple[RealNameStandIn, str]
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

        async def verified() -> bool:
            status = await client.get(VERIFY, headers=headers)
            return status.json()["status"] == "verified"

        await wait_until(verified, within=10)
        me = (await client.get("/api/v1/identity/me", headers=headers)).json()
    assert me["verified"] is True
    assert stand_in.calls >= 2


@pytest.mark.parametrize(("status", "body"), [(400, "<html>bad request</html>"),
                                              (200, "<html>maintenance</html>"),
                                              (200, '["match"]')])
async def test_a_provider_answering_nonsense_leaves_the_request_pending_not_a_500(
    identity_app: Any, realname_server: tuple[RealNameStandIn, str], status: int, body: str
) -> None:
    stand_in, base = realname_server
    stand_in.broken_answers["坏答"] = (status, body)
    app = identity_app(verify_api_base=base, verify_retry_seconds=60)
    async with running(app) as client:
        pair = await login(client)
        answer = await client.post(VERIFY, json={"name": "坏答", "id_number": unique_id_number()},
                                   headers=bearer(pair["access_token"]))
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "pending"


async def test_a_pending_request_survives_a_restart(
    identity_app: Any, realname_server: tuple[RealNameStandIn, str]
) -> None:
    stand_in, base = realname_server
    stand_in.slow_calls, stand_in.delay = 1, 1.0
    settings = {"verify_api_base": base, "verify_timeout_seconds": 0.3,
                "verify_retry_seconds": 0.2, "verify_worker_poll_seconds": 0.1}
    async with running(identity_app(**{**settings, "verify_worker_poll_seconds": 60})) as client:
        pair = await login(client)
        answer = await client.post(VERIFY, json={"name": "赵六", "id_number": unique_id_number()},
                                   headers=bearer(pair["access_token"]))
        assert answer.json()["status"] == "pending"
    # A new process (the first one's worker never ran a pass) picks the request up.
    async with running(identity_app(**settings)) as client:
        async def verified() -> bool:
            status = await client.get(VERIFY, headers=bearer(pair["access_token"]))
            return status.json()["status"] == "verified"

        await wait_until(verified, within=10)
