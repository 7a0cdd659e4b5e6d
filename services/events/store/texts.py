"""Queries of the masked free texts: their encrypted originals, the audited reveals, and
masking texts stored before masking (service/originals.py, text_reveal.py, text_backfill.py).
Never commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select

from shared.db.rows import update_by
from shared.db.uow import UnitOfWork

from .tables import cases, reporter_reveals, text_reveals, timeline


async def record_text_reveal(uow: UnitOfWork, **values: Any) -> None:
    await uow.connection.execute(insert(text_reveals).values(**values))


async def masked_notes(uow: UnitOfWork, event_id: uuid.UUID) -> list[Any]:
    """The steps of a case whose typed note was masked, with its encrypted original."""
    query = select(timeline.c.id, timeline.c.at, timeline.c.action, timeline.c.note_original) \
        .where(timeline.c.event_id == event_id, timeline.c.note_original.is_not(None)) \
        .order_by(timeline.c.id)
    return list((await uow.connection.execute(query)).mappings())


async def cases_after(uow: UnitOfWork, after_seq: int, limit: int) -> list[Any]:
    """The next cases by ``seq``, locked (an action may be changing their texts)."""
    query = (select(cases.c.id, cases.c.seq, cases.c.category_code, cases.c.description,
                    cases.c.address, cases.c.fields, cases.c.result_text,
                    cases.c.text_originals)
             .where(cases.c.seq > after_seq).order_by(cases.c.seq).limit(limit)
             .with_for_update())
    return list((await uow.connection.execute(query)).mappings())


async def noted_steps_after(uow: UnitOfWork, after_id: int, limit: int) -> list[Any]:
    """The next steps with a note and no encrypted original, locked."""
    query = (select(timeline.c.id, timeline.c.event_id, timeline.c.note)
             .where(timeline.c.id > after_id, timeline.c.note.is_not(None),
                    timeline.c.note_original.is_(None))
             .order_by(timeline.c.id).limit(limit).with_for_update())
    return list((await uow.connection.execute(query)).mappings())


async def update_step(uow: UnitOfWork, step_id: int, values: dict[str, Any]) -> None:
    await update_by(uow, timeline, "id", step_id, values)


async def reveal_reasons(uow: UnitOfWork) -> list[Any]:
    query = select(reporter_reveals.c.id, reporter_reveals.c.reason).with_for_update()
    return list((await uow.connection.execute(query)).mappings())


async def update_reveal_reason(uow: UnitOfWork, reveal_id: int, reason: str) -> None:
    await update_by(uow, reporter_reveals, "id", reveal_id, {"reason": reason})
