"""Reading attachment rows (the upload writes them through ``store.insert_attachment``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from shared.db.uow import UnitOfWork

from .tables import attachments


async def get_attachment(uow: UnitOfWork, attachment_id: uuid.UUID) -> Any | None:
    query = select(attachments).where(attachments.c.id == attachment_id)
    return (await uow.connection.execute(query)).mappings().first()
