"""Queries over staff accounts by unit (a department admin's view of their unit)."""

from __future__ import annotations

import uuid

from sqlalchemy import RowMapping, select

from services.identity.store.tables import users
from shared.db.uow import UnitOfWork


async def list_unit_staff(uow: UnitOfWork, unit_id: uuid.UUID, *, after: str | None,
                          limit: int) -> list[RowMapping]:
    """Staff accounts whose departments include the unit, by username after ``after``."""
    query = select(users).where(users.c.kind == "staff", users.c.departments.contains([unit_id]))
    if after:
        query = query.where(users.c.username > after)
    query = query.order_by(users.c.username).limit(limit)
    return list((await uow.connection.execute(query)).mappings())
