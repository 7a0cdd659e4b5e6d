"""Manual supervision (人工督办): a supervisor over the case's region orders the unit holding
an open case to act and reply by a time; the unit sees it in its queue and answers; an order
left unanswered goes overdue and is raised a level. Over the events and routing apps on
RabbitMQ (``loop``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.routing.service.supervision import fire_overdue_supervisions
from shared.testing.plugin import wait_until
from tests.events.flows import (
    COMMUNITY,
    COMMUNITY_UNIT,
    OTHER_COMMUNITY_UNIT,
    Loop,
    MovableClock,
    bearer,
)

OTHER_COUNTY = "350623"
OTHER_COMMUNITY = "350626106002"


def _order(reply_by: datetime, level: str = "supervision",
           instruction: str = "请于今日联系房东 13912345678 协调退还押金") -> dict[str, Any]:
    return {"level": level, "instruction": instruction, "reply_by": reply_by.isoformat()}


async def _assigned_case(loop: Loop) -> str:
    created = await loop.report()
    await loop.wait_assigned(created["id"], COMMUNITY_UNIT)
    return str(created["id"])


async def _get(loop: Loop, path: str, token: str, *, expect: int = 200,
               **params: Any) -> Any:
    response = await loop.routing.get(f"/api/v1/routing/{path}", params=params,
                                      headers=bearer(token))
    assert response.status_code == expect, response.text
    return response.json()


async def _count(loop: Loop, where: str = "true") -> int:
    assert loop.sql is not None
    return int(await loop.sql("routing", f"SELECT count(*) FROM supervision_orders WHERE {where}"))


async def _outbox(loop: Loop, event_type: str) -> list[dict[str, Any]]:
    assert loop.sql is not None
    payloads = await loop.sql("routing", "SELECT coalesce(jsonb_agg(envelope->'payload'), "
                              f"'[]'::jsonb) FROM outbox WHERE event_type = '{event_type}'")
    return list(payloads)


async def test_county_supervisor_issues_a_supervision_the_unit_sees_and_answers(
    loop: Loop, clock: MovableClock,
) -> None:
    event_id = await _assigned_case(loop)
    supervisor = loop.people.supervisor()
    staff = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)

    order = await loop.route(f"assignments/{event_id}/supervisions", supervisor,
                             _order(clock() + timedelta(days=1), "listed"), expect=201)

    assert order["status"] == "open"
    assert order["level"] == "listed"
    assert order["unit_id"] == str(COMMUNITY_UNIT)
    assert "13912345678" not in order["instruction"]  # typed numbers are stored masked
    on_case = await _get(loop, f"assignments/{event_id}/supervisions", staff)
    assert [o["id"] for o in on_case["items"]] == [order["id"]]
    queue = await _get(loop, f"units/{COMMUNITY_UNIT}/supervisions", staff)
    assert [o["id"] for o in queue["items"]] == [order["id"]]
    [issued] = await _outbox(loop, "routing.supervision_issued")
    assert issued["supervision_id"] == order["id"]
    assert issued["level"] == "listed"

    replied = await loop.route(f"supervisions/{order['id']}/reply", staff,
                               {"reply": "已约谈房东，押金本周内退还"}, expect=200)

    assert replied["status"] == "replied"
    assert replied["reply"] == "已约谈房东，押金本周内退还"
    assert (await _get(loop, f"units/{COMMUNITY_UNIT}/supervisions", staff))["items"] == []
    done = await _get(loop, f"units/{COMMUNITY_UNIT}/supervisions", staff, status="replied")
    assert [o["id"] for o in done["items"]] == [order["id"]]
    [answer] = await _outbox(loop, "routing.supervision_replied")
    assert answer["late"] is False
    again = await loop.route(f"supervisions/{order['id']}/reply", staff,
                             {"reply": "再答一次"}, expect=409)
    assert again["code"] == "supervision_replied"


async def test_another_countys_supervisor_cannot_supervise_nor_another_units_clerk_reply(
    loop: Loop, clock: MovableClock,
) -> None:
    event_id = await _assigned_case(loop)
    body = _order(clock() + timedelta(days=1))

    refused = await loop.route(f"assignments/{event_id}/supervisions",
                               loop.people.supervisor(OTHER_COUNTY), body, expect=403)
    assert refused["code"] == "out_of_scope"
    refused = await loop.route(f"assignments/{event_id}/supervisions",
                               loop.people.dispatcher(), body, expect=403)
    assert refused["code"] == "role_required"
    assert await _count(loop) == 0

    order = await loop.route(f"assignments/{event_id}/supervisions",
                             loop.people.supervisor(), body, expect=201)
    other_clerk = loop.people.unit_staff(OTHER_COMMUNITY_UNIT, OTHER_COMMUNITY)
    refused = await loop.route(f"supervisions/{order['id']}/reply", other_clerk,
                               {"reply": "不是我们的案子"}, expect=403)
    assert refused["code"] == "not_assigned"
    refused = await _get(loop, f"units/{COMMUNITY_UNIT}/supervisions", other_clerk, expect=403)
    assert refused["code"] == "out_of_scope"
    refused = await _get(loop, f"assignments/{event_id}/supervisions", other_clerk, expect=403)
    assert refused["code"] == "out_of_scope"
    assert await _count(loop, "status = 'open'") == 1


async def test_a_closed_case_refuses_a_supervision(loop: Loop, clock: MovableClock) -> None:
    event_id = await _assigned_case(loop)
    await loop.handle_to_close(event_id, COMMUNITY_UNIT, COMMUNITY)
    await wait_until(lambda: _mirrored_closed(loop, event_id), within=5)

    refused = await loop.route(f"assignments/{event_id}/supervisions", loop.people.supervisor(),
                               _order(clock() + timedelta(days=1)), expect=409)

    assert refused["code"] == "case_closed"
    assert await _count(loop) == 0


async def _mirrored_closed(loop: Loop, event_id: str) -> bool:
    assert loop.sql is not None
    status = await loop.sql("routing", "SELECT status FROM assignments "
                            f"WHERE event_id = '{event_id}'")
    return bool(status in ("closed", "rated"))


async def test_bad_supervision_input_is_refused_and_writes_nothing(
    loop: Loop, clock: MovableClock,
) -> None:
    event_id = await _assigned_case(loop)
    path = f"/api/v1/routing/assignments/{event_id}/supervisions"
    headers = bearer(loop.people.supervisor())
    tomorrow = clock() + timedelta(days=1)
    cases = [
        (_order(clock() - timedelta(minutes=5)), "reply_by_past"),
        (_order(tomorrow, level="urgent"), "validation_error"),
        (_order(tomorrow.replace(tzinfo=None)), "validation_error"),  # no offset: ambiguous
        (_order(tomorrow, instruction=""), "validation_error"),
    ]
    for body, code in cases:
        response = await loop.routing.post(path, json=body, headers=headers)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code
    assert await _count(loop) == 0
    assert await _outbox(loop, "routing.supervision_issued") == []


async def test_an_unanswered_supervision_goes_overdue_and_is_raised_to_the_county(
    loop: Loop, clock: MovableClock,
) -> None:
    event_id = await _assigned_case(loop)
    staff = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    order = await loop.route(f"assignments/{event_id}/supervisions", loop.people.supervisor(),
                             _order(clock() + timedelta(minutes=10), "reminder"), expect=201)

    clock.advance(timedelta(minutes=11))
    await wait_until(lambda: _count(loop, "status = 'overdue'"), within=5)

    [overdue] = (await _get(loop, f"units/{COMMUNITY_UNIT}/supervisions", staff))["items"]
    assert overdue["id"] == order["id"]
    assert overdue["status"] == "overdue"
    # The community's own supervisors are the town's; unanswered, it goes to the county's.
    assert overdue["escalated_region_code"] == "350626"
    [event] = await _outbox(loop, "routing.supervision_overdue")
    assert event["supervisor_region_code"] == "350626"
    raised = await _get(loop, "supervision-orders", loop.people.supervisor(), escalated="true")
    assert [o["id"] for o in raised["items"]] == [order["id"]]
    town = await _get(loop, "supervision-orders", loop.people.supervisor("350626106"),
                      escalated="true")
    assert town["items"] == []
    await loop.route(f"supervisions/{order['id']}/reply", staff, {"reply": "已处理，迟复致歉"},
                     expect=200)
    [answer] = await _outbox(loop, "routing.supervision_replied")
    assert answer["late"] is True


async def test_the_command_centre_lists_supervisions_in_its_regions_a_page_at_a_time(
    loop: Loop, clock: MovableClock,
) -> None:
    supervisor = loop.people.supervisor()
    ids = []
    for _ in range(3):
        event_id = await _assigned_case(loop)
        order = await loop.route(f"assignments/{event_id}/supervisions", supervisor,
                                 _order(clock() + timedelta(days=1)), expect=201)
        ids.append(order["id"])

    first = await _get(loop, "supervision-orders", supervisor, limit=2)
    rest = await _get(loop, "supervision-orders", supervisor, limit=2,
                      cursor=first["next_cursor"])

    assert [o["id"] for o in first["items"] + rest["items"]] == ids[::-1]  # newest first
    assert rest["next_cursor"] is None
    elsewhere = await _get(loop, "supervision-orders", loop.people.supervisor(OTHER_COUNTY))
    assert elsewhere["items"] == []
    refused = await _get(loop, "supervision-orders",
                         loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY), expect=403)
    assert refused["code"] == "role_required"


async def test_supervisions_are_counted_per_unit_for_its_scorecard(
    loop: Loop, clock: MovableClock,
) -> None:
    supervisor = loop.people.supervisor()
    staff = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    event_id = await _assigned_case(loop)
    answered = await loop.route(f"assignments/{event_id}/supervisions", supervisor,
                                _order(clock() + timedelta(days=1), "listed"), expect=201)
    await loop.route(f"assignments/{event_id}/supervisions", supervisor,
                     _order(clock() + timedelta(days=1), "reminder"), expect=201)
    await loop.route(f"supervisions/{answered['id']}/reply", staff, {"reply": "已按要求办理"},
                     expect=200)
    day = clock().date().isoformat()

    counts = await _get(loop, "supervision-counts", staff, **{"from": day, "to": day})

    [unit] = counts["items"]
    assert unit["unit_id"] == str(COMMUNITY_UNIT)
    assert (unit["issued"], unit["listed"], unit["reminder"]) == (2, 1, 1)
    assert (unit["replied_on_time"], unit["replied_late"], unit["awaiting_reply"]) == (1, 0, 1)
    elsewhere = await _get(loop, "supervision-counts", loop.people.supervisor(OTHER_COUNTY),
                           **{"from": day, "to": day})
    assert elsewhere["items"] == []
    refused = await _get(loop, "supervision-counts", supervisor, expect=422,
                         **{"from": day, "to": "2020-01-01"})
    assert refused["code"] == "date_range_invalid"


async def test_closing_a_case_lapses_its_unanswered_supervision_and_it_is_never_raised(
    loop: Loop, clock: MovableClock,
) -> None:
    event_id = await _assigned_case(loop)
    order = await loop.route(f"assignments/{event_id}/supervisions", loop.people.supervisor(),
                             _order(clock() + timedelta(minutes=10)), expect=201)
    await loop.handle_to_close(event_id, COMMUNITY_UNIT, COMMUNITY)

    # Lapsed with the closure itself, in the transaction that mirrors it, and announced.
    await wait_until(lambda: _count(loop, "status = 'lapsed' AND lapsed_at IS NOT NULL"),
                     within=5)
    [lapse] = await _outbox(loop, "routing.supervision_lapsed")
    assert (lapse["supervision_id"], lapse["case_status"], lapse["was_overdue"]) \
        == (order["id"], "closed", False)
    clock.advance(timedelta(minutes=11))
    await _overdue_worker_passes(loop, clock)
    assert await _outbox(loop, "routing.supervision_overdue") == []
    assert await _count(loop, "status = 'lapsed' AND overdue_at IS NULL") == 1
    staff = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    assert (await _get(loop, f"units/{COMMUNITY_UNIT}/supervisions", staff))["items"] == []
    refused = await loop.route(f"supervisions/{order['id']}/reply", staff,
                               {"reply": "案件已办结"}, expect=409)
    assert refused["code"] == "case_closed"
    [counted] = (await _get(loop, "supervision-counts", staff,
                            **{"from": clock().date().isoformat(),
                               "to": clock().date().isoformat()}))["items"]
    assert (counted["awaiting_reply"], counted["went_overdue"]) == (0, 0)


async def test_an_overdue_supervision_lapses_when_its_case_closes_and_says_it_went_overdue(
    loop: Loop, clock: MovableClock,
) -> None:
    event_id = await _assigned_case(loop)
    await loop.route(f"assignments/{event_id}/supervisions", loop.people.supervisor(),
                     _order(clock() + timedelta(minutes=10)), expect=201)
    clock.advance(timedelta(minutes=11))
    await wait_until(lambda: _count(loop, "status = 'overdue'"), within=5)

    await loop.handle_to_close(event_id, COMMUNITY_UNIT, COMMUNITY)

    await wait_until(lambda: _count(loop, "status = 'lapsed'"), within=5)
    [lapse] = await _outbox(loop, "routing.supervision_lapsed")
    assert lapse["was_overdue"] is True
    assert len(await _outbox(loop, "routing.supervision_overdue")) == 1  # raised once only
    staff = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    assert (await _get(loop, f"units/{COMMUNITY_UNIT}/supervisions", staff))["items"] == []


async def _overdue_worker_passes(loop: Loop, clock: MovableClock) -> None:
    """One pass of the overdue worker's use case, at the test's clock (the app's own worker
    scans too; this pass makes the check independent of its timing)."""
    runtime = loop.apps["routing"].state.runtime  # type: ignore[attr-defined]
    await fire_overdue_supervisions(runtime.uow(), now=clock())
