"""Real-name verification requests (a small durable queue for the retry worker)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Interval, and_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql.elements import BindParameter

from services.identity.store.tables import verification_requests as requests
from shared.db import leases
from shared.db.uow import UnitOfWork


async def insert_request(
    uow: UnitOfWork, *, request_id: uuid.UUID, user_id: uuid.UUID, id_number_cipher: str,
    id_number_index: str, name_cipher: str, lease_until: datetime,
) -> None:
    await uow.connection.execute(
        insert(requests).values(
            id=request_id, user_id=user_id, id_number_cipher=id_number_cipher,
            id_number_index=id_number_index, name_cipher=name_cipher, status="pending",
            attempts=1, next_attempt_at=lease_until,
        )
    )


async def get_request(uow: UnitOfWork, request_id: uuid.UUID, *, lock: bool = False
                      ) -> RowMapping | None:
    query = select(requests).where(requests.c.id == request_id)
    if lock:
        query = query.with_for_update()
    return (await uow.connection.execute(query)).mappings().first()


async def latest_for_user(uow: UnitOfWork, user_id: uuid.UUID) -> RowMapping | None:
    result = await uow.connection.execute(
        select(requests).where(requests.c.user_id == user_id)
        .order_by(requests.c.created_at.desc()).limit(1)
    )
    return result.mappings().first()


async def pending_for_user(uow: UnitOfWork, user_id: uuid.UUID) -> RowMapping | None:
    result = await uow.connection.execute(
        select(requests).where(and_(requests.c.user_id == user_id,
                                    requests.c.status == "pending")).limit(1)
    )
    return result.mappings().first()


async def claim_due(uow: UnitOfWork, *, limit: int, lease_seconds: float) -> list[RowMapping]:
    """Take due pending requests and push their next attempt past a lease, so a crash
    mid-call leaves them to be taken again after the lease, and two workers never share."""
    return await leases.claim_due(
        uow, requests,
        due=and_(requests.c.status == "pending", requests.c.next_attempt_at <= func.now()),
        order_by=requests.c.next_attempt_at,
        limit=limit,
        lease={"attempts": requests.c.attempts + 1,
               "next_attempt_at": func.now() + _interval(lease_seconds)},
    )


def _interval(seconds: float) -> BindParameter[timedelta]:
    """A bound interval parameter (never text spliced into the SQL)."""
    return bindparam(None, timedelta(seconds=seconds), type_=Interval)


async def lock_id_number(uow: UnitOfWork, id_number_index: str) -> None:
    """Serialise the verdicts on one ID number (until the transaction ends): the check that
    no other account holds it and the marking of this one then cannot interleave."""
    await uow.connection.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(id_number_index, 0)))
    )


async def decide(uow: UnitOfWork, request_id: uuid.UUID, *, status: str,
                 reason: str | None) -> None:
    await uow.connection.execute(
        update(requests).where(requests.c.id == request_id)
        .values(status=status, reason=reason, decided_at=func.now(), next_attempt_at=None)
    )


async def postpone(uow: UnitOfWork, request_id: uuid.UUID, *, seconds: float) -> None:
    await uow.connection.execute(
        update(requests).where(requests.c.id == request_id)
        .values(next_attempt_at=func.now() + _interval(seconds))
    )
