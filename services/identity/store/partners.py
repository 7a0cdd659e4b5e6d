"""Partner apps (API clients) and their secrets (ciphertexts; one current, older ones expiring)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from services.identity.store.tables import partner_apps, partner_secrets
from shared.db.uow import UnitOfWork


async def insert_app(uow: UnitOfWork, **values: object) -> None:
    await uow.connection.execute(insert(partner_apps).values(**values))


async def insert_secret(uow: UnitOfWork, *, app_id: uuid.UUID, secret_cipher: str) -> None:
    await uow.connection.execute(insert(partner_secrets).values(
        id=uuid.uuid4(), app_id=app_id, secret_cipher=secret_cipher))


async def get_app(uow: UnitOfWork, app_id: uuid.UUID, *, lock: bool = False
                  ) -> RowMapping | None:
    query = select(partner_apps).where(partner_apps.c.id == app_id)
    if lock:
        query = query.with_for_update()
    return (await uow.connection.execute(query)).mappings().first()


async def find_by_key(uow: UnitOfWork, app_key: str) -> RowMapping | None:
    result = await uow.connection.execute(
        select(partner_apps).where(partner_apps.c.app_key == app_key))
    return result.mappings().first()


async def list_apps(uow: UnitOfWork, *, after: str | None, limit: int) -> list[RowMapping]:
    query = select(partner_apps)
    if after:
        query = query.where(partner_apps.c.app_key > after)
    return list((await uow.connection.execute(
        query.order_by(partner_apps.c.app_key).limit(limit))).mappings())


async def expire_current_secrets(uow: UnitOfWork, app_id: uuid.UUID, *, at: datetime
                                 ) -> None:
    await uow.connection.execute(
        update(partner_secrets)
        .where(and_(partner_secrets.c.app_id == app_id, partner_secrets.c.expires_at.is_(None)))
        .values(expires_at=at)
    )


async def live_secrets(uow: UnitOfWork, app_id: uuid.UUID) -> list[RowMapping]:
    result = await uow.connection.execute(
        select(partner_secrets)
        .where(and_(partner_secrets.c.app_id == app_id,
                    or_(partner_secrets.c.expires_at.is_(None),
                        partner_secrets.c.expires_at > func.now())))
        .order_by(partner_secrets.c.created_at.desc())
    )
    return list(result.mappings())


async def set_callback_hosts(uow: UnitOfWork, app_id: uuid.UUID, hosts: list[str]
                             ) -> None:
    await uow.connection.execute(
        update(partner_apps).where(partner_apps.c.id == app_id).values(callback_hosts=hosts))


async def disable_app(uow: UnitOfWork, app_id: uuid.UUID) -> None:
    await uow.connection.execute(
        update(partner_apps).where(and_(partner_apps.c.id == app_id,
                                        partner_apps.c.disabled_at.is_(None)))
        .values(disabled_at=func.now())
    )
