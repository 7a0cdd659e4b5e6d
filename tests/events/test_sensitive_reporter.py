"""A sensitive tip (fraud) across events, routing and feedback: the handlers never learn who
reported it and the bus never carries the reporter's id in the clear, yet the reporter is told
about progress and rates the closure — and nobody else can."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.contracts.events import ReporterSeal, ReporterSealError
from shared.testing.plugin import wait_until
from tests.events.flows import COUNTY, COUNTY_POLICE, Loop, bearer


async def _notices(loop: Loop, token: str) -> list[dict[str, Any]]:
    response = await loop.feedback.get(  # type: ignore[attr-defined]
        "/api/v1/feedback/notifications", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_the_reporter_of_a_fraud_tip_is_told_of_progress_and_alone_can_rate_it(
    feedback_loop: Loop,
) -> None:
    loop = feedback_loop
    reporter = loop.people.resident()
    created = await loop.report(
        reporter, category_code="telecom_fraud", description="冒充客服要求转账",
        fields={"channel": "phone", "loss_amount": 5000, "suspect_phone": "13800138000"},
    )
    event_id = created["id"]
    await loop.wait_assigned(event_id, COUNTY_POLICE)
    police = loop.people.unit_staff(COUNTY_POLICE, COUNTY)
    assert (await loop.case(event_id, police))["reporter_id"] is None  # handlers: no reporter
    await loop.handle_to_close(event_id, COUNTY_POLICE, COUNTY)

    async def kinds_told() -> set[str]:
        return {n["kind"] for n in await _notices(loop, reporter) if n["event_id"] == event_id}

    # Progress, not only the closure. Batches of one queue run side by side, so the closure's
    # notice may be written before the result's: wait for all three, in any order.
    async def told_of_progress_and_closure() -> bool:
        return {"accepted", "result", "closed"} <= await kinds_told()
    await wait_until(told_of_progress_and_closure, within=10)
    assert await _notices(loop, police) == []

    other_resident = loop.people.resident(uuid.uuid4())
    refused = await loop.feedback.post(  # type: ignore[attr-defined]
        "/api/v1/feedback/ratings", json={"event_id": event_id, "rating": "satisfied"},
        headers=bearer(other_resident))
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_reporter"
    rated = await loop.feedback.post(  # type: ignore[attr-defined]
        "/api/v1/feedback/ratings", json={"event_id": event_id, "rating": "satisfied"},
        headers=bearer(reporter))
    assert rated.status_code == 201, rated.text
    assert rated.json()["default_applied"] is False
    case = await loop.wait_for(event_id, lambda c: c["rating"] == "satisfied", token=reporter)
    assert case["closed_loop_complete"] is True
    assert (await loop.case(event_id, police))["reporter_id"] is None

    # The bus: the reporter's id appears in no message, in any field; the seal is there.
    assert loop.sql is not None
    reporter_id = str(loop.people.resident_id)
    leaked = await loop.sql("events", "SELECT count(*) FROM outbox "
                                      f"WHERE envelope::text LIKE '%{reporter_id}%'")
    assert leaked == 0
    sealed = await loop.sql(
        "events",
        "SELECT count(*) FROM outbox WHERE event_type IN ('events.event_reported', "
        "'events.event_status_changed', 'events.event_closed') AND "
        f"envelope->'payload'->>'event_id' = '{event_id}' AND "
        "envelope->'payload'->>'reporter_sealed' IS NOT NULL")
    assert sealed >= 5  # reported, accept, start, submit_result, verify, close, closed...


async def test_an_ordinary_report_still_names_its_reporter_and_carries_no_seal(
    loop: Loop,
) -> None:
    created = await loop.report()
    assert loop.sql is not None
    named = await loop.sql(
        "events",
        "SELECT count(*) FROM outbox WHERE event_type = 'events.event_reported' AND "
        f"envelope->'payload'->>'event_id' = '{created['id']}' AND "
        f"envelope->'payload'->>'reporter_id' = '{loop.people.resident_id}' AND "
        "envelope->'payload'->>'reporter_sealed' IS NULL")
    assert named == 1


def test_a_sealed_reporter_opens_only_for_its_case_and_only_with_the_keyring() -> None:
    seal = ReporterSeal("k1:first-secret")
    case, other_case, reporter = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    sealed = seal.seal(case, reporter)
    assert str(reporter) not in sealed
    assert seal.seal(case, reporter) != sealed  # random nonce: two tips are not linkable
    assert seal.open(case, sealed) == reporter
    with pytest.raises(ReporterSealError):
        seal.open(other_case, sealed)  # copied onto another case
    with pytest.raises(ReporterSealError):
        ReporterSeal("k1:another-secret").open(case, sealed)
    rotated = ReporterSeal("k2:second-secret,k1:first-secret", active_kid="k2")
    assert rotated.open(case, sealed) == reporter  # old cases stay readable after rotation
    assert rotated.seal(case, reporter).startswith("k2:")


async def test_handlers_reading_a_fraud_tips_timeline_never_learn_who_reported_it(
    loop: Loop,
) -> None:
    created = await loop.report(
        category_code="telecom_fraud", description="冒充公检法要求转账到安全账户",
        fields={"channel": "phone", "loss_amount": 800, "suspect_phone": "13800138000"},
    )
    event_id = created["id"]
    await loop.wait_assigned(event_id, COUNTY_POLICE)
    reporter_id = str(loop.people.resident_id)
    for token in (loop.people.unit_staff(COUNTY_POLICE, COUNTY), loop.people.supervisor()):
        steps = await loop.timeline(event_id, token)
        assert steps[0]["action"] == "report"
        assert reporter_id not in {s["actor_id"] for s in steps}
    # The reporter still reads their own timeline (without staff ids).
    assert (await loop.timeline(event_id))[0]["action"] == "report"
