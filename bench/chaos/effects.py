"""What the faults did, read from the database and the broker.

The effect of an accepted report (a 201 from ``POST /api/v1/events``): events records the case
and its ``report`` step and emits ``events.event_reported``; routing assigns a unit and emits
``routing.event_assigned``; events records that assignment as the case's ``dispatch`` step. An
accepted report is *settled* once its case has that step on events' timeline, and *lost* if it
never gets it.

A *duplicate effect* is anything done twice that must be done once (per run, over its cases):
a report stored as two cases (each report's description is unique), a case with two ``report``
or two ``dispatch`` steps, a case routing assigned more than once (``assignments.seq`` above 1;
nothing in the run transfers or escalates), or two live timers of one clock.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from datetime import datetime

import asyncpg

from shared.db.migrate import schema_name

UNSETTLED = """
SELECT count(*) FROM unnest($1::uuid[]) AS accepted(id)
WHERE NOT EXISTS (SELECT 1 FROM {events}.timeline t
                  WHERE t.event_id = accepted.id AND t.action = 'dispatch')
"""

DUPLICATES = {
    "report_stored_twice": """
        SELECT coalesce(sum(n - 1), 0) FROM (
            SELECT count(*) AS n FROM {events}.cases WHERE description LIKE $1 || '%'
            GROUP BY description HAVING count(*) > 1) d""",
    "timeline_step_twice": """
        SELECT coalesce(sum(n - 1), 0) FROM (
            SELECT count(*) AS n FROM {events}.timeline t JOIN {events}.cases c ON c.id = t.event_id
            WHERE c.description LIKE $1 || '%' AND t.action IN ('report', 'dispatch')
            GROUP BY t.event_id, t.action HAVING count(*) > 1) d""",
    "assigned_twice": """
        SELECT count(*) FROM {routing}.assignments a JOIN {events}.cases c ON c.id = a.event_id
        WHERE c.description LIKE $1 || '%' AND a.seq > 1""",
    "timer_twice": """
        SELECT coalesce(sum(n - 1), 0) FROM (
            SELECT count(*) AS n FROM {routing}.timers t JOIN {events}.cases c ON c.id = t.event_id
            WHERE c.description LIKE $1 || '%' AND t.cancelled_at IS NULL
            GROUP BY t.event_id, t.kind, t.fraction, t.seq HAVING count(*) > 1) d""",
}

UNPUBLISHED = "SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"
# Rows published long after their commit: those a broker cut held back, and those a killed
# process left held (the sweep takes them only once their hold has passed).
LATE = """
SELECT count(*) FROM {schema}.outbox
WHERE created_at >= $1 AND published_at - created_at > make_interval(secs => $2)
"""


class Effects:
    """Reads over a direct connection (never through the proxies the faults cut)."""

    def __init__(self, conn: asyncpg.Connection, prefix: str, description_prefix: str) -> None:
        self.conn = conn
        self.prefix = prefix
        self.description_prefix = description_prefix
        self.schemas = {s: f'"{schema_name(s, prefix)}"' for s in ("events", "routing")}

    async def unsettled(self, ids: list[uuid.UUID]) -> int:
        if not ids:
            return 0
        return int(await self.conn.fetchval(UNSETTLED.format(**self.schemas), ids))

    async def wait_settled(self, ids: list[uuid.UUID], since: float, within: float) -> float | None:
        """Seconds from ``since`` (monotonic) until every one of ``ids`` has its effect, or
        None when some still lack it ``within`` seconds after ``since``."""
        while True:
            left = await self.unsettled(ids)
            now = time.monotonic()
            if left == 0:
                return max(0.0, now - since)
            if now - since > within:
                return None
            await asyncio.sleep(0.2)

    async def duplicates(self) -> dict[str, int]:
        return {
            kind: int(await self.conn.fetchval(sql.format(**self.schemas), self.description_prefix))
            for kind, sql in DUPLICATES.items()
        }

    async def unpublished(self, within: float) -> dict[str, int]:
        """Outbox rows not yet published, by service, once there are none or ``within``
        seconds have passed (rows of the last steps are normally on their way)."""
        deadline = time.monotonic() + within
        while True:
            found = {}
            for service in ("events", "routing", "partner"):
                schema = f'"{schema_name(service, self.prefix)}"'
                found[service] = int(await self.conn.fetchval(UNPUBLISHED.format(schema=schema)))
            if not any(found.values()) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.2)


    async def now(self) -> datetime:
        return await self.conn.fetchval("SELECT now()")

    async def published_late(self, since: datetime, seconds: float) -> dict[str, int]:
        """Outbox rows committed since ``since`` and published more than ``seconds`` later."""
        found = {}
        for service in ("events", "routing"):
            schema = f'"{schema_name(service, self.prefix)}"'
            found[service] = int(
                await self.conn.fetchval(LATE.format(schema=schema), since, seconds)
            )
        return found


def parked(prefix: str) -> dict[str, int] | None:
    """Messages in this run's parking queues (``<prefix>.*.parking``), by queue; None when
    ``rabbitmqctl`` (the broker's own machine) is not at hand to list them."""
    if shutil.which("rabbitmqctl") is None:
        return None
    try:
        listed = subprocess.run(
            ["rabbitmqctl", "-q", "list_queues", "name", "messages"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return None
    queues = {}
    for line in listed.splitlines():
        name, _, count = line.partition("\t")
        if name.startswith(f"{prefix}.") and name.endswith(".parking") and count.isdigit():
            queues[name] = int(count)
    return queues
