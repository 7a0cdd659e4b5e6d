"""Revoked access tokens (see shared/auth/revocations.py): recorded with the change that
causes them, read by the revocation feed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import RowMapping

from services.identity.store.tables import revocations
from shared.db.uow import UnitOfWork

# A revocation is recorded at its transaction's start (now()) but becomes visible only at its
# commit: a poll returns what was recorded since its previous poll's moment minus this much,
# so a revocation committed a little after a poll is still read by the next one. Revoking
# transactions take milliseconds; this allows them a minute.
VISIBILITY_MARGIN = timedelta(seconds=60)
KEPT_AFTER_EXPIRY = timedelta(days=1)


async def record(uow: UnitOfWork, *, kind: str, key: str, not_before: datetime,
                 expires_at: datetime, reason: str) -> None:
    await uow.connection.execute(insert(revocations).values(
        kind=kind, key=key, not_before=not_before, expires_at=expires_at, reason=reason,
        recorded_at=func.now()))


async def in_force_since(uow: UnitOfWork, since: datetime | None
                         ) -> tuple[list[RowMapping], datetime]:
    """Revocations still in force recorded since ``since`` (all of them when None), and the
    moment to ask from next time."""
    moment = (await uow.connection.execute(select(func.now()))).scalar_one()
    query = select(revocations.c.kind, revocations.c.key, revocations.c.not_before,
                   revocations.c.expires_at).where(revocations.c.expires_at > moment)
    if since is not None:
        query = query.where(revocations.c.recorded_at > since - VISIBILITY_MARGIN)
    rows = list((await uow.connection.execute(query.order_by(revocations.c.id))).mappings())
    return rows, moment


async def purge_expired(uow: UnitOfWork) -> None:
    await uow.connection.execute(delete(revocations).where(
        revocations.c.expires_at < func.now() - KEPT_AFTER_EXPIRY))
