"""Which cases are under manual supervision (督办): each supervision once by id, open until
its reply or its lapse, with the kinds of routing's messages about it already applied
(``recorded``: issued, replied, overdue, lapsed), so each shows on the timeline once.
Applying a message twice or after a later one changes nothing more (a reply or a lapse
closes for good); ``cases.supervised`` is recomputed from the rows. Never commits."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Column, DateTime, String, Table, exists, false, update
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert

from shared.db.uow import UnitOfWork

from .tables import cases, metadata

case_supervisions = Table(
    "case_supervisions", metadata,
    Column("supervision_id", UUID(as_uuid=True), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("open", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("recorded", ARRAY(String(16)), nullable=False, server_default="{}"),
)
_t = case_supervisions


async def note_supervision(uow: UnitOfWork, *, supervision_id: uuid.UUID,
                           event_id: uuid.UUID, open_: bool, at: datetime,
                           kind: str) -> bool:
    """Apply routing's ``kind`` message about a supervision: issued or overdue (``open_``),
    replied or lapsed (not); then recompute whether the case is supervised. True when this
    kind is new for the supervision (its timeline step is still to be written)."""
    row = insert(_t).values(supervision_id=supervision_id, event_id=event_id, open=open_,
                            updated_at=at, recorded=[kind])
    # Issued or overdue after the reply or the lapse (delivered late) must not reopen it.
    still_open = _t.c.open if open_ else false()
    upsert = row.on_conflict_do_update(
        index_elements=["supervision_id"],
        set_={"open": still_open, "updated_at": at,
              "recorded": _t.c.recorded + row.excluded.recorded},
        where=~_t.c.recorded.contains([kind]),
    ).returning(_t.c.supervision_id)
    new = (await uow.connection.execute(upsert)).first() is not None
    supervised = exists().where(_t.c.event_id == event_id, _t.c.open)
    await uow.connection.execute(
        update(cases).where(cases.c.id == event_id).values(supervised=supervised))
    return new
