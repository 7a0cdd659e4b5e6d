"""A true trail: every escalation or transfer step names the staff member who did it and the
unit they acted for (the platform for a timer), and the unit a case left keeps reading it
and its timeline; a unit that never held it still cannot."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

from PIL import Image

from shared.testing.plugin import wait_until
from tests.events.flows import (
    COMMUNITY,
    COMMUNITY_UNIT,
    COUNTY,
    COUNTY_MARKET,
    COUNTY_POLICE,
    OTHER_COMMUNITY_UNIT,
    TOWN,
    TOWN_UNIT,
    Loop,
    MovableClock,
    bearer,
)

COMMUNITY_NAME = "东门社区居委会"
OTHER_COMMUNITY = "350626106002"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 160, 60)).save(out, "PNG")
    return out.getvalue()


PNG = _png()


def _clerk(loop: Loop, subject: uuid.UUID, unit: uuid.UUID = COMMUNITY_UNIT,
           region: str = COMMUNITY) -> str:
    return loop.people.make_token(subject=subject, roles=["dept_staff"], departments=[unit],
                                  regions=[region])


def _step(steps: list[dict[str, Any]], action: str) -> dict[str, Any]:
    return next(s for s in steps if s["action"] == action)


async def _escalated_by_the_community(loop: Loop, clerk: str) -> str:
    event_id = (await loop.report())["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    await loop.act(event_id, "accept", clerk)
    await loop.route(f"assignments/{event_id}/escalate", clerk,
                     {"reason": "涉及中介机构，社区无法调处"})
    await loop.wait_assigned(event_id, TOWN_UNIT)
    return event_id


async def test_a_community_escalation_names_the_clerk_and_the_community_it_acted_for(
    loop: Loop,
) -> None:
    clerk_id = uuid.uuid4()
    event_id = await _escalated_by_the_community(loop, _clerk(loop, clerk_id))

    town = loop.people.unit_staff(TOWN_UNIT, TOWN)
    step = _step(await loop.timeline(event_id, town), "escalate")
    assert step["actor_role"] == "dept_staff"
    assert step["actor_id"] == str(clerk_id)
    assert step["actor_unit"] == COMMUNITY_NAME
    assert step["note"] == "涉及中介机构，社区无法调处"
    # The resident sees the role and the unit, never which staff member acted.
    for_resident = _step(await loop.timeline(event_id), "escalate")
    assert for_resident["actor_unit"] == COMMUNITY_NAME
    assert for_resident["actor_id"] is None


async def test_the_community_keeps_reading_the_case_it_escalated_and_an_unrelated_unit_cannot(
    loop: Loop,
) -> None:
    clerk = _clerk(loop, uuid.uuid4())
    event_id = await _escalated_by_the_community(loop, clerk)

    # The community follows what became of it: with the town, and the town's steps.
    town = loop.people.unit_staff(TOWN_UNIT, TOWN)
    await loop.act(event_id, "accept", town)
    case = await loop.wait_for(event_id, lambda c: c["status"] == "accepted", token=clerk)
    assert case["assignee"]["unit_id"] == str(TOWN_UNIT)
    actions = [s["action"] for s in await loop.timeline(event_id, clerk)]
    assert actions[-2:] == ["escalate", "accept"]
    # Reading is all it keeps: the case is no longer its to work.
    await loop.act(event_id, "start", clerk, expect=403)

    stranger = _clerk(loop, uuid.uuid4(), OTHER_COMMUNITY_UNIT, OTHER_COMMUNITY)
    for path in (f"/api/v1/events/{event_id}", f"/api/v1/events/{event_id}/timeline"):
        refused = await loop.events.get(path, headers=bearer(stranger))
        assert refused.status_code == 404, refused.text
        assert refused.json()["code"] == "event_not_found"


async def test_an_automatic_escalation_names_the_platform_and_no_unit(
    loop: Loop, clock: MovableClock
) -> None:
    event_id = (await loop.report())["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    clock.advance(timedelta(days=1, hours=6))  # Thursday afternoon: accept deadline passed
    await loop.wait_assigned(event_id, TOWN_UNIT, within=5)

    town = loop.people.unit_staff(TOWN_UNIT, TOWN)
    await wait_until(lambda: _has_step(loop, event_id, "escalate", town), within=5)
    step = _step(await loop.timeline(event_id, town), "escalate")
    assert step["actor_role"] == "system"
    assert step["actor_id"] is None
    assert step["actor_unit"] is None
    assert step["note"] == "受理期限已过（系统自动）"


async def test_a_transfer_names_the_clerk_and_the_unit_that_gave_the_case_away(
    loop: Loop,
) -> None:
    clerk_id = uuid.uuid4()
    clerk = _clerk(loop, clerk_id)
    event_id = (await loop.report())["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    await loop.route(f"assignments/{event_id}/transfer", clerk,
                     {"unit_id": str(OTHER_COMMUNITY_UNIT), "reason": "房屋属西门社区"})
    await loop.wait_assigned(event_id, OTHER_COMMUNITY_UNIT, token=clerk)

    step = _step(await loop.timeline(event_id, clerk), "transfer")
    assert (step["actor_role"], step["actor_id"], step["actor_unit"]) \
        == ("dept_staff", str(clerk_id), COMMUNITY_NAME)
    # The community that gave it away reads it, but an unrelated unit does not.
    assert (await loop.case(event_id, clerk))["assignee"]["unit_id"] \
        == str(OTHER_COMMUNITY_UNIT)
    refused = await loop.events.get(f"/api/v1/events/{event_id}",
                                    headers=bearer(loop.people.unit_staff(TOWN_UNIT, TOWN)))
    assert refused.status_code == 404


async def test_a_dispatcher_transfer_names_the_dispatcher_and_no_unit(loop: Loop) -> None:
    dispatcher_id = uuid.uuid4()
    dispatcher = loop.people.make_token(subject=dispatcher_id, roles=["dispatcher"],
                                        regions=["350626"])
    event_id = (await loop.report())["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    await loop.route(f"assignments/{event_id}/transfer", dispatcher,
                     {"unit_id": str(OTHER_COMMUNITY_UNIT), "reason": "房屋属西门社区"})
    await loop.wait_assigned(event_id, OTHER_COMMUNITY_UNIT)

    step = _step(await loop.timeline(event_id, dispatcher), "transfer")
    assert (step["actor_role"], step["actor_id"], step["actor_unit"]) \
        == ("dispatcher", str(dispatcher_id), None)


async def _has_step(loop: Loop, event_id: str, action: str, token: str) -> bool:
    return any(s["action"] == action for s in await loop.timeline(event_id, token))


async def test_police_who_transferred_a_fraud_tip_read_it_masked_not_as_evidence(
    loop: Loop,
) -> None:
    """Read access is all a unit keeps: a sensitive tip's evidence (the reported number as
    typed) is for the units working it now."""
    created = await loop.report(
        category_code="telecom_fraud", description="有人用13900000000冒充客服",
        fields={"channel": "phone", "loss_amount": 3000, "suspect_phone": "13900000000"})
    event_id = created["id"]
    await loop.wait_assigned(event_id, COUNTY_POLICE)
    police = _clerk(loop, uuid.uuid4(), COUNTY_POLICE, COUNTY)
    await loop.route(f"assignments/{event_id}/transfer", police,
                     {"unit_id": str(COUNTY_MARKET), "reason": "涉诈商户，转市场监管"})
    await loop.wait_assigned(event_id, COUNTY_MARKET, token=police)

    case = await loop.case(event_id, police)
    assert case["fields"]["suspect_phone"] == "139****0000"
    assert case["reporter_id"] is None
    market = await loop.case(event_id, loop.people.unit_staff(COUNTY_MARKET, COUNTY))
    assert market["fields"]["suspect_phone"] == "13900000000"


async def _handled_before(loop: Loop, token: str, *, listing: bool = False,
                          flag: str = "true") -> list[str]:
    path = "/api/v1/events" if listing else "/api/v1/events/search"
    response = await loop.events.get(path, headers=bearer(token),
                                     params={"handled_before": flag})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def _upload(loop: Loop) -> str:
    response = await loop.events.post(
        "/api/v1/events/attachments", headers=bearer(loop.people.resident()),
        files={"file": ("photo.png", PNG, "application/octet-stream")})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_the_community_a_timer_moved_the_case_from_still_reads_it_and_finds_it(
    loop: Loop, clock: MovableClock
) -> None:
    """A timer escalation names no acting unit; the community that held the case keeps
    reading it, its timeline and its photo, finds it as handled before, and acts on nothing."""
    photo = await _upload(loop)
    event_id = (await loop.report(attachments=[photo]))["id"]
    clerk = _clerk(loop, uuid.uuid4())
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    assert event_id not in await _handled_before(loop, clerk)  # it holds it: not "before"
    clock.advance(timedelta(days=1, hours=6))  # the accept deadline passed: up to the town
    await loop.wait_assigned(event_id, TOWN_UNIT, within=5, token=clerk)

    assert (await loop.case(event_id, clerk))["assignee"]["unit_id"] == str(TOWN_UNIT)
    assert "escalate" in [s["action"] for s in await loop.timeline(event_id, clerk)]
    read = await loop.events.get(f"/api/v1/events/attachments/{photo}", headers=bearer(clerk))
    assert read.status_code == 200
    assert read.content == PNG
    assert event_id in await _handled_before(loop, clerk)
    assert event_id in await _handled_before(loop, clerk, listing=True)
    assert event_id not in await _handled_before(loop, clerk, flag="false")
    # Read only: the case's actions and routing's moves are the town's now.
    refused = await loop.act(event_id, "accept", clerk, expect=403)
    assert refused["code"] == "not_assigned"
    refused = await loop.route(f"assignments/{event_id}/escalate", clerk,
                               {"reason": "再上报"}, expect=403)
    assert refused["code"] == "not_assigned"
    # A unit that never held it reads and finds nothing.
    stranger = _clerk(loop, uuid.uuid4(), OTHER_COMMUNITY_UNIT, OTHER_COMMUNITY)
    for path in (f"/api/v1/events/{event_id}", f"/api/v1/events/{event_id}/timeline",
                 f"/api/v1/events/attachments/{photo}"):
        refused_read = await loop.events.get(path, headers=bearer(stranger))
        assert refused_read.status_code == 404, path
    assert event_id not in await _handled_before(loop, stranger)
    assert event_id not in await _handled_before(loop, stranger, flag="false")


async def test_a_unit_that_returned_a_case_keeps_reading_it_and_routings_views_of_it(
    loop: Loop,
) -> None:
    # Scoped to its unit alone (no region), so only the trail admits it to routing's views.
    clerk = loop.people.make_token(roles=["dept_staff"], departments=[COMMUNITY_UNIT])
    event_id = (await loop.report())["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    await loop.act(event_id, "return", clerk, {"reason": "不属于本社区辖区"})
    await loop.wait_for(event_id, lambda c: c["status"] == "returned", token=clerk)
    dispatcher = loop.people.dispatcher()

    async def queued() -> bool:
        response = await loop.routing.get("/api/v1/routing/queue", headers=bearer(dispatcher))
        return event_id in [item["event_id"] for item in response.json()["items"]]

    await wait_until(queued, within=5)
    await loop.route(f"assignments/{event_id}/dispatch", dispatcher,
                     {"unit_id": str(OTHER_COMMUNITY_UNIT)})
    await loop.wait_assigned(event_id, OTHER_COMMUNITY_UNIT, token=clerk)

    assert event_id in await _handled_before(loop, clerk)
    supervisions = await loop.routing.get(f"/api/v1/routing/assignments/{event_id}/supervisions",
                                          headers=bearer(clerk))
    assert supervisions.status_code == 200, supervisions.text
    assert supervisions.json()["items"] == []
    subtasks = await loop.routing.get(f"/api/v1/routing/assignments/{event_id}/subtasks",
                                      headers=bearer(clerk))
    assert subtasks.status_code == 200, subtasks.text
    await loop.act(event_id, "accept", clerk, expect=403)
    # Staff of a unit that never held it, elsewhere in the county, see neither.
    stranger = _clerk(loop, uuid.uuid4(), COUNTY_MARKET, "350626105")
    refused = await loop.routing.get(f"/api/v1/routing/assignments/{event_id}/supervisions",
                                     headers=bearer(stranger))
    assert refused.status_code == 403
    assert refused.json()["code"] == "out_of_scope"


async def test_police_who_transferred_a_fraud_tip_do_not_open_its_attachments(
    loop: Loop,
) -> None:
    photo = await _upload(loop)
    created = await loop.report(
        category_code="telecom_fraud", description="有人冒充客服", attachments=[photo],
        fields={"channel": "phone", "loss_amount": 3000, "suspect_phone": "13900000000"})
    event_id = created["id"]
    await loop.wait_assigned(event_id, COUNTY_POLICE)
    police = _clerk(loop, uuid.uuid4(), COUNTY_POLICE, COUNTY)
    await loop.route(f"assignments/{event_id}/transfer", police,
                     {"unit_id": str(COUNTY_MARKET), "reason": "涉诈商户，转市场监管"})
    await loop.wait_assigned(event_id, COUNTY_MARKET, token=police)

    refused = await loop.events.get(f"/api/v1/events/attachments/{photo}",
                                    headers=bearer(police))
    assert refused.status_code == 404
    market = loop.people.unit_staff(COUNTY_MARKET, COUNTY)
    read = await loop.events.get(f"/api/v1/events/attachments/{photo}", headers=bearer(market))
    assert read.status_code == 200
