"""Sub-tasks as their assisting unit and the lead unit read them: with the case number, the
lead and assisting units' names, and never the encrypted originals."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from services.routing.store.common import fetch_all, fetch_one
from services.routing.store.tables import assignments, subtasks, units
from shared.db.uow import UnitOfWork

_t = subtasks
_lead = units.alias("lead_unit")
_assisting = units.alias("assisting_unit")
SubtaskFilter = Literal["open", "answered", "overdue"]

_VIEW = select(
    *[c for c in _t.c if not c.name.endswith("_original")],
    assignments.c.case_no, assignments.c.region_code,
    _lead.c.name.label("lead_unit_name"), _assisting.c.name.label("unit_name"),
).select_from(
    _t.outerjoin(assignments, assignments.c.event_id == _t.c.event_id)
    .outerjoin(_lead, _lead.c.id == _t.c.lead_unit_id)
    .outerjoin(_assisting, _assisting.c.id == _t.c.unit_id)
)


def _state(state: SubtaskFilter | None, now: datetime) -> ColumnElement[bool] | None:
    """``overdue``: past due unanswered (timed out, or open past due before the timer ran);
    ``open``: still awaiting the answer, overdue or not."""
    if state == "open":
        return _t.c.status == "open"
    if state == "answered":
        return _t.c.status == "answered"
    if state == "overdue":
        return or_(_t.c.status == "timed_out", and_(_t.c.status == "open", _t.c.due_at <= now))
    return None


async def subtasks_of_units(uow: UnitOfWork, unit_ids: list[uuid.UUID], *,
                            state: SubtaskFilter | None, now: datetime,
                            after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[Any]:
    """The units' sub-tasks, nearest due first, ``limit`` rows after the keyset (due_at, id)."""
    if not unit_ids:
        return []
    query = _VIEW.where(_t.c.unit_id.in_(unit_ids))
    condition = _state(state, now)
    if condition is not None:
        query = query.where(condition)
    if after is not None:
        at, subtask_id = after
        query = query.where(or_(_t.c.due_at > at, and_(_t.c.due_at == at, _t.c.id > subtask_id)))
    return await fetch_all(uow, query.order_by(_t.c.due_at, _t.c.id).limit(limit))


async def subtask_view(uow: UnitOfWork, subtask_id: uuid.UUID) -> Any | None:
    return await fetch_one(uow, _VIEW.where(_t.c.id == subtask_id))


async def subtasks_of_case(uow: UnitOfWork, event_id: uuid.UUID, limit: int) -> list[Any]:
    """A case's sub-tasks, oldest first (a case gets a handful, not pages)."""
    query = _VIEW.where(_t.c.event_id == event_id).order_by(_t.c.created_at, _t.c.id)
    return await fetch_all(uow, query.limit(limit))


async def counts_by_unit(uow: UnitOfWork, *, start: datetime, end: datetime, now: datetime
                         ) -> list[Any]:
    """Per assisting unit, over the sub-tasks asked of it in [start, end): answered by the due
    time or after it, timed out, and still open (of which past due)."""
    answered = _t.c.status == "answered"
    query = (
        select(
            _t.c.unit_id, units.c.name.label("unit_name"), units.c.level.label("unit_level"),
            units.c.region_code.label("unit_region_code"),
            func.count().label("asked"),
            func.count().filter(and_(answered, _t.c.closed_at <= _t.c.due_at)
                                ).label("answered_on_time"),
            func.count().filter(and_(answered, _t.c.closed_at > _t.c.due_at)
                                ).label("answered_late"),
            func.count().filter(_t.c.status == "timed_out").label("timed_out"),
            func.count().filter(_t.c.status == "lapsed").label("lapsed"),
            func.count().filter(_t.c.status == "open").label("open"),
            func.count().filter(and_(_t.c.status == "open", _t.c.due_at <= now)
                                ).label("open_overdue"),
        )
        .select_from(_t.outerjoin(units, units.c.id == _t.c.unit_id))
        .where(_t.c.created_at >= start, _t.c.created_at < end)
        .group_by(_t.c.unit_id, units.c.name, units.c.level, units.c.region_code)
        .order_by(_t.c.unit_id)
    )
    return await fetch_all(uow, query)
