"""Staff's typed texts of a case: assignment notes, the originals kept where masking changed a
text, and the audit of reading them (service/originals.py, service/text_reveal.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, insert, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.routing.store.common import fetch_all
from services.routing.store.tables import (
    assignment_notes,
    calendar_overrides,
    extension_requests,
    subtasks,
    text_reveals,
)
from shared.db.rows import update_by
from shared.db.uow import UnitOfWork


async def insert_note(uow: UnitOfWork, values: dict[str, Any]) -> None:
    await uow.connection.execute(insert(assignment_notes).values(**values))


async def record_text_reveal(uow: UnitOfWork, values: dict[str, Any]) -> None:
    await uow.connection.execute(insert(text_reveals).values(**values))


async def assisting_units(uow: UnitOfWork, event_id: uuid.UUID,
                          lead_unit_id: uuid.UUID | None) -> set[uuid.UUID]:
    """Units asked for a sub-task by the case's current unit (open or answered ones)."""
    if lead_unit_id is None:
        return set()
    rows = await fetch_all(uow, select(subtasks.c.unit_id).where(
        subtasks.c.event_id == event_id, subtasks.c.lead_unit_id == lead_unit_id,
        subtasks.c.status != "lapsed"))
    return {row["unit_id"] for row in rows}


@dataclass(frozen=True)
class SealedTexts:
    """The rows of a case whose typed text was masked, with their encrypted originals."""

    notes: list[Any]
    extensions: list[Any]
    subtasks: list[Any]


async def sealed_texts(uow: UnitOfWork, event_id: uuid.UUID) -> SealedTexts:
    notes = await fetch_all(uow, select(assignment_notes).where(
        assignment_notes.c.event_id == event_id, assignment_notes.c.note_original.is_not(None),
    ).order_by(assignment_notes.c.seq))
    extensions = await fetch_all(uow, select(
        extension_requests.c.id, extension_requests.c.created_at,
        extension_requests.c.reason_original,
    ).where(extension_requests.c.event_id == event_id,
            extension_requests.c.reason_original.is_not(None),
            ).order_by(extension_requests.c.created_at, extension_requests.c.id))
    tasks = await fetch_all(uow, select(
        subtasks.c.id, subtasks.c.unit_id, subtasks.c.created_at, subtasks.c.task_original,
        subtasks.c.answer_original,
    ).where(subtasks.c.event_id == event_id,
            or_(subtasks.c.task_original.is_not(None), subtasks.c.answer_original.is_not(None)),
            ).order_by(subtasks.c.created_at, subtasks.c.id))
    return SealedTexts(notes=notes, extensions=extensions, subtasks=tasks)


# -- masking texts stored before free-text masking (service/text_backfill.py) --------------------
# Each read locks its rows: a request changing the same row waits for the batch.


async def extensions_to_mask(uow: UnitOfWork, after: uuid.UUID | None, limit: int) -> list[Any]:
    """The next extension requests (by id) without an encrypted original."""
    query = select(extension_requests.c.id, extension_requests.c.event_id,
                   extension_requests.c.reason).where(
        extension_requests.c.reason_original.is_(None))
    if after is not None:
        query = query.where(extension_requests.c.id > after)
    return await fetch_all(uow, query.order_by(extension_requests.c.id).limit(limit)
                           .with_for_update())


async def subtasks_to_mask(uow: UnitOfWork, after: uuid.UUID | None, limit: int) -> list[Any]:
    """The next sub-tasks (by id) whose task or answer has no encrypted original."""
    query = select(subtasks.c.id, subtasks.c.event_id, subtasks.c.task, subtasks.c.answer,
                   subtasks.c.task_original, subtasks.c.answer_original).where(
        or_(subtasks.c.task_original.is_(None),
            and_(subtasks.c.answer.is_not(None), subtasks.c.answer_original.is_(None))))
    if after is not None:
        query = query.where(subtasks.c.id > after)
    return await fetch_all(uow, query.order_by(subtasks.c.id).limit(limit).with_for_update())


async def update_subtask(uow: UnitOfWork, subtask_id: uuid.UUID, values: dict[str, Any]
                         ) -> None:
    await update_by(uow, subtasks, "id", subtask_id, values)


async def override_notes(uow: UnitOfWork) -> list[Any]:
    return await fetch_all(uow, select(calendar_overrides.c.day, calendar_overrides.c.note)
                           .where(calendar_overrides.c.note.is_not(None)).with_for_update())


async def update_override_note(uow: UnitOfWork, day: date, note: str) -> None:
    await update_by(uow, calendar_overrides, "day", day, {"note": note})


_NOTED_ASSIGNMENTS = text(
    "SELECT id, CAST(envelope->'payload'->>'event_id' AS uuid) AS event_id,"
    " CAST(envelope->'payload'->>'seq' AS integer) AS seq, envelope->'payload'->>'reason' AS"
    " reason, envelope->'payload'->>'note' AS note,"
    " CAST(envelope->'payload'->>'assigned_at' AS timestamptz) AS at FROM outbox"
    " WHERE event_type = 'routing.event_assigned' AND envelope->'payload'->>'note' IS NOT NULL"
    " AND id > :after ORDER BY id LIMIT :limit FOR UPDATE")
_SET_OUTBOX_NOTE = text(
    "UPDATE outbox SET envelope = jsonb_set(envelope, '{payload,note}', to_jsonb(CAST(:note AS"
    " text))) WHERE id = :id")


async def noted_assignments_after(uow: UnitOfWork, after_id: int, limit: int) -> list[Any]:
    """Outbox rows of ``routing.event_assigned`` with a note, by id: published ones are kept
    for a while (the relay's retention), unpublished ones are still to go."""
    return await fetch_all(uow, _NOTED_ASSIGNMENTS, {"after": after_id, "limit": limit})


async def set_outbox_note(uow: UnitOfWork, row_id: int, note: str) -> None:
    await uow.connection.execute(_SET_OUTBOX_NOTE, {"id": row_id, "note": note})


async def keep_note_once(uow: UnitOfWork, values: dict[str, Any]) -> None:
    """``insert_note`` unless the assignment's note is already kept."""
    await uow.connection.execute(pg_insert(assignment_notes).values(**values)
                                 .on_conflict_do_nothing())
