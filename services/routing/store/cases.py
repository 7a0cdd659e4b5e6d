"""Assignments, their timers, supervision records, extension requests and sub-tasks."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Float,
    Integer,
    String,
    bindparam,
    case,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert

from services.routing.store.common import fetch_all, fetch_one
from services.routing.store.tables import (
    assignments,
    extension_requests,
    subtasks,
    supervisions,
    timers,
)
from shared.db.rows import ROW, insert_row, insert_rows, update_by
from shared.db.statements import Statement
from shared.db.uow import UnitOfWork

# -- assignments -------------------------------------------------------------------------------


async def insert_assignment(uow: UnitOfWork, values: dict[str, Any]) -> Any | None:
    """The new row, as get_assignment would read it (and locked, as this transaction wrote
    it), or None when the case already has one."""
    return await insert_row(uow, assignments, values, returning=ROW,
                            skip_conflicts=True)


async def insert_assigned(uow: UnitOfWork, values: dict[str, Any],
                          timer_rows: list[dict[str, Any]]) -> bool:
    """A case's first assignment, already assigned, and its clocks' timers (all of one unit
    and seq) in one statement; False, and nothing written, when the case already has one."""
    first = timer_rows[0]
    inserted = await uow.fetchval(_assigned_with_timers(tuple(values)), {
        **{f"a_{k}": v for k, v in values.items()},
        "t_unit_id": first["unit_id"], "t_seq": first["seq"],
        "t_kinds": [t["kind"] for t in timer_rows],
        "t_fractions": [t["fraction"] for t in timer_rows],
        "t_fire_at": [t["fire_at"] for t in timer_rows],
        "t_deadlines": [t["deadline"] for t in timer_rows],
    })
    return bool(inserted)


@functools.cache
def _assigned_with_timers(keys: tuple[str, ...]) -> Statement:
    new = (
        insert(assignments)
        .values({k: bindparam(f"a_{k}", type_=assignments.c[k].type) for k in keys})
        .on_conflict_do_nothing()
        .returning(assignments.c.event_id)
        .cte("new_assignment")
    )
    clocks = func.unnest(
        bindparam("t_kinds", type_=ARRAY(String)), bindparam("t_fractions", type_=ARRAY(Float)),
        bindparam("t_fire_at", type_=ARRAY(DateTime(timezone=True))),
        bindparam("t_deadlines", type_=ARRAY(DateTime(timezone=True))),
    ).table_valued("kind", "fraction", "fire_at", "deadline").render_derived(name="clock")
    new_timers = insert(timers).from_select(
        ["event_id", "kind", "fraction", "fire_at", "deadline", "unit_id", "seq"],
        select(new.c.event_id, clocks.c.kind, clocks.c.fraction, clocks.c.fire_at,
               clocks.c.deadline, bindparam("t_unit_id", type_=UUID(as_uuid=True)),
               bindparam("t_seq", type_=Integer)).select_from(new).join(clocks, true()),
    ).cte("new_timers")
    # A data-modifying WITH runs whether or not the query reads it; the count says whether
    # the assignment (and so its timers) was written.
    return Statement(select(func.count()).select_from(new).add_cte(new_timers))


_ASSIGNMENT_QUERY = select(assignments).where(assignments.c.event_id == bindparam("event_id"))
_ASSIGNMENT = Statement(_ASSIGNMENT_QUERY)
_ASSIGNMENT_LOCKED = Statement(_ASSIGNMENT_QUERY.with_for_update())
_ASSIGNMENT_UNLESS_HELD = Statement(_ASSIGNMENT_QUERY.with_for_update(skip_locked=True))


async def get_assignment(uow: UnitOfWork, event_id: uuid.UUID, *, lock: bool = True
                         ) -> Any | None:
    return await uow.fetchrow(_ASSIGNMENT_LOCKED if lock else _ASSIGNMENT, {"event_id": event_id})


async def get_assignment_unless_held(uow: UnitOfWork, event_id: uuid.UUID
                                     ) -> tuple[bool, Any | None]:
    """(held, row): the row locked, or held=True when another transaction holds it (the
    caller does not wait for it)."""
    row = await uow.fetchrow(_ASSIGNMENT_UNLESS_HELD, {"event_id": event_id})
    if row is not None:
        return False, row
    return await uow.fetchrow(_ASSIGNMENT, {"event_id": event_id}) is not None, None


@functools.cache
def _mirror_status(*, only_newer: bool, of_unit: bool) -> Any:
    # Bind names differ from the columns': SQLAlchemy reserves those for the SET clause.
    query = update(assignments).where(assignments.c.event_id == bindparam("case_id"))
    if only_newer:
        query = query.where(assignments.c.status_step < bindparam("step"))
    if of_unit:
        query = query.where(or_(assignments.c.unit_id.is_(None),
                                assignments.c.unit_id == bindparam("unit")))
    return query.values(status=bindparam("new_status"), status_step=bindparam("step"),
                        updated_at=bindparam("now")).returning(*assignments.c)


async def mirror_status(uow: UnitOfWork, event_id: uuid.UUID, *, status: str, step: int,
                        now: datetime, unit_id: uuid.UUID | None = None) -> Any | None:
    """Set the status mirror from events' step ``step`` (0: unnumbered, always applied) and
    return the row (locked by the update), or None when there is no assignment, it already
    holds this step or a later one, or — ``unit_id``: the step a unit took — the case has
    since gone to another unit."""
    query = _mirror_status(only_newer=bool(step), of_unit=unit_id is not None)
    params = {"case_id": event_id, "new_status": status, "step": step, "now": now}
    if unit_id is not None:
        params["unit"] = unit_id
    return await fetch_one(uow, query, params)


async def update_assignment(uow: UnitOfWork, event_id: uuid.UUID, values: dict[str, Any]
                            ) -> None:
    await update_by(uow, assignments, "event_id", event_id, values)


async def queued(uow: UnitOfWork, region_prefixes: list[str] | None, limit: int) -> list[Any]:
    query = select(assignments).where(assignments.c.queued)
    if region_prefixes is not None:
        if not region_prefixes:
            return []
        query = query.where(or_(*[assignments.c.region_code.startswith(p)
                                  for p in region_prefixes]))
    return await fetch_all(uow, query.order_by(assignments.c.updated_at).limit(limit))


async def work_queue(uow: UnitOfWork, unit_id: uuid.UUID, now: datetime, limit: int
                     ) -> list[Any]:
    """The unit's open assignments: overdue first, then by nearest deadline."""
    due = case(
        (assignments.c.status == "dispatched", assignments.c.accept_by),
        else_=assignments.c.resolve_by,
    )
    query = (
        select(assignments, due.label("due"))
        .where(assignments.c.unit_id == unit_id,
               assignments.c.status.in_(["dispatched", "accepted", "in_progress"]))
        .order_by(case((due < now, 0), else_=1), due)
        .limit(limit)
    )
    return await fetch_all(uow, query)


