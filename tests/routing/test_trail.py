"""Routing publishes who escalated or transferred a case and the unit they acted for: a
unit's clerk acts for the unit holding the case, a supervisor and the platform for none."""

from __future__ import annotations

import json
import uuid
from typing import Any

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
