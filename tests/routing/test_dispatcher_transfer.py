"""转办 by the dispatcher: a dispatcher over the case's region moves a case that is assigned
or still queued; a dispatcher elsewhere and a unit that does not hold the case are refused."""

from __future__ import annotations

from shared.testing.plugin import wait_until
from tests.events.flows import (
    COMMUNITY,
    COMMUNITY_UNIT,
    COUNTY_POLICE,
    OTHER_COMMUNITY_UNIT,
    Loop,
)

OTHER_COUNTY = "350623"


async def _has(loop: Loop, event_id: str, action: str) -> bool:
    return any(s["action"] == action for s in await loop.timeline(event_id))


async def test_dispatcher_in_scope_transfers_an_assigned_case(loop: Loop) -> None:
    created = await loop.report()
    event_id = created["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    await loop.act(event_id, "accept", loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY))

    await loop.route(f"assignments/{event_id}/transfer", loop.people.dispatcher(),
                     {"unit_id": str(OTHER_COMMUNITY_UNIT), "reason": "房屋属西门社区"})

    case = await loop.wait_assigned(event_id, OTHER_COMMUNITY_UNIT)
    assert case["status"] == "dispatched"


async def test_dispatcher_in_scope_transfers_a_queued_case(loop: Loop) -> None:
    created = await loop.report(category_code="political_security", description="可疑传单",
                                fields={})
    event_id = created["id"]
    await wait_until(lambda: _has(loop, event_id, "queue"), within=5)

    await loop.route(f"assignments/{event_id}/transfer", loop.people.dispatcher("350600"),
                     {"unit_id": str(COUNTY_POLICE), "reason": "交公安处置"})

    await loop.wait_assigned(event_id, COUNTY_POLICE, token=loop.people.dispatcher())


async def test_dispatcher_out_of_scope_and_a_unit_without_the_case_cannot_transfer(
    loop: Loop,
) -> None:
    created = await loop.report()
    event_id = created["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    body = {"unit_id": str(OTHER_COMMUNITY_UNIT), "reason": "越权转办"}

    refused = await loop.route(f"assignments/{event_id}/transfer",
                               loop.people.dispatcher(OTHER_COUNTY), body, expect=403)
    assert refused["code"] == "out_of_scope"
    refused = await loop.route(f"assignments/{event_id}/transfer",
                               loop.people.unit_staff(OTHER_COMMUNITY_UNIT, "350626106002"),
                               body, expect=403)
    assert refused["code"] == "not_assigned"

    case = await loop.case(event_id)
    assert case["assignee"]["unit_id"] == str(COMMUNITY_UNIT)
