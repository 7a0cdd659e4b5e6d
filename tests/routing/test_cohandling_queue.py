"""Co-handling (部门协同) as the assisting units work it: each sees the sub-tasks asked of it in
its own queue (task, lead unit, due time, case), opens and answers them with nothing but what
the list gave; the lead unit reads every answer for the case page; the scorecard counts the
assisting work. Over the events and routing apps on RabbitMQ (``loop``)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from shared.testing.plugin import wait_until
from tests.events.flows import (
    COMMUNITY,
    COMMUNITY_UNIT,
    COUNTY,
    COUNTY_JUSTICE,
    COUNTY_MARKET,
    COUNTY_POLICE,
    Loop,
    MovableClock,
    bearer,
)

OTHER_COUNTY = "350623"


async def _get(loop: Loop, path: str, token: str, *, expect: int = 200, **params: Any) -> Any:
    response = await loop.routing.get(f"/api/v1/routing/{path}", params=params,
                                      headers=bearer(token))
    assert response.status_code == expect, response.text
    return response.json()


async def _market_case(loop: Loop) -> tuple[str, str]:
    """A case the county market regulator holds and has accepted: (event id, its staff)."""
    created = await loop.report(category_code="illegal_business", description="无证经营棋牌室",
                                fields={"business_name": "某某棋牌室"})
    await loop.wait_assigned(created["id"], COUNTY_MARKET)
    market = loop.people.unit_staff(COUNTY_MARKET, COUNTY)
    await loop.act(created["id"], "accept", market)
    return str(created["id"]), market


async def _ask(loop: Loop, event_id: str, lead: str, units: list[uuid.UUID],
               task: str = "协助查处，联系人 13912345678", **extra: Any) -> list[str]:
    answer = await loop.route(f"assignments/{event_id}/co-handling", lead,
                              {"unit_ids": [str(u) for u in units], "task": task, **extra},
                              expect=201)
    return [str(i) for i in answer["subtask_ids"]]


async def test_assisting_unit_finds_opens_and_answers_its_subtask_from_its_own_queue(
    loop: Loop,
) -> None:
    event_id, market = await _market_case(loop)
    await _ask(loop, event_id, market, [COUNTY_POLICE, COUNTY_JUSTICE])
    officer_id = uuid.uuid4()
    police = loop.people.make_token(subject=officer_id, roles=["dept_staff"],
                                    departments=[COUNTY_POLICE], regions=[COUNTY])

    queue = await _get(loop, "subtasks", police)

    [item] = queue["items"]
    assert item["event_id"] == event_id
    assert item["case_no"]
    assert item["lead_unit_id"] == str(COUNTY_MARKET)
    assert item["lead_unit_name"]
    assert item["unit_id"] == str(COUNTY_POLICE)
    assert item["task"].startswith("协助查处")
    assert "13912345678" not in item["task"]
    assert item["status"] == "open"
    assert item["overdue"] is False
    assert item["due_at"]
    opened = await _get(loop, f"subtasks/{item['id']}", police)
    assert opened["task"] == item["task"]
    photo = uuid.uuid4()
    await loop.route(f"subtasks/{item['id']}/answer", police,
                     {"answer": "已约谈经营者", "attachment_ids": [str(photo)]}, expect=204)

    assert (await _get(loop, "subtasks", police, state="open"))["items"] == []
    [answered] = (await _get(loop, "subtasks", police, state="answered"))["items"]
    assert answered["id"] == item["id"]
    case_page = await _get(loop, f"assignments/{event_id}/subtasks", market)
    by_unit = {s["unit_id"]: s for s in case_page["items"]}
    police_answer = by_unit[str(COUNTY_POLICE)]
    assert police_answer["status"] == "answered"
    assert police_answer["answer"] == "已约谈经营者"
    assert police_answer["answered_by"] == str(officer_id)
    assert police_answer["closed_at"]
    assert police_answer["answer_attachment_ids"] == [str(photo)]
    assert by_unit[str(COUNTY_JUSTICE)]["status"] == "open"
    assert by_unit[str(COUNTY_JUSTICE)]["answer"] is None


async def test_clerk_of_another_unit_cannot_list_open_or_answer_a_subtask(loop: Loop) -> None:
    event_id, market = await _market_case(loop)
    police_task, justice_task = await _ask(loop, event_id, market,
                                           [COUNTY_POLICE, COUNTY_JUSTICE])
    justice = loop.people.unit_staff(COUNTY_JUSTICE, COUNTY)
    community = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)

    listed = await _get(loop, f"units/{COUNTY_POLICE}/subtasks", justice, expect=403)
    assert listed["code"] == "out_of_scope"
    listed = await _get(loop, "subtasks", justice, expect=403, unit_id=str(COUNTY_POLICE))
    assert listed["code"] == "out_of_scope"
    opened = await _get(loop, f"subtasks/{police_task}", justice, expect=404)
    assert opened["code"] == "subtask_not_found"
    answered = await loop.route(f"subtasks/{police_task}/answer", justice,
                                {"answer": "冒名回复"}, expect=403)
    assert answered["code"] == "not_assigned"
    # Its own queue holds only its own sub-task; on the case page it sees only its own.
    assert [s["id"] for s in (await _get(loop, "subtasks", justice))["items"]] == [justice_task]
    own = await _get(loop, f"assignments/{event_id}/subtasks", justice)
    assert [s["id"] for s in own["items"]] == [justice_task]
    refused = await _get(loop, f"assignments/{event_id}/subtasks", community, expect=403)
    assert refused["code"] == "out_of_scope"
    refused = await _get(loop, "subtasks", loop.people.resident(), expect=403)
    assert refused["code"] == "out_of_scope"
    # Supervisors over the unit's county see its queue; those of another county do not.
    elsewhere = await _get(loop, f"units/{COUNTY_POLICE}/subtasks",
                           loop.people.supervisor(OTHER_COUNTY), expect=403)
    assert elsewhere["code"] == "out_of_scope"
    overseen = await _get(loop, f"units/{COUNTY_POLICE}/subtasks", loop.people.supervisor())
    assert [s["id"] for s in overseen["items"]] == [police_task]
    still_open = await _get(loop, f"subtasks/{police_task}", market)
    assert still_open["status"] == "open"


async def test_overdue_subtasks_are_filtered_and_the_queue_pages(
    loop: Loop, clock: MovableClock,
) -> None:
    first_case, market = await _market_case(loop)
    second_case, _ = await _market_case(loop)
    asked = [*await _ask(loop, first_case, market, [COUNTY_POLICE], due_working_hours=2),
             *await _ask(loop, second_case, market, [COUNTY_POLICE], due_working_hours=3)]
    police = loop.people.unit_staff(COUNTY_POLICE, COUNTY)
    assert (await _get(loop, "subtasks", police, state="overdue"))["items"] == []

    page = await _get(loop, "subtasks", police, limit=1)
    rest = await _get(loop, "subtasks", police, limit=1, cursor=page["next_cursor"])

    assert [s["id"] for s in page["items"] + rest["items"]] == asked  # nearest due first
    assert rest["next_cursor"] is None
    bad = await _get(loop, "subtasks", police, expect=400, cursor="not-a-cursor")
    assert bad["code"] == "cursor_invalid"
    clock.advance(timedelta(hours=2, minutes=30))  # the first is past due, the second not
    overdue = await _get(loop, "subtasks", police, state="overdue")
    assert [s["id"] for s in overdue["items"]] == asked[:1]
    assert overdue["items"][0]["overdue"] is True


async def test_assisting_work_is_counted_per_unit_on_time_and_overdue(
    loop: Loop, clock: MovableClock,
) -> None:
    event_id, market = await _market_case(loop)
    police_task, _ = await _ask(loop, event_id, market, [COUNTY_POLICE, COUNTY_JUSTICE],
                                due_working_hours=2)
    police = loop.people.unit_staff(COUNTY_POLICE, COUNTY)
    await loop.route(f"subtasks/{police_task}/answer", police, {"answer": "已协助核查"},
                     expect=204)
    clock.advance(timedelta(hours=3))
    justice = loop.people.unit_staff(COUNTY_JUSTICE, COUNTY)

    async def timed_out() -> bool:
        items = (await _get(loop, "subtasks", justice, state="overdue"))["items"]
        return bool(items) and items[0]["status"] == "timed_out"

    await wait_until(timed_out, within=5)
    day = clock().date().isoformat()

    counts = await _get(loop, "cohandling-counts", loop.people.supervisor(),
                        **{"from": day, "to": day})

    by_unit = {c["unit_id"]: c for c in counts["items"]}
    assert (by_unit[str(COUNTY_POLICE)]["asked"],
            by_unit[str(COUNTY_POLICE)]["answered_on_time"]) == (1, 1)
    assert by_unit[str(COUNTY_JUSTICE)]["timed_out"] == 1
    assert by_unit[str(COUNTY_JUSTICE)]["answered_on_time"] == 0
    # As supervision-counts: staff read their own unit's and the units in their regions.
    community = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    outside = await _get(loop, "cohandling-counts", community, **{"from": day, "to": day})
    assert outside["items"] == []
    elsewhere = await _get(loop, "cohandling-counts", loop.people.supervisor(OTHER_COUNTY),
                           **{"from": day, "to": day})
    assert elsewhere["items"] == []
    refused = await _get(loop, "cohandling-counts", loop.people.resident(), expect=403,
                         **{"from": day, "to": day})
    assert refused["code"] == "role_required"
    bad = await _get(loop, "cohandling-counts", police, expect=422,
                     **{"from": day, "to": "2020-01-01"})
    assert bad["code"] == "date_range_invalid"
