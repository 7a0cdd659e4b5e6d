"""Facts, case summaries, units and ratings. Never commits: the caller's unit of work does."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, text
from sqlalchemy.dialects.postgresql import insert

from services.feedback.domain import CaseSummary, Fact
from services.feedback.store.tables import case_facts, case_summaries, ratings, units
from shared.db.uow import UnitOfWork

_SUMMARY_COLUMNS = [c.name for c in case_summaries.columns if c.name != "updated_at"]


async def add_facts(uow: UnitOfWork, facts: Sequence[Fact]) -> set[uuid.UUID]:
    """Store facts not seen before; the cases whose facts changed. A fact is keyed by the id
    of the message that carried it, so a redelivered message changes nothing."""
    if not facts:
        return set()
    rows = [
        {
            "message_id": f.message_id,
            "event_id": f.event_id,
            "kind": f.kind,
            "at": f.at,
            "payload": dict(f.data),
        }
        for f in facts
    ]
    result = await uow.connection.execute(
        insert(case_facts)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["message_id"])
        .returning(case_facts.c.event_id)
    )
    return {row.event_id for row in result}


async def load_facts(
    uow: UnitOfWork, event_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[Fact]]:
    ids = list(event_ids)
    found: dict[uuid.UUID, list[Fact]] = {i: [] for i in ids}
    if not ids:
        return found
    result = await uow.connection.execute(
        select(case_facts).where(case_facts.c.event_id.in_(ids))
    )
    for row in result:
        found[row.event_id].append(
            Fact(message_id=row.message_id, event_id=row.event_id, kind=row.kind, at=row.at,
                 data=row.payload)
        )
    return found


async def save_summaries(uow: UnitOfWork, summaries: Sequence[CaseSummary]) -> None:
    if not summaries:
        return
    rows = [s.as_row() for s in summaries]
    stmt = insert(case_summaries).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["event_id"],
        set_={name: stmt.excluded[name] for name in _SUMMARY_COLUMNS if name != "event_id"}
        | {"updated_at": func.now()},
    )
    await uow.connection.execute(stmt)


async def get_summary_row(
    uow: UnitOfWork, event_id: uuid.UUID, *, lock: bool = False
) -> Any:
    query = select(case_summaries).where(case_summaries.c.event_id == event_id)
    if lock:
        query = query.with_for_update()
    return (await uow.connection.execute(query)).first()


async def lock_case(uow: UnitOfWork, event_id: uuid.UUID) -> None:
    """Serialise the recomputation of one case's summary (a transaction-scoped advisory
    lock keyed by the case id), so two concurrent facts cannot overwrite each other's view.
    The table lock first: it is what a batched replay waits for (see bulk.lock_cases)."""
    await uow.connection.execute(text("LOCK TABLE case_summaries IN ROW EXCLUSIVE MODE"))
    await uow.connection.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(str(event_id), 0)))
    )


async def try_lock_case(uow: UnitOfWork, event_id: uuid.UUID) -> bool:
    """Like ``lock_case`` but gives up at once when another transaction holds the case."""
    await uow.connection.execute(text("LOCK TABLE case_summaries IN ROW EXCLUSIVE MODE"))
    result = await uow.connection.execute(
        select(func.pg_try_advisory_xact_lock(func.hashtextextended(str(event_id), 0)))
    )
    return bool(result.scalar_one())


async def save_unit(uow: UnitOfWork, unit: dict[str, Any], seen_at: datetime) -> None:
    """Keep the newest description of a unit (names change; late messages must not win)."""
    stmt = insert(units).values(
        unit_id=unit["unit_id"],
        name=unit["name"],
        kind=unit["kind"],
        level=unit["level"],
        region_code=unit["region_code"],
        seen_at=seen_at,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["unit_id"],
        set_={
            "name": stmt.excluded.name,
            "kind": stmt.excluded.kind,
            "level": stmt.excluded.level,
            "region_code": stmt.excluded.region_code,
            "seen_at": stmt.excluded.seen_at,
        },
        where=units.c.seen_at < stmt.excluded.seen_at,
    )
    await uow.connection.execute(stmt)


async def insert_rating(
    uow: UnitOfWork,
    *,
    event_id: uuid.UUID,
    closure_closed_at: datetime,
    closure_seq: int,
    rating: str,
    comment: str | None,
    default_applied: bool,
    rated_at: datetime,
    rater_id: uuid.UUID | None,
) -> bool:
    """False when this closure already has a rating (a race with another rater or the
    default-rating worker is decided here, by the primary key)."""
    result = await uow.connection.execute(
        insert(ratings)
        .values(
            event_id=event_id,
            closure_closed_at=closure_closed_at,
            closure_seq=closure_seq,
            rating=rating,
            comment=comment,
            default_applied=default_applied,
            rated_at=rated_at,
            rater_id=rater_id,
        )
        .on_conflict_do_nothing(index_elements=["event_id", "closure_closed_at"])
        .returning(ratings.c.event_id)
    )
    return result.first() is not None


async def unrated_closures(
    uow: UnitOfWork, *, closed_before: datetime, limit: int
) -> list[uuid.UUID]:
    """Cases closed before ``closed_before`` and still unrated (oldest first). Not locked:
    the caller try-locks each case, in the same order as the projection takes its locks."""
    result = await uow.connection.execute(
        select(case_summaries.c.event_id)
        .where(
            and_(
                case_summaries.c.is_closed,
                case_summaries.c.rating.is_(None),
                case_summaries.c.closed_at < closed_before,
            )
        )
        .order_by(case_summaries.c.closed_at)
        .limit(limit)
    )
    return [row.event_id for row in result]
