"""The closed loop across the events and routing services over RabbitMQ."""

from __future__ import annotations

import time

from tests.events.flows import COMMUNITY, COMMUNITY_UNIT, Loop


async def test_a_report_is_assigned_handled_verified_and_closed_with_a_full_timeline(
    loop: Loop,
) -> None:
    started = time.monotonic()
    created = await loop.report()
    assert created["case_no"].startswith("ZZ-2026112")
    case = await loop.wait_assigned(created["id"], COMMUNITY_UNIT, within=1.0)
    assert time.monotonic() - started < 1.0
    assert case["accept_by"] is not None
    assert case["resolve_by"] is not None

    closed = await loop.handle_to_close(created["id"], COMMUNITY_UNIT, COMMUNITY)
    assert closed["status"] == "closed"

    steps = await loop.timeline(created["id"])
    assert [s["action"] for s in steps] == [
        "report", "dispatch", "accept", "start", "submit_result", "verify", "close"]
    assert all(s["actor_id"] is None for s in steps)  # residents never see staff identities
    assert steps[1]["actor_unit"] == "东门社区居委会"
