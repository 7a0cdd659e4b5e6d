"""The audit trail of plaintext PII reveals: who, when, what, why."""

from __future__ import annotations

import uuid

from sqlalchemy import insert, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.store.tables import pii_access_audit


async def record_access(
    session: AsyncSession, *, actor_id: uuid.UUID, subject_kind: str, subject_id: uuid.UUID,
    field: str, reason: str, request_id: str | None,
) -> None:
    await session.execute(
        insert(pii_access_audit).values(
            actor_id=actor_id, subject_kind=subject_kind, subject_id=subject_id, field=field,
            reason=reason, request_id=request_id,
        )
    )


async def list_access(session: AsyncSession, *, before: int | None, limit: int
                      ) -> list[RowMapping]:
    query = select(pii_access_audit)
    if before is not None:
        query = query.where(pii_access_audit.c.id < before)
    query = query.order_by(pii_access_audit.c.id.desc()).limit(limit)
    return list((await session.execute(query)).mappings())
