"""Login (WeChat and staff), token refresh and logout, the caller's own account, phone binding."""

from __future__ import annotations

import functools
import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import RowMapping

from services.identity import domain
from services.identity.context import IdentityContext
from services.identity.schemas import TokenPair, UserRead
from services.identity.service.directory import wechat_bound
from services.identity.service.revocations import revoke
from services.identity.store import accounts as store
from services.identity.wechat import (
    WebAuthorisation,
    WeChatError,
    login_problem,
    phone_problem,
)
from shared.auth.revocations import SESSION
from shared.contracts.identity import UserRegistered
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.pii import mask_id_number, mask_name, mask_phone
from shared.problems import Forbidden, NotFound, RuleViolation, Unauthorized

log = get_logger(__name__)

PHONE, ID_NUMBER, NAME, SESSION_KEY = "phone", "id_number", "name", "wechat_session_key"
# A constant hash to verify against when the username does not exist, so a login for an
# unknown user costs the same time as one with a wrong password.
_DUMMY_PASSWORD = "not-a-real-password-" + secrets.token_hex(8)


def user_view(ctx: IdentityContext, row: RowMapping) -> UserRead:
    pii = ctx.pii
    return UserRead(
        id=row["id"],
        kind=row["kind"],
        username=row["username"],
        display_name=row["display_name"],
        roles=list(row["roles"]),
        regions=list(row["regions"] or []),
        departments=list(row["departments"] or []),
        verified=row["verified"],
        phone=mask_phone(pii.decrypt_optional(row["phone_cipher"], context=PHONE)),
        id_number=mask_id_number(
            pii.decrypt_optional(row["id_number_cipher"], context=ID_NUMBER)
        ),
        name=mask_name(pii.decrypt_optional(row["name_cipher"], context=NAME)),
        region_code=row["region_code"],
        registry_person_id=row["registry_person_id"],
        agency=row["agency"],
        disabled=row["disabled"],
        wechat_bound=wechat_bound(row),
    )


def _hash_refresh(token: str) -> str:
    # Refresh tokens are 256-bit random values: a plain SHA-256 cannot be brute-forced.
    return hashlib.sha256(token.encode()).hexdigest()


def _new_refresh(
    ctx: IdentityContext, family_id: uuid.UUID | None = None
) -> tuple[str, store.NewRefreshToken]:
    value = "rt_" + secrets.token_urlsafe(32)
    ttl = timedelta(seconds=ctx.settings.refresh_token_ttl_seconds)
    return value, store.NewRefreshToken(
        token_hash=_hash_refresh(value),
        family_id=family_id or uuid.uuid4(),
        expires_at=datetime.now(UTC) + ttl,
    )


async def issue_tokens(
    ctx: IdentityContext, uow: UnitOfWork, row: RowMapping, *,
    family_id: uuid.UUID | None = None, stored_refresh: str | None = None,
) -> TokenPair:
    """Access token plus refresh token; ``stored_refresh`` is one already written, of the
    family ``family_id``. The access token names its family as its session (``sid``): a
    logout revokes the session's access tokens with its refresh tokens."""
    settings = ctx.settings
    refresh = stored_refresh
    if refresh is None:
        refresh, record = _new_refresh(ctx, family_id)
        family_id = record.family_id
        await store.insert_refresh_token(uow, user_id=row["id"], refresh=record)
    access = ctx.signer.access_token(
        subject=row["id"],
        roles=row["roles"],
        regions=row["regions"] or (),
        departments=row["departments"] or (),
        verified=row["verified"],
        kind=row["kind"],
        ttl_seconds=settings.access_token_ttl_seconds,
        # Reviewers' agency: relief reads it from the token (``ext.agency``).
        extra={"agency": row["agency"]} if row["agency"] else None,
        session=family_id,
    )
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=settings.access_token_ttl_seconds,
        user=user_view(ctx, row),
    )


