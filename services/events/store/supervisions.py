"""Which cases are under manual supervision (督办): each supervision once by id, open until
its reply. Applying a message twice or after a later one changes nothing more (a reply
closes for good); ``cases.supervised`` is recomputed from the rows. Never commits."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Column, DateTime, Table, exists, update
from sqlalchemy.dialects.postgresql import UUID, insert

from shared.db.uow import UnitOfWork

from .tables import cases, metadata

case_supervisions = Table(
    "case_supervisions", metadata,
    Column("supervision_id", UUID(as_uuid=True), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("open", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


async def note_supervision(uow: UnitOfWork, *, supervision_id: uuid.UUID,
                           event_id: uuid.UUID, open_: bool, at: datetime) -> bool:
    """Record an issued or overdue (``open_``) or a replied supervision, then whether the case
    is supervised now; returns that."""
    row = insert(case_supervisions).values(supervision_id=supervision_id, event_id=event_id,
                                           open=open_, updated_at=at)
    if open_:
        # Issued or overdue after its reply (delivered late) must not reopen it.
        row = row.on_conflict_do_nothing(index_elements=["supervision_id"])
    else:
        row = row.on_conflict_do_update(index_elements=["supervision_id"],
                                        set_={"open": False, "updated_at": at})
    await uow.connection.execute(row)
    supervised = exists().where(case_supervisions.c.event_id == event_id,
                                case_supervisions.c.open)
    result = await uow.connection.execute(
        update(cases).where(cases.c.id == event_id).values(supervised=supervised)
        .returning(cases.c.supervised))
    return bool(result.scalar_one_or_none())

