"""Past the deadline a 督办 record is made and the supervisor is notified: routing's timer,
over the bus, into feedback's staff inbox — for the supervisors over the case's town only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.testing.plugin import wait_until
from tests.events.flows import COMMUNITY_UNIT, COUNTY, TOWN, TOWN_UNIT, Loop, MovableClock, bearer

OTHER_TOWN = "350626105"


async def _staff_notices(loop: Loop, token: str) -> list[dict[str, Any]]:
    response = await loop.feedback.get(  # type: ignore[attr-defined]
        "/api/v1/feedback/staff-notices", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_an_overdue_case_reaches_the_town_supervisors_inbox_and_no_other_town(
    feedback_loop: Loop, clock: MovableClock,
) -> None:
    loop = feedback_loop
    created = await loop.report()
    event_id = created["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    clock.advance(timedelta(days=1, hours=6))  # Thursday afternoon: accept-by has passed
    await loop.wait_assigned(event_id, TOWN_UNIT, within=5)

    town_supervisor = loop.people.supervisor(TOWN)

    async def supervised() -> bool:
        return any(n["kind"] == "supervision" and n["event_id"] == event_id
                   for n in await _staff_notices(loop, town_supervisor))
    await wait_until(supervised, within=5)
    mine = [n for n in await _staff_notices(loop, town_supervisor) if n["event_id"] == event_id]
    supervision = [n for n in mine if n["kind"] == "supervision"]
    assert len(supervision) == 1
    assert supervision[0]["region_code"] == TOWN
    assert supervision[0]["case_no"] == created["case_no"]
    county = [n["id"] for n in await _staff_notices(loop, loop.people.supervisor(COUNTY))]
    assert supervision[0]["id"] in county
    assert await _staff_notices(loop, loop.people.supervisor(OTHER_TOWN)) == []

