"""Case actions are retry-safe: the grid app's offline queue resends an action whose answer was
lost with the same Idempotency-Key, and gets the first answer instead of a 409; the key is
the caller's, for one case and one action."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from tests.events.flows import COMMUNITY, COMMUNITY_UNIT, Loop, bearer

ACTION_ROUTES = ("accept", "return", "start", "result", "verify", "reject")


def _key() -> str:
    return f"offline-{uuid.uuid4().hex}"


async def _post(loop: Loop, event_id: str, action: str, token: str, body: dict | None,
                key: str | None) -> httpx.Response:
    headers = bearer(token, **({"Idempotency-Key": key} if key else {}))
    return await loop.events.post(f"/api/v1/events/{event_id}/{action}", json=body,
                                  headers=headers)


async def _dispatched(loop: Loop) -> tuple[str, str]:
    """A reported case assigned to the community unit, and a token of that unit's staff."""
    created = await loop.report()
    event_id = str(created["id"])
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    return event_id, loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)


async def _result_submitted(loop: Loop) -> str:
    event_id, staff = await _dispatched(loop)
    await loop.act(event_id, "accept", staff)
    await loop.act(event_id, "start", staff)
    await loop.act(event_id, "result", staff, {"result": "已协调双方，押金已退还"})
    return event_id


async def _steps(loop: Loop, event_id: str, action: str) -> int:
    return sum(1 for step in await loop.timeline(event_id, loop.people.supervisor())
               if step["action"] == action)


async def _status_changes(loop: Loop, event_id: str, action: str) -> int:
    assert loop.sql is not None
    return int(await loop.sql(
        "events",
        "SELECT count(*) FROM outbox WHERE event_type = 'events.event_status_changed' "
        f"AND envelope->'payload'->>'event_id' = '{event_id}' "
        f"AND envelope->'payload'->>'action' = '{action}'"))


async def _outbox(loop: Loop, event_type: str, event_id: str) -> int:
    assert loop.sql is not None
    return int(await loop.sql(
        "events", f"SELECT count(*) FROM outbox WHERE event_type = '{event_type}' "
                  f"AND envelope->'payload'->>'event_id' = '{event_id}'"))


async def test_a_verify_retried_with_its_key_answers_the_first_answer_and_records_once(
    loop: Loop,
) -> None:
    event_id = await _result_submitted(loop)
    checker, key = loop.people.grid_worker(), _key()
    body = {"passed": True, "note": "现场核实，已恢复"}
    first = await _post(loop, event_id, "verify", checker, body, key)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "closed"
    again = await _post(loop, event_id, "verify", checker, body, key)
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert await _steps(loop, event_id, "verify") == 1
    assert await _status_changes(loop, event_id, "verify") == 1
    assert await _outbox(loop, "events.event_closed", event_id) == 1


async def test_a_failed_check_retried_answers_as_first_and_leaves_one_rework(
    loop: Loop,
) -> None:
    event_id = await _result_submitted(loop)
    checker, key = loop.people.grid_worker(), _key()
    body = {"passed": False, "note": "现场仍有噪音"}
    first = await _post(loop, event_id, "verify", checker, body, key)
    assert first.status_code == 200, first.text
    again = await _post(loop, event_id, "verify", checker, body, key)
    assert (again.status_code, again.json()) == (200, first.json())
    assert await _steps(loop, event_id, "verify") == 1
    assert await _status_changes(loop, event_id, "verify") == 1
    assert (await loop.case(event_id))["status"] == first.json()["status"]


async def test_a_different_body_under_the_same_key_is_refused_and_changes_nothing(
    loop: Loop,
) -> None:
    event_id = await _result_submitted(loop)
    checker, key = loop.people.grid_worker(), _key()
    failed = await _post(loop, event_id, "verify", checker,
                         {"passed": False, "note": "现场仍有噪音"}, key)
    assert failed.status_code == 200, failed.text
    reused = await _post(loop, event_id, "verify", checker,
                         {"passed": True, "note": "现场仍有噪音"}, key)
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert (await loop.case(event_id))["status"] == failed.json()["status"]
    assert await _steps(loop, event_id, "verify") == 1
    assert await _outbox(loop, "events.event_closed", event_id) == 0


async def test_without_a_key_a_repeated_action_is_refused_as_before(loop: Loop) -> None:
    event_id, staff = await _dispatched(loop)
    await loop.act(event_id, "accept", staff)
    refused = await loop.act(event_id, "accept", staff, expect=409)
    assert refused["code"] == "illegal_transition"
    assert await _steps(loop, event_id, "accept") == 1


async def test_a_noted_and_a_reasoned_action_are_retry_safe_too(loop: Loop) -> None:
    event_id, staff = await _dispatched(loop)
    accept_key = _key()
    first = await _post(loop, event_id, "accept", staff, None, accept_key)
    again = await _post(loop, event_id, "accept", staff, None, accept_key)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()

    other, other_staff = await _dispatched(loop)
    return_key, reason = _key(), {"reason": "不属于本社区管辖范围"}
    returned = await _post(loop, other, "return", other_staff, reason, return_key)
    assert returned.status_code == 200, returned.text
    again = await _post(loop, other, "return", other_staff, reason, return_key)
    assert (again.status_code, again.json()) == (200, returned.json())
    assert await _steps(loop, other, "return") == 1


async def test_a_key_belongs_to_one_case_one_action_and_one_caller(loop: Loop) -> None:
    event_id, staff = await _dispatched(loop)
    key = _key()
    accepted = await _post(loop, event_id, "accept", staff, None, key)
    started = await _post(loop, event_id, "start", staff, None, key)
    assert (accepted.status_code, started.status_code) == (200, 200)
    assert accepted.json()["status"] != started.json()["status"]

    other, _ = await _dispatched(loop)
    elsewhere = await _post(loop, other, "accept", staff, None, key)
    assert elsewhere.status_code == 200, elsewhere.text
    assert elsewhere.json()["id"] == other

    # Someone else's retry under the same key is their own request: the state machine
    # answers it, not the first caller's answer.
    colleague = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    refused = await _post(loop, event_id, "accept", colleague, None, key)
    assert refused.status_code == 409
    assert refused.json()["code"] == "illegal_transition"


async def test_a_refused_action_does_not_use_up_its_key(loop: Loop) -> None:
    event_id, staff = await _dispatched(loop)
    key = _key()
    too_early = await _post(loop, event_id, "start", staff, None, key)
    assert too_early.status_code == 409
    await loop.act(event_id, "accept", staff)
    started = await _post(loop, event_id, "start", staff, None, key)
    assert started.status_code == 200, started.text
    assert await _steps(loop, event_id, "start") == 1


async def test_two_copies_sent_at_once_record_the_check_once(loop: Loop) -> None:
    event_id = await _result_submitted(loop)
    checker, key = loop.people.grid_worker(), _key()
    body = {"passed": True, "note": "现场核实"}
    answers: list[Any] = await asyncio.gather(
        *(_post(loop, event_id, "verify", checker, body, key) for _ in range(2)))
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert await _steps(loop, event_id, "verify") == 1
    assert await _status_changes(loop, event_id, "verify") == 1


async def test_every_case_action_declares_the_idempotency_key(loop: Loop) -> None:
    spec = loop.apps["events"].openapi()  # type: ignore[attr-defined]
    for action in ACTION_ROUTES:
        operation = spec["paths"][f"/api/v1/events/{{event_id}}/{action}"]["post"]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert "Idempotency-Key" in headers, action
    upload = spec["paths"]["/api/v1/events/attachments"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in upload["parameters"]}
