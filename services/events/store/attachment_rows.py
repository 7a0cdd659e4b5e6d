"""Reading attachment rows (the upload writes them through ``store.insert_attachment``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import or_, select, update

from shared.db.uow import UnitOfWork

from .tables import attachments


async def get_attachment(uow: UnitOfWork, attachment_id: uuid.UUID) -> Any | None:
    query = select(attachments).where(attachments.c.id == attachment_id)
    return (await uow.connection.execute(query)).mappings().first()


async def link_answer_attachments(
    uow: UnitOfWork, *, ids: list[uuid.UUID], event_id: uuid.UUID,
    answered_by: uuid.UUID | None, unit_id: uuid.UUID,
) -> list[uuid.UUID]:
    """Link to the case the attachments an assisting unit's answer names, those uploaded by the
    answering user or by staff of the answering unit and not already another case's; returns
    the ids linked (linking again links the same ones)."""
    if not ids:
        return []
    own = attachments.c.owner_unit_ids.contains([unit_id])
    if answered_by is not None:
        own = or_(attachments.c.owner_id == answered_by, own)
    result = await uow.connection.execute(
        update(attachments)
        .where(attachments.c.id.in_(ids), own,
               or_(attachments.c.event_id.is_(None), attachments.c.event_id == event_id))
        .values(event_id=event_id)
        .returning(attachments.c.id)
    )
    return [row[0] for row in result.all()]
