"""Arbitration of a return: the dispatcher's queue names the unit that returned the case, so
the dispatcher can send it back there with a reason (a transfer); an unmatched case names none."""

from __future__ import annotations

from typing import Any

from shared.testing.plugin import wait_until
from tests.events.flows import COMMUNITY, COMMUNITY_UNIT, Loop, bearer


async def _queued(loop: Loop, event_id: str) -> dict[str, Any] | None:
    response = await loop.routing.get("/api/v1/routing/queue",
                                      headers=bearer(loop.people.dispatcher()))
    assert response.status_code == 200, response.text
    return next((i for i in response.json()["items"] if i["event_id"] == event_id), None)


async def test_the_queue_names_the_unit_that_returned_a_case_and_it_is_sent_back(
    loop: Loop,
) -> None:
    created = await loop.report()
    event_id = created["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    await loop.act(event_id, "return", loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY),
                   {"reason": "不属于本社区辖区"})
    await wait_until(lambda: _queued(loop, event_id), within=5)
    item = await _queued(loop, event_id)
    assert item is not None
    assert (item["queue_reason"], item["returned_by_unit_id"]) == ("returned", str(COMMUNITY_UNIT))

    await loop.route(f"assignments/{event_id}/transfer", loop.people.dispatcher(),
                     {"unit_id": item["returned_by_unit_id"], "reason": "经核实属本社区辖区"})
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)


async def test_an_unmatched_case_names_no_returning_unit(loop: Loop) -> None:
    created = await loop.report(category_code="political_security", description="可疑传单",
                                fields={})
    await wait_until(lambda: _queued(loop, created["id"]), within=5)
    item = await _queued(loop, created["id"])
    assert item is not None
    assert (item["queue_reason"], item["returned_by_unit_id"]) == ("no_rule", None)