async def wechat_login(*, uow: UnitOfWork, ctx: IdentityContext, code: str) -> TokenPair:
    try:
        session = await ctx.wechat.code_to_session(code)
    except WeChatError as error:
        log.info("wechat_login_refused", errcode=error.errcode)
        raise login_problem(error) from None
    # The session key stays here, encrypted: it is what checks the signature of data the
    # mini-program sends from wx.getUserInfo / encrypted wx APIs, and nothing else needs it.
    key_cipher = ctx.pii.encrypt(session.session_key, context=SESSION_KEY)
    refresh, record = _new_refresh(ctx)
    async with uow:
        touch = functools.partial(
            store.touch_resident_login, uow, openid=session.openid, unionid=session.unionid,
            session_key_cipher=key_cipher, refresh=record)
        row = await touch()
        # First time in the mini-program of someone the 公众号 pages know: their account.
        if row is None and session.unionid and await store.link_openid_by_unionid(
                uow, unionid=session.unionid, openid=session.openid):
            row = await touch()
        if row is not None:
            if row["disabled"]:
                raise Forbidden("this account is disabled", code="account_disabled")
            return await issue_tokens(ctx, uow, row, stored_refresh=refresh,
                                family_id=record.family_id)
        # First login (or a concurrent first login won the insert: then read its account).
        user_id = uuid.uuid4()
        created = await store.insert_resident_if_absent(
            uow, user_id=user_id, openid=session.openid, unionid=session.unionid,
            session_key_cipher=key_cipher,
        )
        if created:
            await uow.emit(
                "identity.user_registered",
                UserRegistered(user_id=user_id, registered_at=datetime.now(UTC),
                               channel="wechat"),
            )
            log.info("resident_registered", user_id=str(user_id))
        row = await store.find_by_openid(uow, session.openid)
        assert row is not None
        if row["disabled"]:
            raise Forbidden("this account is disabled", code="account_disabled")
        await store.insert_refresh_token(uow, user_id=row["id"], refresh=record)
        return await issue_tokens(ctx, uow, row, stored_refresh=refresh, family_id=record.family_id)


async def wechat_web_login(*, uow: UnitOfWork, ctx: IdentityContext, code: str) -> TokenPair:
    """Sign in from the 公众号's web pages with a web authorisation (snsapi_base) code: the
    same account as the mini-program's for the same person (by unionid)."""
    try:
        authorised = await ctx.wechat.web_authorisation(code)
    except WeChatError as error:
        log.info("wechat_web_login_refused", errcode=error.errcode)
        raise login_problem(error) from None
    refresh, record = _new_refresh(ctx)
    async with uow:
        row = await _web_resident(uow, authorised)
        if row["disabled"]:
            raise Forbidden("this account is disabled", code="account_disabled")
        await store.insert_refresh_token(uow, user_id=row["id"], refresh=record)
        return await issue_tokens(ctx, uow, row, stored_refresh=refresh,
                                  family_id=record.family_id)


async def _web_resident(uow: UnitOfWork, authorised: WebAuthorisation) -> RowMapping:
    """The account of a 公众号 sign-in: by its web openid; else the account the
    mini-program made for the same unionid, linked now; else a new resident."""
    row = await store.find_by_web_openid(uow, authorised.openid)
    if row is not None:
        return row
    linked = authorised.unionid is not None and await store.link_web_openid_by_unionid(
        uow, unionid=authorised.unionid, web_openid=authorised.openid)
    if not linked:
        user_id = uuid.uuid4()
        if await store.insert_web_resident_if_absent(
                uow, user_id=user_id, web_openid=authorised.openid,
                unionid=authorised.unionid):
            await uow.emit("identity.user_registered", UserRegistered(
                user_id=user_id, registered_at=datetime.now(UTC), channel="wechat_web"))
            log.info("resident_registered", user_id=str(user_id), channel="wechat_web")
    row = await store.find_by_web_openid(uow, authorised.openid)
    assert row is not None  # linked or inserted above, or by a concurrent first sign-in
    return row


async def staff_login(
    *, uow: UnitOfWork, ctx: IdentityContext, username: str, password: str
) -> TokenPair:
    async with uow:
        # Under a share lock: a disable or re-scope (which locks the row for update) either
        # waits for this login's token, and then revokes it, or commits before it is read.
        row = await store.find_by_username(uow, username.strip().lower(),
                                           share_lock=True)
        stored_hash = row["password_hash"] if row is not None else None
        try:
            ctx.passwords.verify(stored_hash or _dummy_hash(ctx), password)
            valid = stored_hash is not None
        except (VerificationError, InvalidHashError):
            valid = False
        if not valid or row is None:
            raise Unauthorized("wrong username or password", code="credentials_invalid")
        if row["disabled"]:
            raise Forbidden("this account is disabled", code="account_disabled")
        if stored_hash is not None and ctx.passwords.check_needs_rehash(stored_hash):
            await store.update_user(uow, row["id"],
                                    password_hash=ctx.passwords.hash(password))
        return await issue_tokens(ctx, uow, row)


