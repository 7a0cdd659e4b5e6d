"""The closed loop across the events and routing services over RabbitMQ."""

from __future__ import annotations

from datetime import timedelta

from shared.testing.plugin import wait_until
from tests.events.flows import (
    COMMUNITY,
    COMMUNITY_UNIT,
    COUNTY,
    COUNTY_JUSTICE,
    COUNTY_MARKET,
    COUNTY_POLICE,
    OTHER_COMMUNITY_UNIT,
    TOWN,
    TOWN_UNIT,
    Loop,
    MovableClock,
    bearer,
)


async def test_a_report_is_assigned_handled_verified_and_closed_with_a_full_timeline(
    loop: Loop,
) -> None:
    created = await loop.report()
    assert created["case_no"].startswith("ZZ-2026112")
    # How fast assignment is belongs to bench/, not to a timed test on a busy machine.
    case = await loop.wait_assigned(created["id"], COMMUNITY_UNIT, within=10.0)
    assert case["accept_by"] is not None
    assert case["resolve_by"] is not None

    closed = await loop.handle_to_close(created["id"], COMMUNITY_UNIT, COMMUNITY)
    assert closed["status"] == "closed"

    steps = await loop.timeline(created["id"])
    assert [s["action"] for s in steps] == [
        "report", "dispatch", "accept", "start", "submit_result", "verify", "close"]
    assert all(s["actor_id"] is None for s in steps)  # residents never see staff identities
    assert steps[1]["actor_unit"] == "东门社区居委会"


