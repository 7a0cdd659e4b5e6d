"""Real-name verification requests (a small durable queue for the retry worker)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.store.tables import verification_requests as requests


async def insert_request(
    session: AsyncSession, *, request_id: uuid.UUID, user_id: uuid.UUID, id_number_cipher: str,
    id_number_index: str, name_cipher: str, lease_until: datetime,
) -> None:
    await session.execute(
        insert(requests).values(
            id=request_id, user_id=user_id, id_number_cipher=id_number_cipher,
            id_number_index=id_number_index, name_cipher=name_cipher, status="pending",
            attempts=1, next_attempt_at=lease_until,
        )
    )


async def get_request(session: AsyncSession, request_id: uuid.UUID, *, lock: bool = False
                      ) -> RowMapping | None:
    query = select(requests).where(requests.c.id == request_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).mappings().first()


async def latest_for_user(session: AsyncSession, user_id: uuid.UUID) -> RowMapping | None:
    result = await session.execute(
        select(requests).where(requests.c.user_id == user_id)
        .order_by(requests.c.created_at.desc()).limit(1)
    )
    return result.mappings().first()


async def pending_for_user(session: AsyncSession, user_id: uuid.UUID) -> RowMapping | None:
    result = await session.execute(
        select(requests).where(and_(requests.c.user_id == user_id,
                                    requests.c.status == "pending")).limit(1)
    )
    return result.mappings().first()


async def claim_due(session: AsyncSession, *, limit: int, lease_seconds: float
                    ) -> list[RowMapping]:
    """Take due pending requests and push their next attempt past a lease, so a crash
    mid-call leaves them to be taken again after the lease, and two workers never share."""
    due = (
        select(requests.c.id)
        .where(and_(requests.c.status == "pending", requests.c.next_attempt_at <= func.now()))
        .order_by(requests.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    result = await session.execute(
        update(requests)
        .where(requests.c.id.in_(due))
        .values(
            attempts=requests.c.attempts + 1,
            next_attempt_at=func.now() + text(f"interval '{float(lease_seconds)} seconds'"),
        )
        .returning(requests)
    )
    return list(result.mappings())


async def lock_id_number(session: AsyncSession, id_number_index: str) -> None:
    """Serialise the verdicts on one ID number (until the transaction ends): the check that
    no other account holds it and the marking of this one then cannot interleave."""
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(id_number_index, 0)))
    )


async def decide(session: AsyncSession, request_id: uuid.UUID, *, status: str,
                 reason: str | None) -> None:
    await session.execute(
        update(requests).where(requests.c.id == request_id)
        .values(status=status, reason=reason, decided_at=func.now(), next_attempt_at=None)
    )


async def postpone(session: AsyncSession, request_id: uuid.UUID, *, seconds: float) -> None:
    await session.execute(
        update(requests).where(requests.c.id == request_id)
        .values(next_attempt_at=func.now() + text(f"interval '{float(seconds)} seconds'"))
    )