_dummy_hashes: dict[int, str] = {}


def _dummy_hash(ctx: IdentityContext) -> str:
    key = id(ctx.passwords)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = ctx.passwords.hash(_DUMMY_PASSWORD)
    return _dummy_hashes[key]


async def refresh(*, uow: UnitOfWork, ctx: IdentityContext, refresh_token: str) -> TokenPair:
    reused = False
    async with uow:
        token = await store.lock_refresh_token(uow, _hash_refresh(refresh_token))
        if token is None:
            raise Unauthorized("unknown refresh token", code="refresh_token_invalid")
        verdict = domain.judge_refresh(
            used=token["used_at"] is not None,
            revoked=token["revoked_at"] is not None,
            expired=token["expires_at"] <= token["now"],
        )
        if verdict is domain.RefreshVerdict.REUSED:
            # A rotated token came back: whoever holds the family's tokens is not to be
            # trusted any more. The revocation must commit, so the error is raised after.
            await store.revoke_family(uow, token["family_id"])
            await revoke(uow, ctx, kind=SESSION, key=token["family_id"],
                         reason="refresh_reused", user_id=token["user_id"])
            log.warning("refresh_token_reused", user_id=str(token["user_id"]))
            reused = True
        elif verdict is domain.RefreshVerdict.REVOKED:
            raise Unauthorized("this session has ended", code="refresh_token_revoked")
        elif verdict is domain.RefreshVerdict.EXPIRED:
            raise Unauthorized("refresh token expired", code="refresh_token_expired")
        else:
            user = await store.get_user(uow, token["user_id"], lock="share")
            if user is None or user["disabled"]:
                raise Forbidden("this account is disabled", code="account_disabled")
            await store.mark_refresh_used(uow, token["id"])
            return await issue_tokens(ctx, uow, user, family_id=token["family_id"])
    assert reused
    raise Unauthorized(
        "refresh token was already used; every session of this login is revoked",
        code="refresh_token_reused",
    )


async def logout(*, uow: UnitOfWork, ctx: IdentityContext, refresh_token: str,
                 user_id: uuid.UUID) -> None:
    """End one login: its refresh tokens, and the access tokens issued to it (their ``sid``)
    wherever they are presented."""
    async with uow:
        token = await store.lock_refresh_token(uow, _hash_refresh(refresh_token))
        if token is None or token["user_id"] != user_id:
            raise Unauthorized("unknown refresh token", code="refresh_token_invalid")
        await store.revoke_family(uow, token["family_id"])
        await revoke(uow, ctx, kind=SESSION, key=token["family_id"], reason="logout",
                     user_id=user_id)


async def get_me(*, uow: UnitOfWork, ctx: IdentityContext, user_id: uuid.UUID) -> UserRead:
    async with uow:
        row = await store.get_user(uow, user_id)
    if row is None:
        raise NotFound("no such account", code="account_not_found")
    return user_view(ctx, row)


async def bind_phone(
    *, uow: UnitOfWork, ctx: IdentityContext, user_id: uuid.UUID, code: str
) -> UserRead:
    try:
        raw_phone = await ctx.wechat.phone_number(code)
    except WeChatError as error:
        raise phone_problem(error) from None
    try:
        phone = domain.parse_phone(raw_phone)
    except RuleViolation:
        raise RuleViolation("WeChat returned a number that is not a mainland mobile",
                            code="phone_invalid") from None
    async with uow:
        row = await store.get_user(uow, user_id, lock=True)
        if row is None:
            raise NotFound("no such account", code="account_not_found")
        await store.update_user(
            uow, user_id,
            phone_cipher=ctx.pii.encrypt(phone, context=PHONE),
            phone_index=ctx.pii.blind_index(phone, context=PHONE),
        )
        row = await store.get_user(uow, user_id)
        assert row is not None
        return user_view(ctx, row)