async def test_a_tenancy_dispute_is_escalated_to_the_county_and_co_handled(loop: Loop) -> None:
    """The article's landlord–agency–tenant case: community → town → county market
    regulator (lead) with police and judicial office assisting."""
    people = loop.people
    created = await loop.report()
    event_id = created["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    community = people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    await loop.act(event_id, "accept", community)
    await loop.route(f"assignments/{event_id}/escalate", community,
                     {"reason": "涉及中介机构，社区无法调处"})
    await loop.wait_assigned(event_id, TOWN_UNIT)

    town = people.unit_staff(TOWN_UNIT, TOWN)
    await loop.act(event_id, "accept", town)
    await loop.route(f"assignments/{event_id}/escalate", town, {"reason": "需县级部门联合处置"})
    case = await loop.wait_assigned(event_id, COUNTY_MARKET)
    assert case["assignee"]["level"] == "county"

    market = people.unit_staff(COUNTY_MARKET, COUNTY)
    await loop.act(event_id, "accept", market)
    answer = await loop.route(
        f"assignments/{event_id}/co-handling", market,
        {"unit_ids": [str(COUNTY_POLICE), str(COUNTY_JUSTICE)], "task": "协助调查中介"},
        expect=201)
    await loop.wait_for(event_id, lambda c: c["open_subtasks"] == 2, token=market)
    # The lead cannot submit the joint result while the assisting units have not answered.
    refused = await loop.events.post(f"/api/v1/events/{event_id}/result",
                                     json={"result": "联合处置完毕"}, headers=bearer(market))
    assert refused.status_code == 409
    assert refused.json()["code"] == "co_handling_pending"
    # A department cannot answer another's sub-task.
    police_id, justice_id = answer["subtask_ids"]
    await loop.route(f"subtasks/{police_id}/answer", people.unit_staff(COUNTY_JUSTICE, COUNTY),
                     {"answer": "冒名"}, expect=403)
    await loop.route(f"subtasks/{police_id}/answer", people.unit_staff(COUNTY_POLICE, COUNTY),
                     {"answer": "已约谈中介负责人"}, expect=204)
    await loop.route(f"subtasks/{justice_id}/answer", people.unit_staff(COUNTY_JUSTICE, COUNTY),
                     {"answer": "已出具调解书"}, expect=204)
    await loop.wait_for(event_id, lambda c: c["open_subtasks"] == 0, token=market)
    # Assisting units see the case they helped on.
    await loop.case(event_id, people.unit_staff(COUNTY_POLICE, COUNTY))

    await loop.act(event_id, "result", market, {"result": "三方达成协议，押金退还"})
    closed = await loop.act(event_id, "verify", people.grid_worker(), {"passed": True})
    assert closed["status"] == "closed"
    actions = [s["action"] for s in await loop.timeline(event_id)]
    assert actions.count("escalate") == 2
    assert actions.count("subtask_answered") == 2
    assert "co_handle" in actions
    assert actions[-1] == "close"


async def test_a_returned_case_is_arbitrated_and_re_dispatched(loop: Loop) -> None:
    people = loop.people
    created = await loop.report()
    event_id = created["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    community = people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    returned = await loop.act(event_id, "return", community, {"reason": "不属于本社区辖区"})
    assert returned["status"] == "returned"

    dispatcher = people.dispatcher()

    async def queued() -> bool:
        response = await loop.routing.get("/api/v1/routing/queue", headers=bearer(dispatcher))
        return any(i["event_id"] == event_id and i["queue_reason"] == "returned"
                   for i in response.json()["items"])

    await wait_until(queued, within=5)
    await wait_until(lambda: _has_step(loop, event_id, "queue"), within=5)
    await loop.route(f"assignments/{event_id}/dispatch", dispatcher,
                     {"unit_id": str(OTHER_COMMUNITY_UNIT), "note": "改派西门社区"})
    await loop.wait_assigned(event_id, OTHER_COMMUNITY_UNIT)
    # The unit that returned it has no hold on it any more.
    await loop.act(event_id, "accept", community, expect=403)
    closed = await loop.handle_to_close(event_id, OTHER_COMMUNITY_UNIT, "350626106002")
    assert closed["status"] == "closed"
    actions = [s["action"] for s in await loop.timeline(event_id)]
    assert actions[:5] == ["report", "dispatch", "return", "queue", "redispatch"]


async def test_an_overdue_case_is_supervised_and_escalated_automatically(
    loop: Loop, clock: MovableClock
) -> None:
    people = loop.people
    created = await loop.report()
    event_id = created["id"]
    case = await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    # Normal urgency: accept within 7 working hours (Wednesday 09:00 → Thursday 09:00).
    assert case["accept_by"].startswith("2026-11-26T01:00")

    clock.advance(timedelta(hours=6))  # 15:00: 4 of 7 working hours used, a reminder only
    await wait_until(lambda: _has_step(loop, event_id, "remind"), within=5)
    assert (await loop.case(event_id))["assignee"]["unit_id"] == str(COMMUNITY_UNIT)

    clock.advance(timedelta(days=1))  # Thursday afternoon: the accept deadline has passed
    case = await loop.wait_assigned(event_id, TOWN_UNIT, within=5)
    assert case["resolve_by"] > case["accept_by"]
    # The supervision notice travels beside the assignment; it may be handled a moment later.
    await wait_until(lambda: _has_step(loop, event_id, "supervise"), within=5)
    # The platform's note on an automatic escalation is for staff; a resident reads its
    # Chinese title instead (tests/events/test_chinese_texts.py).
    steps = await loop.timeline(event_id, people.supervisor())
    escalation = next(s for s in steps if s["action"] == "escalate")
    assert escalation["note"] == "受理期限已过（系统自动）"

    supervisor = people.supervisor()
    response = await loop.routing.get("/api/v1/routing/supervisions", headers=bearer(supervisor))
    mine = [s for s in response.json()["items"] if s["event_id"] == event_id]
    assert len(mine) == 1
    assert mine[0]["auto_escalated"] is True
    assert mine[0]["supervisor_region_code"] == TOWN


async def _has_step(loop: Loop, event_id: str, action: str) -> bool:
    return any(s["action"] == action for s in await loop.timeline(event_id))


async def test_an_assisting_unit_that_does_not_answer_times_out_and_the_lead_goes_on(
    loop: Loop, clock: MovableClock
) -> None:
    created = await loop.report(category_code="illegal_business", description="无证经营棋牌室",
                                fields={"business_name": "某某棋牌室"})
    event_id = created["id"]
    await loop.wait_assigned(event_id, COUNTY_MARKET)  # entry rule: county market regulator
    market = loop.people.unit_staff(COUNTY_MARKET, COUNTY)
    await loop.act(event_id, "accept", market)
    await loop.route(f"assignments/{event_id}/co-handling", market,
                     {"unit_ids": [str(COUNTY_POLICE)], "task": "协助查处",
                      "due_working_hours": 2}, expect=201)
    await loop.wait_for(event_id, lambda c: c["open_subtasks"] == 1, token=market)
    clock.advance(timedelta(hours=3))  # Wednesday 12:00+: two working hours have passed
    await loop.wait_for(event_id, lambda c: c["open_subtasks"] == 0, token=market)
    submitted = await loop.act(event_id, "result", market, {"result": "已取缔，公安未回复"})
    assert submitted["status"] == "result_submitted"
    assert "subtask_timed_out" in [s["action"] for s in await loop.timeline(event_id)]


async def test_a_case_returned_while_co_handled_can_be_finished_by_the_unit_it_goes_to_next(
    loop: Loop,
) -> None:
    """The lead returns a case with sub-tasks still open; routing lets them lapse when the
    dispatcher re-dispatches it, and the new unit must not be held up by them forever."""
    people = loop.people
    created = await loop.report()
    event_id = created["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    community = people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    await loop.act(event_id, "accept", community)
    await loop.route(f"assignments/{event_id}/co-handling", community,
                     {"unit_ids": [str(COUNTY_POLICE)], "task": "协助核实"}, expect=201)
    await loop.wait_for(event_id, lambda c: c["open_subtasks"] == 1, token=community)
    await loop.act(event_id, "return", community, {"reason": "不属于本社区辖区"})
    dispatcher = people.dispatcher()

    async def queued() -> bool:
        response = await loop.routing.get("/api/v1/routing/queue", headers=bearer(dispatcher))
        return any(i["event_id"] == event_id for i in response.json()["items"])

    await wait_until(queued, within=5)
    await loop.route(f"assignments/{event_id}/dispatch", dispatcher,
                     {"unit_id": str(OTHER_COMMUNITY_UNIT), "note": "改派西门社区"})
    case = await loop.wait_assigned(event_id, OTHER_COMMUNITY_UNIT)
    assert case["open_subtasks"] == 0
    assert case["co_handling_units"] == []
    # The old assisting unit has no hold on the case any more.
    response = await loop.events.get(f"/api/v1/events/{event_id}",
                                     headers=bearer(people.unit_staff(COUNTY_POLICE, COUNTY)))
    assert response.status_code == 404
    closed = await loop.handle_to_close(event_id, OTHER_COMMUNITY_UNIT, "350626106002")
    assert closed["status"] == "closed"
