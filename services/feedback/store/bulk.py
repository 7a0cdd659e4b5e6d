"""Bulk paths of the read model for replays (rebuilding the projection from a history of
messages): COPY into staging tables, then set-based inserts. Same tables, same rules as the
per-message path in cases.py; only the round trips differ."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
import orjson
from sqlalchemy import text

from services.feedback.domain import CaseSummary, Fact
from services.feedback.store.tables import case_summaries
from shared.db.uow import UnitOfWork

_SUMMARY_COLUMNS = [c.name for c in case_summaries.columns if c.name != "updated_at"]


async def _driver(uow: UnitOfWork) -> asyncpg.Connection:
    """The asyncpg connection of the unit of work (COPY is not in SQLAlchemy). Its
    transaction is the unit of work's own, open since ``async with uow``."""
    driver = (await uow.connection.get_raw_connection()).driver_connection
    if driver is None:
        raise RuntimeError("the unit of work's connection is closed")
    return driver


async def add_facts(uow: UnitOfWork, facts: Sequence[Fact]) -> set[uuid.UUID]:
    """Store the facts not seen before (keyed by message id); the cases they concern."""
    pg = await _driver(uow)
    await pg.execute(
        "CREATE TEMP TABLE IF NOT EXISTS staged_facts (LIKE case_facts) ON COMMIT DELETE ROWS"
    )
    await pg.copy_records_to_table(
        "staged_facts",
        records=[(f.message_id, f.event_id, f.kind, f.at,
                  orjson.dumps(f.data).decode()) for f in facts],
        columns=["message_id", "event_id", "kind", "at", "payload"],
    )
    rows = await pg.fetch(
        "INSERT INTO case_facts SELECT DISTINCT ON (message_id) * FROM staged_facts "
        "ON CONFLICT (message_id) DO NOTHING RETURNING event_id"
    )
    return {r["event_id"] for r in rows}


async def lock_cases(uow: UnitOfWork) -> None:
    """Keep every other writer of summaries out for this batch: SHARE ROW EXCLUSIVE conflicts
    with the ROW EXCLUSIVE lock that cases.lock_case takes first (and with itself), so a
    consumer either finished before or starts after — one table lock instead of an advisory
    lock per case, which a batch of tens of thousands of cases would run out of."""
    await uow.connection.execute(text("LOCK TABLE case_summaries IN SHARE ROW EXCLUSIVE MODE"))


async def load_facts(
    uow: UnitOfWork, event_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Fact]]:
    pg = await _driver(uow)
    found: dict[uuid.UUID, list[Fact]] = {i: [] for i in event_ids}
    rows = await pg.fetch(
        "SELECT message_id, event_id, kind, at, payload::text AS payload FROM case_facts "
        "WHERE event_id = ANY($1::uuid[])",
        list(event_ids),
    )
    for r in rows:
        found[r["event_id"]].append(
            Fact(message_id=r["message_id"], event_id=r["event_id"], kind=r["kind"],
                 at=r["at"], data=orjson.loads(r["payload"]))
        )
    return found


async def save_summaries(uow: UnitOfWork, summaries: Sequence[CaseSummary]) -> None:
    pg = await _driver(uow)
    await pg.execute(
        "CREATE TEMP TABLE IF NOT EXISTS staged_summaries "
        "(LIKE case_summaries INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    rows = [s.as_row() for s in summaries]
    await pg.copy_records_to_table(
        "staged_summaries",
        records=[tuple(row[c] for c in _SUMMARY_COLUMNS) for row in rows],
        columns=_SUMMARY_COLUMNS,
    )
    assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in _SUMMARY_COLUMNS if c != "event_id")
    columns = ", ".join(_SUMMARY_COLUMNS)
    await pg.execute(
        f"INSERT INTO case_summaries ({columns}, updated_at) "
        f"SELECT {columns}, now() FROM staged_summaries "
        f"ON CONFLICT (event_id) DO UPDATE SET {assignments}, updated_at = now()"
    )
