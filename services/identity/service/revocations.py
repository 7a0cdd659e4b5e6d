"""Revoking access tokens, and the feed every verifier polls (shared/auth/revocations.py).

A revocation is written in the transaction of the change that causes it (disable, re-scope,
logout, a refresh token reused, a partner app disabled), so it exists exactly when the change
does; identity's replicas read the table directly, every other process through
``GET /internal/identity/revocations``."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from services.identity.context import IdentityContext
from services.identity.store import revocations as store
from shared.auth.revocations import Revocation, RevocationBatch
from shared.contracts.identity import AccessRevoked
from shared.db.uow import UnitOfWork
from shared.paging import CURSOR_INVALID
from shared.problems import BadRequest
from shared.web.runtime import ServiceRuntime

# Past a token's lifetime, plus the verifiers' clock leeway and some.
_EXPIRY_MARGIN = timedelta(seconds=60)
_FEED_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PURGE_EVERY_SECONDS = 600.0


async def revoke(uow: UnitOfWork, ctx: IdentityContext, *, kind: str, key: str | uuid.UUID,
                 reason: str, user_id: uuid.UUID | None = None,
                 revoked_by: uuid.UUID | None = None) -> None:
    """Inside the caller's transaction: tokens of ``key`` issued from now on stay valid,
    earlier ones are refused everywhere within a poll interval.

    ``not_before`` is this process's clock, the clock tokens are stamped with (``iat``); the
    caller holds the account's row lock, so no token with the old state can be signed after
    it (logins and refreshes read the row under a share lock)."""
    await revoke_for(uow, token_ttl_seconds=ctx.settings.access_token_ttl_seconds, kind=kind,
                     key=key, reason=reason, user_id=user_id, revoked_by=revoked_by)


async def revoke_for(uow: UnitOfWork, *, token_ttl_seconds: int, kind: str,
                     key: str | uuid.UUID, reason: str, user_id: uuid.UUID | None = None,
                     revoked_by: uuid.UUID | None = None) -> None:
    """:func:`revoke` where only the access tokens' lifetime is at hand (a bus consumer)."""
    not_before = datetime.fromtimestamp(time.time(), UTC)
    expires_at = not_before + timedelta(seconds=token_ttl_seconds) + _EXPIRY_MARGIN
    await store.record(uow, kind=kind, key=str(key), not_before=not_before,
                       expires_at=expires_at, reason=reason)
    await uow.emit("identity.access_revoked", AccessRevoked(
        kind=kind, key=str(key), reason=reason, not_before=not_before, user_id=user_id,
        revoked_by=revoked_by))


def parse_cursor(cursor: str | None) -> datetime | None:
    """The feed's cursor is the moment of the previous poll (ISO 8601, with its offset), not
    a list's keyset: every verifier already holds one, so it keeps this spelling; a bad one
    is refused like a bad list cursor."""
    if not cursor:
        return None
    try:
        moment = datetime.fromisoformat(cursor)
        if moment.tzinfo is None:
            raise ValueError("no offset")
        # Before the feed existed (year 1 at the extreme) is no moment it gave out, and the
        # store's look-back margin would overflow on it.
        if moment.astimezone(UTC) < _FEED_EPOCH:
            raise ValueError("before the feed existed")
    except (ValueError, OverflowError):
        raise BadRequest("malformed cursor", code=CURSOR_INVALID) from None
    return moment


async def feed(uow: UnitOfWork, cursor: str | None) -> RevocationBatch:
    """Revocations in force recorded since ``cursor`` (every one in force without it)."""
    since = parse_cursor(cursor)
    async with uow:
        rows, moment = await store.in_force_since(uow, since)
    return RevocationBatch(
        revocations=[Revocation(kind=r["kind"], key=r["key"],
                                not_before=r["not_before"].timestamp(),
                                expires_at=r["expires_at"].timestamp()) for r in rows],
        cursor=moment.isoformat())


class DatabaseRevocationSource:
    """Identity's own replicas poll the table itself, not their own HTTP feed. They also
    delete rows a day past their expiry now and then."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime
        self._purged_at = time.monotonic()

    async def fetch(self, cursor: str | None) -> RevocationBatch:
        batch = await feed(self._runtime.uow(), cursor)
        if time.monotonic() - self._purged_at > _PURGE_EVERY_SECONDS:
            self._purged_at = time.monotonic()
            uow = self._runtime.uow()
            async with uow:
                await store.purge_expired(uow)
        return batch

    async def aclose(self) -> None:
        return None
