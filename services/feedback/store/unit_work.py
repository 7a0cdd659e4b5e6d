"""A unit's work beyond its own cases: co-handling sub-tasks and supervisions (督办).

Each message fills in the columns it knows with ``COALESCE(stored, new)``: the first value
stays, so any order and any number of deliveries of a sub-task's or supervision's messages
leave the same row (scorecards stay exact under redelivery and reordering)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, func, select
from sqlalchemy.dialects.postgresql import insert

from services.feedback.store.tables import unit_subtasks as st
from services.feedback.store.tables import unit_supervisions as sv
from services.feedback.store.tables import units
from shared.db.uow import UnitOfWork


async def _merge(uow: UnitOfWork, table: Table, key: str, values: dict[str, Any]) -> None:
    stmt = insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[key],
        set_={name: func.coalesce(table.c[name], stmt.excluded[name])
              for name in values if name != key},
    )
    await uow.connection.execute(stmt)


async def merge_subtask(uow: UnitOfWork, **values: Any) -> None:
    """What one message says of a sub-task (``subtask_id``, ``event_id``, ``unit_id`` and
    any of ``asked_at``, ``due_at``, ``closed_at``, ``outcome``)."""
    await _merge(uow, st, "subtask_id", values)


async def merge_supervision(uow: UnitOfWork, **values: Any) -> None:
    """What one message says of a supervision (``supervision_id``, ``event_id``, ``unit_id``
    and any of ``issued_at``, ``reply_by``, ``replied_at``, ``replied_late``, ``overdue_at``)."""
    await _merge(uow, sv, "supervision_id", values)


async def subtasks_by_unit(
    uow: UnitOfWork, *, start: datetime, end: datetime
) -> dict[uuid.UUID, dict[str, int]]:
    """Per assisting unit, the sub-tasks asked of it in [start, end) and how they closed."""
    answered = st.c.outcome == "answered"
    query = (
        select(
            st.c.unit_id,
            func.count().label("subtasks_asked"),
            func.count().filter(and_(answered, st.c.closed_at <= st.c.due_at))
            .label("subtasks_answered_on_time"),
            func.count().filter(and_(answered, st.c.closed_at > st.c.due_at))
            .label("subtasks_answered_late"),
            func.count().filter(st.c.outcome == "timed_out").label("subtasks_timed_out"),
        )
        .where(st.c.asked_at >= start, st.c.asked_at < end)
        .group_by(st.c.unit_id)
    )
    return _keyed((await uow.connection.execute(query)).all())


async def supervisions_by_unit(
    uow: UnitOfWork, *, start: datetime, end: datetime
) -> dict[uuid.UUID, dict[str, int]]:
    """Per supervised unit, the supervisions issued to it in [start, end) and their fate."""
    query = (
        select(
            sv.c.unit_id,
            func.count().label("supervisions_received"),
            func.count().filter(and_(sv.c.replied_at.is_not(None), sv.c.replied_late.is_(False)))
            .label("supervisions_replied_on_time"),
            func.count().filter(and_(sv.c.replied_at.is_not(None), sv.c.replied_late.is_(True)))
            .label("supervisions_replied_late"),
            func.count().filter(sv.c.overdue_at.is_not(None)).label("supervisions_overdue"),
        )
        .where(sv.c.issued_at >= start, sv.c.issued_at < end)
        .group_by(sv.c.unit_id)
    )
    return _keyed((await uow.connection.execute(query)).all())


def _keyed(rows: Sequence[Any]) -> dict[uuid.UUID, dict[str, int]]:
    return {
        r.unit_id: {k: int(v) for k, v in r._mapping.items() if k != "unit_id"} for r in rows
    }


async def unit_labels(uow: UnitOfWork, unit_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """Name, level and region of the units known here, by id."""
    if not unit_ids:
        return {}
    rows = (await uow.connection.execute(
        select(units.c.unit_id, units.c.name, units.c.level, units.c.region_code)
        .where(units.c.unit_id.in_(list(unit_ids)))
    )).all()
    return {r.unit_id: r for r in rows}
