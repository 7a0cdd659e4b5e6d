"""Staff's typed texts of a case: assignment notes, the originals kept where masking changed a
text, and the audit of reading them (service/originals.py, service/text_reveal.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, or_, select

from services.routing.store.common import fetch_all
from services.routing.store.tables import (
    assignment_notes,
    extension_requests,
    subtasks,
    text_reveals,
)
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
