"""Accounts (residents and staff) and refresh tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import DateTime, String, and_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.engine import RowMapping

from services.identity.store.tables import refresh_tokens, users
from shared.db.uow import UnitOfWork


@dataclass(frozen=True)
class NewRefreshToken:
    token_hash: str
    family_id: uuid.UUID
    expires_at: datetime


async def find_by_openid(uow: UnitOfWork, openid: str) -> RowMapping | None:
    result = await uow.connection.execute(select(users).where(users.c.openid == openid))
    return result.mappings().first()


async def find_by_web_openid(uow: UnitOfWork, web_openid: str) -> RowMapping | None:
    result = await uow.connection.execute(select(users).where(users.c.web_openid == web_openid))
    return result.mappings().first()


def _resident_with_unionid(unionid: str) -> Any:
    """The resident account a unionid names (the oldest, should two doors' first logins
    have raced), locked: a link to it is written next."""
    return (select(users.c.id).where(users.c.kind == "resident", users.c.unionid == unionid)
            .order_by(users.c.created_at).limit(1).with_for_update())


async def link_web_openid_by_unionid(uow: UnitOfWork, *, unionid: str, web_openid: str
                                     ) -> bool:
    """Give the account the mini-program made for this person its 公众号 openid too."""
    result = await uow.connection.execute(
        update(users)
        .where(users.c.id == _resident_with_unionid(unionid).scalar_subquery(),
               users.c.web_openid.is_(None))
        .values(web_openid=web_openid, updated_at=func.now()))
    return bool(result.rowcount)


async def link_openid_by_unionid(uow: UnitOfWork, *, unionid: str, openid: str) -> bool:
    """Give the account the 公众号 pages made for this person its mini-program openid."""
    result = await uow.connection.execute(
        update(users)
        .where(users.c.id == _resident_with_unionid(unionid).scalar_subquery(),
               users.c.openid.is_(None))
        .values(openid=openid, updated_at=func.now()))
    return bool(result.rowcount)


async def insert_web_resident_if_absent(
    uow: UnitOfWork, *, user_id: uuid.UUID, web_openid: str, unionid: str | None
) -> bool:
    """Create the resident for a 公众号 openid unless a concurrent first sign-in did."""
    result = await uow.connection.execute(
        insert(users)
        .values(id=user_id, kind="resident", web_openid=web_openid, unionid=unionid,
                roles=["resident"], regions=[], departments=[], verified=False,
                disabled=False)
        .on_conflict_do_nothing(index_elements=["web_openid"],
                                index_where=users.c.web_openid.is_not(None))
        .returning(users.c.id)
    )
    return result.first() is not None


def _build_touch_statement() -> Any:
    touched = (
        update(users)
        .where(users.c.openid == bindparam("p_openid"))
        .values(
            wechat_session_key=bindparam("p_session_key"),
            unionid=func.coalesce(bindparam("p_unionid", type_=String), users.c.unionid),
            updated_at=func.now(),
        )
        .returning(*users.c)
        .cte("touched")
    )
    issued = (
        insert(refresh_tokens)
        .from_select(
            ["id", "user_id", "family_id", "token_hash", "expires_at"],
            select(
                bindparam("p_token_id", type_=UUID(as_uuid=True)), touched.c.id,
                bindparam("p_family_id", type_=UUID(as_uuid=True)),
                bindparam("p_token_hash", type_=String),
                bindparam("p_expires_at", type_=DateTime(timezone=True)),
            ).where(touched.c.disabled.is_(False)),
        )
        .cte("issued")
    )
    return select(touched).add_cte(issued)


# Built once: constructing this statement costs more CPU than running it.
_TOUCH_RESIDENT_LOGIN = _build_touch_statement()


async def touch_resident_login(
    uow: UnitOfWork, *, openid: str, unionid: str | None, session_key_cipher: str,
    refresh: NewRefreshToken,
) -> RowMapping | None:
    """A returning resident, in one round trip: store the new session key, issue the refresh
    token (unless the account is disabled) and read the account. Logins are the hottest
    write of the platform; each trip saved is latency under load."""
    result = await uow.connection.execute(_TOUCH_RESIDENT_LOGIN, {
        # Parameter names differ from column names on purpose: an UPDATE would take a
        # parameter named like a column as one more SET value.
        "p_openid": openid, "p_unionid": unionid, "p_session_key": session_key_cipher,
        "p_token_id": uuid.uuid4(), "p_family_id": refresh.family_id,
        "p_token_hash": refresh.token_hash, "p_expires_at": refresh.expires_at,
    })
    return result.mappings().first()


async def insert_resident_if_absent(
    uow: UnitOfWork, *, user_id: uuid.UUID, openid: str, unionid: str | None,
    session_key_cipher: str,
) -> bool:
    """Create the resident for ``openid`` unless a concurrent first login already did."""
    result = await uow.connection.execute(
        insert(users)
        .values(
            id=user_id, kind="resident", openid=openid, unionid=unionid,
            wechat_session_key=session_key_cipher, roles=["resident"], regions=[],
            departments=[], verified=False, disabled=False,
        )
        .on_conflict_do_nothing(index_elements=["openid"])
        .returning(users.c.id)
    )
    return result.first() is not None


async def get_user(uow: UnitOfWork, user_id: uuid.UUID, *,
                   lock: bool | Literal["share"] = False) -> RowMapping | None:
    """``lock``: True for update (changing the account), "share" to issue a token from it
    (a concurrent change waits, so its revocation covers the token)."""
    query = select(users).where(users.c.id == user_id)
    if lock == "share":
        query = query.with_for_update(read=True)
    elif lock:
        query = query.with_for_update()
    return (await uow.connection.execute(query)).mappings().first()


async def find_by_username(uow: UnitOfWork, username: str, *, share_lock: bool = False
                           ) -> RowMapping | None:
    query = select(users).where(users.c.username == username)
    if share_lock:
        query = query.with_for_update(read=True)
    return (await uow.connection.execute(query)).mappings().first()


async def update_user(uow: UnitOfWork, user_id: uuid.UUID, **values: Any) -> None:
    await uow.connection.execute(
        update(users).where(users.c.id == user_id).values(updated_at=func.now(), **values)
    )


async def insert_staff(uow: UnitOfWork, **values: Any) -> bool:
    result = await uow.connection.execute(
        insert(users)
        .values(kind="staff", verified=False, disabled=False, **values)
        .on_conflict_do_nothing(index_elements=["username"])
        .returning(users.c.id)
    )
    return result.first() is not None


async def list_staff(uow: UnitOfWork, *, after: str | None, limit: int
                     ) -> list[RowMapping]:
    query = select(users).where(users.c.kind == "staff")
    if after:
        query = query.where(users.c.username > after)
    query = query.order_by(users.c.username).limit(limit)
    return list((await uow.connection.execute(query)).mappings())


async def verified_user_by_id_index(uow: UnitOfWork, index: str) -> RowMapping | None:
    result = await uow.connection.execute(
        select(users).where(and_(users.c.id_number_index == index, users.c.verified))
    )
    return result.mappings().first()


async def match_active_residents(uow: UnitOfWork, *, id_number_index: str | None = None,
                                 phone_index: str | None = None, limit: int = 2
                                 ) -> list[RowMapping]:
    """Enabled resident accounts holding a verified ID number, or carrying a phone (by blind
    index); ``limit`` 2 is enough to tell one match from several."""
    if id_number_index is not None:
        condition = and_(users.c.id_number_index == id_number_index, users.c.verified)
    else:
        condition = users.c.phone_index == phone_index
    result = await uow.connection.execute(
        select(users.c.id, users.c.verified)
        .where(condition, users.c.kind == "resident", users.c.disabled.is_(False))
        .limit(limit)
    )
    return list(result.mappings())


# -- refresh tokens ----------------------------------------------------------------------------


async def insert_refresh_token(
    uow: UnitOfWork, *, user_id: uuid.UUID, refresh: NewRefreshToken
) -> None:
    await uow.connection.execute(
        insert(refresh_tokens).values(
            id=uuid.uuid4(), user_id=user_id, family_id=refresh.family_id,
            token_hash=refresh.token_hash, expires_at=refresh.expires_at,
        )
    )


async def lock_refresh_token(uow: UnitOfWork, token_hash: str) -> RowMapping | None:
    result = await uow.connection.execute(
        select(refresh_tokens, func.now().label("now"))
        .where(refresh_tokens.c.token_hash == token_hash)
        .with_for_update()
    )
    return result.mappings().first()


async def mark_refresh_used(uow: UnitOfWork, token_id: uuid.UUID) -> None:
    await uow.connection.execute(
        update(refresh_tokens).where(refresh_tokens.c.id == token_id).values(used_at=func.now())
    )


async def revoke_family(uow: UnitOfWork, family_id: uuid.UUID) -> None:
    await uow.connection.execute(
        update(refresh_tokens)
        .where(and_(refresh_tokens.c.family_id == family_id,
                    refresh_tokens.c.revoked_at.is_(None)))
        .values(revoked_at=func.now())
    )


async def revoke_user_tokens(uow: UnitOfWork, user_id: uuid.UUID) -> None:
    await uow.connection.execute(
        update(refresh_tokens)
        .where(and_(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None)))
        .values(revoked_at=func.now())
    )
