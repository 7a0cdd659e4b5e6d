"""Routing publishes who escalated or transferred a case and the unit they acted for: a
unit's clerk acts for the unit holding the case, a supervisor and the platform for none."""

from __future__ import annotations

import json
import uuid
from typing import Any

from shared import contracts
from tests.events.flows import COMMUNITY, COMMUNITY_UNIT, COUNTY, TOWN_UNIT, Loop

COMMUNITY_NAME = "东门社区居委会"


async def _payload(loop: Loop, event_id: str, event_type: str) -> dict[str, Any]:
    assert loop.sql is not None
    raw = await loop.sql("routing", (
        "SELECT envelope->'payload' FROM outbox "
        f"WHERE event_type = '{event_type}' AND envelope->'payload'->>'event_id' = '{event_id}' "
        "ORDER BY id DESC LIMIT 1"))
    return raw if isinstance(raw, dict) else json.loads(raw)


async def _assigned_to_the_community(loop: Loop) -> str:
    event_id = (await loop.report())["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    return event_id


async def test_a_clerk_escalation_publishes_the_clerk_and_the_community(loop: Loop) -> None:
    event_id = await _assigned_to_the_community(loop)
    clerk_id = uuid.uuid4()
    clerk = loop.people.make_token(subject=clerk_id, roles=["dept_staff"],
                                   departments=[COMMUNITY_UNIT], regions=[COMMUNITY])
    await loop.route(f"assignments/{event_id}/escalate", clerk, {"reason": "社区无法调处"})
    await loop.wait_assigned(event_id, TOWN_UNIT)

    escalated = await _payload(loop, event_id, "routing.event_escalated")
    assert (escalated["actor_role"], escalated["actor_id"], escalated["actor_unit_id"]) \
        == ("dept_staff", str(clerk_id), str(COMMUNITY_UNIT))
    assigned = await _payload(loop, event_id, "routing.event_assigned")
    assert assigned["reason"] == "escalated"
    assert (assigned["actor_id"], assigned["actor_unit_id"], assigned["actor_unit_name"]) \
        == (str(clerk_id), str(COMMUNITY_UNIT), COMMUNITY_NAME)
    assert assigned["previous_unit_id"] == str(COMMUNITY_UNIT)


async def test_a_supervisor_escalation_acts_for_no_unit(loop: Loop) -> None:
    event_id = await _assigned_to_the_community(loop)
    supervisor_id = uuid.uuid4()
    supervisor = loop.people.make_token(subject=supervisor_id, roles=["supervisor"],
                                        regions=[COUNTY])
    await loop.route(f"assignments/{event_id}/escalate", supervisor, {"reason": "督办上提"})
    await loop.wait_assigned(event_id, TOWN_UNIT)

    assigned = await _payload(loop, event_id, "routing.event_assigned")
    assert (assigned["actor_role"], assigned["actor_id"], assigned["actor_unit_id"],
            assigned["actor_unit_name"]) == ("supervisor", str(supervisor_id), None, None)
    escalated = await _payload(loop, event_id, "routing.event_escalated")
    assert escalated["from_unit_id"] == str(COMMUNITY_UNIT)
    assert escalated["actor_unit_id"] is None


def test_an_assignment_from_an_older_routing_without_the_trail_fields_is_still_read() -> None:
    old = {
        "event_id": str(uuid.uuid4()), "seq": 2,
        "unit": {"unit_id": str(TOWN_UNIT), "name": "铜陵镇综治中心", "kind": "town_office",
                 "level": "town", "region_code": "350626106"},
        "reason": "escalated", "previous_unit_id": str(COMMUNITY_UNIT),
        "accept_by": "2026-11-26T01:00:00Z", "resolve_by": "2026-12-01T01:00:00Z",
        "assigned_at": "2026-11-25T01:00:00Z", "actor_role": "dept_staff",
        "actor_unit_id": str(COMMUNITY_UNIT), "note": None, "automatic": False,
    }
    _, body = contracts.validate_payload("routing.event_assigned", None, old)
    assert body["actor_id"] is None
    assert body["actor_unit_name"] is None
    escalated = {"event_id": old["event_id"], "from_unit_id": str(COMMUNITY_UNIT),
                 "to_unit_id": str(TOWN_UNIT), "from_level": "community", "to_level": "town",
                 "automatic": False, "at": "2026-11-25T01:00:00Z"}
    _, body = contracts.validate_payload("routing.event_escalated", None, escalated)
    assert (body["actor_role"], body["actor_id"], body["actor_unit_id"]) == (None, None, None)
