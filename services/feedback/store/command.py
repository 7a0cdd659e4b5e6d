"""Command-centre queries: counts, daily trend, overdue cases, hotspots."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from services.feedback.store.tables import case_summaries as cs
from services.feedback.store.tables import hotspots
from shared.db.uow import UnitOfWork

OPEN_STATUSES_EXCLUDED = ("rejected", "closed", "rated")


async def counts(
    uow: UnitOfWork, *, region_like: str, start: datetime, end: datetime,
    child_length: int | None,
) -> dict[str, dict[str, int]]:
    within = and_(cs.c.region_code.like(region_like), cs.c.reported_at >= start,
                  cs.c.reported_at < end)
    answer: dict[str, dict[str, int]] = {}
    columns: dict[str, Any] = {"status": cs.c.status, "category": cs.c.category_code,
                               "major_risk": cs.c.major_risk}
    if child_length is not None:
        columns["region"] = func.left(cs.c.region_code, child_length)
    for name, column in columns.items():
        rows = await uow.connection.execute(
            select(column.label("key"), func.count().label("n")).where(within).group_by(column)
        )
        answer[name] = {str(r.key): int(r.n) for r in rows if r.key is not None}
    return answer


async def daily_trend(
    uow: UnitOfWork, *, region_like: str, start: datetime, end: datetime, tz: str
) -> dict[str, dict[str, int]]:
    """Per local day: cases reported, and cases whose latest closure fell on that day."""
    trend: dict[str, dict[str, int]] = {}
    for name, column in (("reported", cs.c.reported_at), ("closed", cs.c.closed_at)):
        day = func.date(func.timezone(tz, column))
        rows = await uow.connection.execute(
            select(day.label("day"), func.count().label("n"))
            .where(cs.c.region_code.like(region_like), column >= start, column < end)
            .group_by(day)
        )
        for r in rows:
            trend.setdefault(r.day.isoformat(), {"reported": 0, "closed": 0})[name] = int(r.n)
    return trend


async def overdue(
    uow: UnitOfWork, *, region_like: str, now: datetime, limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> list[Any]:
    """Open cases past a deadline: not accepted by accept-by, or no result by resolve-by.
    Ordered by the deadline missed first (most overdue first)."""
    accept_overdue = and_(cs.c.accepted_at.is_(None), cs.c.accept_by < now)
    missed = case((accept_overdue, cs.c.accept_by), else_=cs.c.resolve_by).label(
        "missed_deadline")
    resolve_overdue = and_(cs.c.result_at.is_(None), cs.c.resolve_by < now)
    query = (
        select(cs, missed)
        .where(
            cs.c.region_code.like(region_like),
            cs.c.is_closed.is_(False),
            cs.c.status.not_in(OPEN_STATUSES_EXCLUDED),
            or_(accept_overdue, resolve_overdue),
        )
        .order_by(missed, cs.c.event_id)
        .limit(limit)
    )
    if after is not None:
        last_deadline, last_id = after
        query = query.where(
            or_(missed > last_deadline, and_(missed == last_deadline, cs.c.event_id > last_id))
        )
    return list((await uow.connection.execute(query)).all())


async def hotspot_candidates(
    uow: UnitOfWork, *, since: datetime, until: datetime, threshold: int
) -> list[Any]:
    community = func.left(cs.c.region_code, 12)
    query = (
        select(
            community.label("region_code"),
            cs.c.category_code,
            func.count().label("n"),
            func.min(cs.c.reported_at).label("first_at"),
            func.array_agg(cs.c.event_id).label("event_ids"),
        )
        .where(cs.c.reported_at > since, cs.c.reported_at <= until,
               func.length(cs.c.region_code) >= 12, cs.c.category_code.is_not(None))
        .group_by(community, cs.c.category_code)
        .having(func.count() >= threshold)
    )
    return list((await uow.connection.execute(query)).all())


async def flag_hotspot(uow: UnitOfWork, row: dict[str, Any]) -> bool:
    """False when the (community, category) is already flagged and active."""
    result = await uow.connection.execute(
        insert(hotspots)
        .values(**row)
        .on_conflict_do_nothing(
            index_elements=["region_code", "category_code"], index_where=hotspots.c.active
        )
        .returning(hotspots.c.id)
    )
    return result.first() is not None


async def refresh_active(
    uow: UnitOfWork, *, keep: set[tuple[str, str]], counts: dict[tuple[str, str], int]
) -> None:
    """Stand down active hotspots no longer at the threshold; update the others' counts."""
    active = await uow.connection.execute(select(hotspots).where(hotspots.c.active))
    for row in active:
        key = (row.region_code, row.category_code)
        if key not in keep:
            await uow.connection.execute(
                update(hotspots).where(hotspots.c.id == row.id).values(active=False))
        elif counts[key] != row.report_count:
            await uow.connection.execute(
                update(hotspots).where(hotspots.c.id == row.id)
                .values(report_count=counts[key]))


async def active_hotspots(uow: UnitOfWork, *, region_like: str) -> list[Any]:
    query = (
        select(hotspots)
        .where(hotspots.c.active, hotspots.c.region_code.like(region_like))
        .order_by(hotspots.c.report_count.desc(), hotspots.c.region_code)
    )
    return list((await uow.connection.execute(query)).all())
