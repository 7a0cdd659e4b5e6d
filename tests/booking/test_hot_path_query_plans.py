"""The hot path's read must stay an index probe however many bookings a round holds.

asyncpg prepares every statement, and after a few runs PostgreSQL may switch a prepared
statement to its generic plan. These tests pin what that plan does with the duplicate check.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from services.booking.store.claims import CONTEXT_QUERY
from tests.booking.conftest import TOWN, BookingWorld


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


async def _generic_plan_nodes_on_bookings(world: BookingWorld, *params: Any) -> list[dict]:
    async with world.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.execute(f'SET search_path TO "{world.schema}"')
        await raw.execute("SET plan_cache_mode = force_generic_plan")
        await raw.execute(f"PREPARE booking_context(uuid, uuid, uuid, uuid) AS {CONTEXT_QUERY}")
        try:
            # EXECUTE takes no bind parameters: the arguments are uuids (or NULL), spelled out.
            arguments = ", ".join("NULL" if p is None else f"'{uuid.UUID(str(p))}'" for p in params)
            explained = await raw.fetchval(
                f"EXPLAIN (FORMAT JSON) EXECUTE booking_context({arguments})"
            )
        finally:
            await raw.execute("DEALLOCATE booking_context")
            await raw.execute("RESET plan_cache_mode")
    # The engine's connections decode json already; a bare asyncpg one would not.
    document = json.loads(explained) if isinstance(explained, str) else explained
    plan = document[0]["Plan"]
    return [n for n in _nodes(plan) if n.get("Relation Name") == "bookings"]


async def test_the_duplicate_check_probes_the_holder_index_in_a_busy_round(
    world: BookingWorld,
) -> None:
    # Rounds that many residents have booked into since the table was last analysed (here:
    # never, as in the first surge after a deployment); rows only, the plan is what matters.
    for _ in range(6):
        round_ = await world.create_round(
            points=[{"name": "绥安镇社区服务中心", "region_code": TOWN, "quota": 5000}]
        )
        point = round_["pickup_points"][0]
        await world.sql(
            "INSERT INTO bookings (id, round_id, point_id, slot_id, stripe_id, user_id, "
            "holder_key, status, booked_at) "
            "SELECT gen_random_uuid(), s.round_id, s.point_id, s.id, "
            "(SELECT min(q.id) FROM quota_stripes q WHERE q.slot_id = s.id), "
            "g.u, 'u:' || g.u, 'confirmed', now() "
            "FROM slots s, (SELECT gen_random_uuid() AS u FROM generate_series(1, 2500)) g "
            "WHERE s.point_id = CAST(:p AS uuid)",
            p=point["id"],
        )

    probes = await _generic_plan_nodes_on_bookings(
        world, uuid.UUID(round_["id"]), uuid.UUID(point["id"]), None, uuid.uuid4()
    )

    assert probes, "the context read no longer looks at bookings at all"
    for node in probes:
        assert "holder_key" in node.get("Index Cond", ""), node
        assert "holder_key" not in node.get("Filter", ""), node
