"""A report's duplicate check must read one community's page, however busy the city is.

Every report reads the first page of earlier reports of its category in its community. asyncpg
prepares the statement, and PostgreSQL may settle on the generic plan; this pins what that plan
reads in a category the whole city reports in, before the table was ever analysed (as in the
first busy hours after a deployment)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine

from services.events.service.intake import DUPLICATE_PAGE
from services.events.store import _RECENT
from shared.db.migrate import schema_name
from shared.testing.plugin import Migrator

COMMUNITIES = 40
REPORTS_PER_COMMUNITY = 100
CATEGORY = "dispute_neighbour"

_BUSY_CITY = f"""
INSERT INTO cases (id, case_no, category_code, major_risk, urgency, sensitive, description,
                   region_code, fields, attachment_ids, reporter_id, channel, on_behalf, status,
                   assign_seq, dispatch_trail, result_recorded, open_subtasks, closed_subtasks,
                   co_units, handling_unit_ids, escalation_count, return_count, rework_count,
                   reported_at, updated_at)
SELECT gen_random_uuid(), 'PLAN-' || n, '{CATEGORY}', 'dispute', 'normal', false, '噪音 ' || n,
       '350626106' || lpad((n % {COMMUNITIES})::text, 3, '0') || '001', '{{}}', '{{}}',
       gen_random_uuid(), 'resident', false, 'reported', 0, false, false, '{{}}', '{{}}', '{{}}',
       '{{}}', 0, 0, 0, now() - make_interval(secs => n), now()
FROM generate_series(1, {COMMUNITIES * REPORTS_PER_COMMUNITY}) AS n
"""


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


async def test_the_duplicate_check_reads_one_page_of_its_community_in_a_busy_city(
    migrator: Migrator, database_url: str
) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    await migrator.ensure("events", prefix=prefix)
    first_page = _RECENT.compile(dialect=postgresql.asyncpg.dialect())
    since = datetime.now(UTC) - timedelta(hours=72)
    values = {"category_code": CATEGORY, "community": "350626106007", "since": since,
              "limit": DUPLICATE_PAGE} | {name: first_page.params[name]
                                         for name in first_page.params if name.endswith("_1")}
    # EXECUTE takes no bind parameters: the arguments are spelled out, in the statement's order.
    arguments = ", ".join(
        str(v) if isinstance(v, int) else f"'{v.isoformat() if isinstance(v, datetime) else v}'"
        for v in (values[name] for name in first_page.positiontup or ())
    )
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            await raw.execute(f'SET search_path TO "{schema_name("events", prefix)}"')
            await raw.execute(_BUSY_CITY)
            await raw.execute("SET plan_cache_mode = force_generic_plan")
            await raw.execute(f"PREPARE first_page AS {first_page}")
            explained = await raw.fetchval(
                f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE first_page({arguments})"
            )
            await conn.execute(text("DEALLOCATE first_page"))
    finally:
        await engine.dispose()
    document = json.loads(explained) if isinstance(explained, str) else explained
    nodes = _nodes(document[0]["Plan"])
    scans = [n for n in nodes if n.get("Relation Name") == "cases"]

    assert scans, "the first page no longer reads cases at all"
    for scan in scans:
        assert "left" in scan.get("Index Cond", ""), scan  # the community bounds the scan
        assert scan["Actual Rows"] <= DUPLICATE_PAGE, scan  # and it stops at the page
    assert not any(n["Node Type"] == "Sort" for n in nodes)  # the index gives the order
