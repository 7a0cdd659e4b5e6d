"""Grid workers' work, as their monthly figures count it, and the scorecard weights.

Every write is safe to repeat and to reorder: a piece of work is one row keyed by what it is
(insert-or-nothing); a resident's entry and verification fill in their own columns
(``COALESCE(stored, new)``); a worker's entry keeps the change with the latest ``at``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert

from services.feedback.store.tables import grid_residents as gr
from services.feedback.store.tables import grid_score_weights as gsw
from services.feedback.store.tables import grid_work_items as gwi
from services.feedback.store.tables import grid_workers as gw
from shared.db.uow import UnitOfWork

_WEIGHTS_ROW = 1


async def save_worker(uow: UnitOfWork, values: dict[str, Any]) -> bool:
    """Keep the worker's entry (``user_id``, ``changed_at`` and what changed) unless one with
    a later ``changed_at`` is held; a name once known is kept when a change names none."""
    stmt = insert(gw).values(**values)
    updates: dict[str, Any] = {name: stmt.excluded[name] for name in values
                               if name != "user_id"}
    if "display_name" in values:
        updates["display_name"] = func.coalesce(stmt.excluded.display_name, gw.c.display_name)
    upsert = stmt.on_conflict_do_update(
        index_elements=["user_id"], set_=updates,
        where=gw.c.changed_at < stmt.excluded.changed_at,
    ).returning(gw.c.user_id)
    return (await uow.connection.execute(upsert)).first() is not None


async def add_item(uow: UnitOfWork, row: dict[str, Any]) -> bool:
    """False when this piece of work (its ``key``) is already counted."""
    result = await uow.connection.execute(
        insert(gwi).values(**row).on_conflict_do_nothing(index_elements=["key"])
        .returning(gwi.c.key))
    return result.first() is not None


async def merge_resident(uow: UnitOfWork, **values: Any) -> None:
    """What one message says of a registry person (``registry_person_id`` and any of
    ``entered_by``, ``region_code``, ``month``, ``entered_at``, ``verified_at``)."""
    stmt = insert(gr).values(**values)
    await uow.connection.execute(stmt.on_conflict_do_update(
        index_elements=["registry_person_id"],
        set_={name: func.coalesce(gr.c[name], stmt.excluded[name])
              for name in values if name != "registry_person_id"},
    ))


def _work_counts() -> list[Any]:
    def of(kind: str) -> Any:
        return gwi.c.kind == kind

    return [
        func.count().filter(of("report")).label("reports"),
        func.count().filter(of("verification")).label("verifications"),
        func.count().filter(and_(of("verification"), gwi.c.on_time.is_(True)))
        .label("verifications_on_time"),
        func.count().filter(of("visit")).label("visits"),
        func.count().filter(of("patrol")).label("patrols"),
        func.coalesce(func.sum(gwi.c.hours).filter(of("patrol")), 0.0).label("patrol_hours"),
        (func.coalesce(func.sum(gwi.c.distance_m).filter(of("patrol")), 0.0) / 1000.0)
        .label("patrol_km"),
        func.count().filter(of("task")).label("tasks"),
        func.count().filter(and_(of("task"), gwi.c.on_time.is_(True))).label("tasks_on_time"),
    ]


def _resident_counts() -> list[Any]:
    return [
        func.count().label("residents_entered"),
        func.count().filter(gr.c.verified_at.is_not(None)).label("residents_verified"),
    ]


async def work_by_worker(
    uow: UnitOfWork, *, month: str, region_like: str, worker_id: uuid.UUID | None = None
) -> dict[Any, dict[str, Any]]:
    """Per worker, their work in the month inside the region (its LIKE pattern)."""
    where = [gwi.c.month == month, gwi.c.region_code.like(region_like)]
    if worker_id is not None:
        where.append(gwi.c.worker_id == worker_id)
    work = select(gwi.c.worker_id.label("key"), *_work_counts()).where(*where) \
        .group_by(gwi.c.worker_id)
    entered = [gr.c.month == month, gr.c.region_code.like(region_like),
               gr.c.entered_by.is_not(None), gr.c.entered_at.is_not(None)]
    if worker_id is not None:
        entered.append(gr.c.entered_by == worker_id)
    residents = select(gr.c.entered_by.label("key"), *_resident_counts()).where(*entered) \
        .group_by(gr.c.entered_by)
    return await _merged(uow, work, residents)


async def work_by_grid(
    uow: UnitOfWork, *, month: str, region_like: str
) -> dict[Any, dict[str, Any]]:
    """Per grid (a 15-digit code) inside the region, the work done in it in the month."""
    in_grid = func.length(gwi.c.region_code) == 15
    work = select(gwi.c.region_code.label("key"), *_work_counts()).where(
        gwi.c.month == month, gwi.c.region_code.like(region_like), in_grid,
    ).group_by(gwi.c.region_code)
    residents = select(gr.c.region_code.label("key"), *_resident_counts()).where(
        gr.c.month == month, gr.c.region_code.like(region_like),
        func.length(gr.c.region_code) == 15, gr.c.entered_by.is_not(None),
        gr.c.entered_at.is_not(None),
    ).group_by(gr.c.region_code)
    return await _merged(uow, work, residents)


async def _merged(uow: UnitOfWork, *queries: Any) -> dict[Any, dict[str, Any]]:
    merged: dict[Any, dict[str, Any]] = {}
    for query in queries:
        for row in (await uow.connection.execute(query)).all():
            counts = {k: v for k, v in row._mapping.items() if k != "key"}
            merged.setdefault(row.key, {}).update(counts)
    return merged


def _has_grid_like(region_like: str) -> Any:
    codes = func.unnest(gw.c.grid_codes).table_valued("code").render_derived(name="codes")
    return exists(select(codes.c.code).where(codes.c.code.like(region_like)))


async def workers_in(
    uow: UnitOfWork, *, region_like: str, month_start: date
) -> list[Any]:
    """Workers enrolled with a grid inside the region, still working at the month's start
    or after it (so a worker who left mid-month keeps their row)."""
    query = select(gw).where(
        _has_grid_like(region_like),
        or_(gw.c.status == "active", gw.c.left_on >= month_start),
    ).order_by(gw.c.user_id)
    return list((await uow.connection.execute(query)).all())


async def workers_by_id(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    if not ids:
        return {}
    rows = (await uow.connection.execute(select(gw).where(gw.c.user_id.in_(list(ids))))).all()
    return {r.user_id: r for r in rows}


async def load_weights(uow: UnitOfWork) -> dict[str, Any] | None:
    query = select(gsw.c.weights).where(gsw.c.id == _WEIGHTS_ROW)
    found: dict[str, Any] | None = (await uow.connection.execute(query)).scalar_one_or_none()
    return found


async def save_weights(
    uow: UnitOfWork, weights: dict[str, float], *, by: uuid.UUID, at: datetime
) -> None:
    stmt = insert(gsw).values(id=_WEIGHTS_ROW, weights=weights, updated_by=by, updated_at=at)
    await uow.connection.execute(stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={"weights": stmt.excluded.weights, "updated_by": stmt.excluded.updated_by,
              "updated_at": stmt.excluded.updated_at}))
