"""Queries over staff accounts: by unit (a department admin's view of their unit), by bound
WeChat, and their directory entries (the version published with each change)."""

from __future__ import annotations

import uuid

from sqlalchemy import RowMapping, func, select, update
from sqlalchemy.exc import IntegrityError

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


async def next_directory_version(uow: UnitOfWork, staff_id: uuid.UUID) -> RowMapping:
    """Raise the account's directory version; the account as it now stands. Run in the
    transaction of the change it announces (the row lock orders the versions)."""
    result = await uow.connection.execute(
        update(users).where(users.c.id == staff_id)
        .values(directory_version=users.c.directory_version + 1)
        .returning(*users.c)
    )
    return result.mappings().one()


async def staff_ids_after(uow: UnitOfWork, after: uuid.UUID | None, *, limit: int
                          ) -> list[uuid.UUID]:
    """Staff account ids in id order after ``after`` (a republication walks them all)."""
    query = select(users.c.id).where(users.c.kind == "staff")
    if after is not None:
        query = query.where(users.c.id > after)
    result = await uow.connection.execute(query.order_by(users.c.id).limit(limit))
    return list(result.scalars())


async def bind_openid(uow: UnitOfWork, staff_id: uuid.UUID, *, cipher: str, index: str
                      ) -> bool:
    """Bind the WeChat of blind index ``index`` to the staff account; False when another
    staff account holds it (the unique index decides, so two binding at once cannot both
    win). A savepoint keeps the transaction usable after the refusal."""
    try:
        async with uow.connection.begin_nested():
            await uow.connection.execute(
                update(users).where(users.c.id == staff_id)
                .values(staff_openid_cipher=cipher, staff_openid_index=index,
                        updated_at=func.now())
            )
    except IntegrityError:
        return False
    return True


async def unbind_openid(uow: UnitOfWork, staff_id: uuid.UUID) -> None:
    await uow.connection.execute(
        update(users).where(users.c.id == staff_id)
        .values(staff_openid_cipher=None, staff_openid_index=None, updated_at=func.now())
    )
