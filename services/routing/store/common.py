"""Reading rows as mappings on the unit of work's connection."""

from __future__ import annotations

from typing import Any

from shared.db.uow import UnitOfWork


async def fetch_one(
    uow: UnitOfWork, query: Any, params: dict[str, Any] | None = None
) -> Any | None:
    return (await uow.connection.execute(query, params)).mappings().first()


async def fetch_all(uow: UnitOfWork, query: Any, params: dict[str, Any] | None = None) -> list[Any]:
    return list((await uow.connection.execute(query, params)).mappings())
