"""The audit trail of plaintext PII reveals: who, when, what, why."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.engine import RowMapping

from services.identity.store.tables import pii_access_audit
from shared.db.uow import UnitOfWork


async def record_access(
    uow: UnitOfWork, *, actor_id: uuid.UUID, subject_kind: str, subject_id: uuid.UUID,
    field: str, reason: str, request_id: str | None,
) -> None:
    await uow.connection.execute(
        insert(pii_access_audit).values(
            actor_id=actor_id, subject_kind=subject_kind, subject_id=subject_id, field=field,
            reason=reason, request_id=request_id,
        )
    )


@dataclass(frozen=True)
class FieldRead:
    """One plaintext field of one record, as a platform service read it."""

    subject_kind: str  # user | registry
    subject_id: uuid.UUID
    field: str


async def record_service_reads(
    uow: UnitOfWork, *, caller: str, reads: list[FieldRead], request_id: str | None
) -> None:
    """A service (not a person) read plaintext: the actor is the calling service and the why
    is ``service:<caller>``. One row per field, written in one statement."""
    if not reads:
        return
    await uow.connection.execute(
        insert(pii_access_audit),
        [{"actor_id": None, "actor_service": caller, "subject_kind": r.subject_kind,
          "subject_id": r.subject_id, "field": r.field, "reason": f"service:{caller}",
          "request_id": request_id} for r in reads],
    )


async def list_access(uow: UnitOfWork, *, before: int | None, limit: int
                      ) -> list[RowMapping]:
    query = select(pii_access_audit)
    if before is not None:
        query = query.where(pii_access_audit.c.id < before)
    query = query.order_by(pii_access_audit.c.id.desc()).limit(limit)
    return list((await uow.connection.execute(query)).mappings())