# -- timers ------------------------------------------------------------------------------------


async def add_timers(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    await insert_rows(uow, timers, rows)


async def cancel_timers(uow: UnitOfWork, event_id: uuid.UUID, *, kinds: list[str],
                        now: datetime, subtask_id: uuid.UUID | None = None) -> None:
    query = update(timers).where(
        timers.c.event_id == event_id, timers.c.kind.in_(kinds), timers.c.fired_at.is_(None),
        timers.c.cancelled_at.is_(None),
    )
    if subtask_id is not None:
        query = query.where(timers.c.subtask_id == subtask_id)
    await uow.connection.execute(query.values(cancelled_at=now))


async def claim_due_timers(uow: UnitOfWork, now: datetime, limit: int) -> list[Any]:
    """Due timers no other scanner holds: rows locked until this transaction ends, so
    replicas never take the same timer and a crash mid-batch leaves them for the next."""
    query = (
        select(timers)
        .where(timers.c.fired_at.is_(None), timers.c.cancelled_at.is_(None),
               timers.c.fire_at <= now)
        .order_by(timers.c.fire_at, timers.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return await fetch_all(uow, query)


async def mark_fired(uow: UnitOfWork, timer_ids: list[int], now: datetime) -> None:
    await uow.connection.execute(
        update(timers).where(timers.c.id.in_(timer_ids)).values(fired_at=now))


async def insert_supervision(uow: UnitOfWork, values: dict[str, Any]) -> None:
    await uow.connection.execute(insert(supervisions).values(**values))


async def list_supervisions(uow: UnitOfWork, region_prefixes: list[str] | None, limit: int
                            ) -> list[Any]:
    query = select(supervisions, assignments.c.region_code).join(
        assignments, assignments.c.event_id == supervisions.c.event_id)
    if region_prefixes is not None:
        if not region_prefixes:
            return []
        query = query.where(or_(*[assignments.c.region_code.startswith(p)
                                  for p in region_prefixes]))
    return await fetch_all(uow, query.order_by(supervisions.c.created_at.desc()).limit(limit))


# -- extensions and co-handling ----------------------------------------------------------------


async def insert_extension(uow: UnitOfWork, values: dict[str, Any]) -> None:
    await uow.connection.execute(insert(extension_requests).values(**values))


async def get_extension(uow: UnitOfWork, request_id: uuid.UUID) -> Any | None:
    return await fetch_one(uow, select(extension_requests).where(
        extension_requests.c.id == request_id).with_for_update())


async def update_extension(uow: UnitOfWork, request_id: uuid.UUID, values: dict[str, Any]
                           ) -> None:
    await uow.connection.execute(update(extension_requests).where(
        extension_requests.c.id == request_id).values(**values))


async def insert_subtasks(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    await uow.connection.execute(insert(subtasks), rows)


async def get_subtask(uow: UnitOfWork, subtask_id: uuid.UUID) -> Any | None:
    query = select(subtasks).where(subtasks.c.id == subtask_id).with_for_update()
    return await fetch_one(uow, query)


async def close_subtask(uow: UnitOfWork, subtask_id: uuid.UUID, values: dict[str, Any]) -> None:
    await uow.connection.execute(update(subtasks).where(subtasks.c.id == subtask_id).values(
        **values))


async def open_subtasks(uow: UnitOfWork, event_id: uuid.UUID) -> list[Any]:
    return await fetch_all(uow, select(subtasks).where(subtasks.c.event_id == event_id,
                                                  subtasks.c.status == "open"))
