"""Identity's staff accounts as staff notices address them, and who a notice reaches."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.dialects.postgresql import array, insert

from services.feedback.store.tables import staff_directory
from shared.db.uow import UnitOfWork


async def apply(uow: UnitOfWork, entry: dict[str, Any]) -> bool:
    """Keep ``entry`` unless a version as new or newer is held; True when it was kept."""
    statement = insert(staff_directory).values(**entry)
    upsert = statement.on_conflict_do_update(
        index_elements=["staff_id"],
        set_={column: statement.excluded[column] for column in entry if column != "staff_id"},
        where=staff_directory.c.version < statement.excluded.version,
    ).returning(staff_directory.c.staff_id)
    return (await uow.connection.execute(upsert)).first() is not None


def _any_of(column: Any, values: Sequence[str]) -> Any:
    return column.overlap(array([literal(v) for v in values]))


async def reachable_in_unit(uow: UnitOfWork, unit_id: uuid.UUID, roles: Sequence[str]
                            ) -> list[uuid.UUID]:
    """Active staff with WeChat bound who work for the unit in one of ``roles``."""
    query = select(staff_directory.c.staff_id).where(
        staff_directory.c.active, staff_directory.c.wechat_bound,
        staff_directory.c.unit_ids.contains([unit_id]),
        _any_of(staff_directory.c.roles, roles),
    ).order_by(staff_directory.c.staff_id)
    return list((await uow.connection.execute(query)).scalars())


async def reachable_over(uow: UnitOfWork, scopes: Sequence[str], roles: Sequence[str]
                         ) -> list[uuid.UUID]:
    """Active staff with WeChat bound holding one of ``roles`` with a region scope among
    ``scopes`` (the notice's region and every region above it)."""
    query = select(staff_directory.c.staff_id).where(
        staff_directory.c.active, staff_directory.c.wechat_bound,
        _any_of(staff_directory.c.regions, scopes), _any_of(staff_directory.c.roles, roles),
    ).order_by(staff_directory.c.staff_id)
    return list((await uow.connection.execute(query)).scalars())


async def reachable_user(uow: UnitOfWork, staff_id: uuid.UUID) -> list[uuid.UUID]:
    """The staff member, when active with WeChat bound (a notice to them by name)."""
    query = select(staff_directory.c.staff_id).where(
        staff_directory.c.active, staff_directory.c.wechat_bound,
        staff_directory.c.staff_id == staff_id)
    return list((await uow.connection.execute(query)).scalars())
