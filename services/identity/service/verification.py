"""Real-name verification: local checks, the provider call, the retry of pending requests,
and what a verified account brings along (registry link, region tally, user_verified event)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import RowMapping

from services.identity import domain
from services.identity.context import IdentityContext
from services.identity.realname import ProviderUnavailable, ProviderVerdict
from services.identity.schemas import VerificationRead
from services.identity.service.accounts import ID_NUMBER, NAME, issue_tokens
from services.identity.store import accounts as account_store
from services.identity.store import registry as registry_store
from services.identity.store import verification as store
from shared.contracts.identity import UserVerified
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.periodic import PeriodicWorker
from shared.problems import Conflict, Forbidden, NotFound
from shared.web.runtime import ServiceRuntime

log = get_logger(__name__)
Status = domain.VerificationStatus


async def request_verification(
    *, uow: UnitOfWork, ctx: IdentityContext, user_id: uuid.UUID, name: str, id_number: str,
    session_id: str | None = None,
) -> VerificationRead:
    """``session_id``: the caller's login (its token's ``sid``); a verification decided on
    this call answers with fresh tokens of that login (see ``_with_fresh_tokens``)."""
    result = await _verify(uow=uow, ctx=ctx, user_id=user_id, name=name, id_number=id_number)
    if result.status == Status.VERIFIED.value:
        return await _with_fresh_tokens(uow, ctx, result, user_id=user_id,
                                        session_id=session_id)
    if result.status == Status.PENDING.value:
        return result.model_copy(update={"refresh_required": True})
    return result


async def _with_fresh_tokens(
    uow: UnitOfWork, ctx: IdentityContext, result: VerificationRead, *, user_id: uuid.UUID,
    session_id: str | None,
) -> VerificationRead:
    """The caller's access token still says unverified (for up to its lifetime): answer with
    a new pair issued exactly as a refresh issues it, in the caller's refresh family, so a
    logout of that login ends these tokens too. The refresh token the caller held stays
    usable (it is not rotated here: the request did not present it)."""
    async with uow:
        user = await account_store.get_user(uow, user_id, lock="share")
        if user is None or user["disabled"]:
            raise Forbidden("this account is disabled", code="account_disabled")
        pair = await issue_tokens(ctx, uow, user, family_id=_family(session_id))
    return result.model_copy(update={"tokens": pair})


def _family(session_id: str | None) -> uuid.UUID | None:
    """The refresh family a token's ``sid`` names (None: a token without one starts its own)."""
    try:
        return uuid.UUID(session_id) if session_id else None
    except ValueError:
        return None


async def _verify(
    *, uow: UnitOfWork, ctx: IdentityContext, user_id: uuid.UUID, name: str, id_number: str
) -> VerificationRead:
    clean_name = domain.parse_real_name(name)
    parsed = domain.parse_id_number(id_number, today=ctx.today())
    index = ctx.pii.blind_index(parsed.value, context=ID_NUMBER)
    request_id = uuid.uuid4()
    timeout = ctx.settings.verify_timeout_seconds
    async with uow:
        user = await account_store.get_user(uow, user_id, lock=True)
        if user is None:
            raise NotFound("no such account", code="account_not_found")
        if user["verified"]:
            raise Conflict("this account is already verified", code="already_verified")
        if await store.pending_for_user(uow, user_id) is not None:
            raise Conflict("a verification is already pending", code="verification_pending")
        holder = await account_store.verified_user_by_id_index(uow, index)
        if holder is not None:
            raise Conflict("this ID number is verified on another account",
                           code="id_number_taken")
        await store.insert_request(
            uow,
            request_id=request_id,
            user_id=user_id,
            id_number_cipher=ctx.pii.encrypt(parsed.value, context=ID_NUMBER),
            id_number_index=index,
            name_cipher=ctx.pii.encrypt(clean_name, context=NAME),
            # The worker leaves it alone while this request is still asking the provider.
            lease_until=datetime.now(UTC) + timedelta(seconds=timeout * 2 + 5),
        )
    verdict = await _ask_provider(ctx, name=clean_name, id_number=parsed.value)
    if verdict is None:
        async with uow:
            await store.postpone(uow, request_id,
                                 seconds=ctx.settings.verify_retry_seconds)
        return VerificationRead(status=Status.PENDING.value)
    return await apply_verdict(uow=uow, ctx=ctx, request_id=request_id, verdict=verdict)


async def _ask_provider(
    ctx: IdentityContext, *, name: str, id_number: str
) -> ProviderVerdict | None:
    try:
        async with asyncio.timeout(ctx.settings.verify_timeout_seconds):
            return await ctx.realname.check(name=name, id_number=id_number)
    except (ProviderUnavailable, TimeoutError) as exc:
        log.warning("realname_provider_unavailable", error=type(exc).__name__)
        return None


async def apply_verdict(
    *, uow: UnitOfWork, ctx: IdentityContext, request_id: uuid.UUID, verdict: ProviderVerdict
) -> VerificationRead:
    async with uow:
        request = await store.get_request(uow, request_id, lock=True)
        if request is None:
            raise NotFound("no such verification request", code="verification_not_found")
        if request["status"] != Status.PENDING:  # decided by another attempt already
            return VerificationRead(status=request["status"], reason=request["reason"])
        if not verdict.matched:
            reason = verdict.reason or "mismatch"
            await store.decide(uow, request_id, status=Status.REJECTED, reason=reason)
            log.info("verification_rejected", user_id=str(request["user_id"]))
            return VerificationRead(status=Status.REJECTED.value, reason=reason)
        await store.lock_id_number(uow, request["id_number_index"])
        holder = await account_store.verified_user_by_id_index(
            uow, request["id_number_index"]
        )
        if holder is not None and holder["id"] != request["user_id"]:
            await store.decide(uow, request_id, status=Status.REJECTED,
                               reason="id_number_taken")
            return VerificationRead(status=Status.REJECTED.value, reason="id_number_taken")
        await _mark_verified(uow, ctx, request)
        await store.decide(uow, request_id, status=Status.VERIFIED, reason=None)
        return VerificationRead(status=Status.VERIFIED.value)


async def _mark_verified(uow: UnitOfWork, ctx: IdentityContext, request: RowMapping) -> None:
    user_id: uuid.UUID = request["user_id"]
    id_number = domain.IdNumber(ctx.pii.decrypt(request["id_number_cipher"], context=ID_NUMBER))
    person = await registry_store.find_by_id_index(
        uow, request["id_number_index"], lock=True
    )
    region_code = person["region_code"] if person is not None else None
    now = datetime.now(UTC)
    await account_store.update_user(
        uow, user_id,
        verified=True, verified_at=now,
        id_number_cipher=request["id_number_cipher"],
        id_number_index=request["id_number_index"],
        name_cipher=request["name_cipher"],
        registry_person_id=person["id"] if person is not None else None,
        region_code=region_code,
    )
    if person is not None:
        await registry_store.link_user(uow, person["id"], user_id)
        await registry_store.add_tally(uow, person["region_code"], verified=1)
    await uow.emit(
        "identity.user_verified",
        UserVerified(
            user_id=user_id,
            verified_at=now,
            region_code=region_code,
            household_id=person["household_id"] if person is not None else None,
            registry_person_id=person["id"] if person is not None else None,
            is_minor=id_number.is_minor_on(ctx.today()),
        ),
    )
    log.info("resident_verified", user_id=str(user_id), linked=person is not None)


async def latest_status(*, uow: UnitOfWork, user_id: uuid.UUID, token_verified: bool = False
                        ) -> VerificationRead:
    """``token_verified``: what the caller's access token says; a verification it predates
    asks the caller to refresh."""
    async with uow:
        request = await store.latest_for_user(uow, user_id)
    if request is None:
        raise NotFound("no verification was requested", code="verification_not_found")
    stale = request["status"] != Status.REJECTED and not token_verified
    return VerificationRead(status=request["status"], reason=request["reason"],
                            refresh_required=stale)


async def retry_due(
    *, make_uow: Callable[[], UnitOfWork], ctx: IdentityContext, limit: int = 20
) -> bool:
    """One pass of the retry worker: ask the provider again for due pending requests.
    Whether it took a full batch (there may be more due at once)."""
    settings = ctx.settings
    claim_uow = make_uow()
    async with claim_uow:
        due = await store.claim_due(
            claim_uow, limit=limit, lease_seconds=settings.verify_timeout_seconds * 2 + 5
        )
    for request in due:
        await _retry(make_uow(), ctx, request)
    return len(due) >= limit


async def _retry(uow: UnitOfWork, ctx: IdentityContext, request: RowMapping) -> None:
    """Give up on a request past its attempts, or ask again and apply or postpone."""
    settings = ctx.settings
    if request["attempts"] > settings.verify_max_attempts:
        async with uow:
            await store.decide(uow, request["id"], status=Status.REJECTED,
                               reason="provider_unavailable")
        return
    verdict = await _ask_provider(
        ctx,
        name=ctx.pii.decrypt(request["name_cipher"], context=NAME),
        id_number=ctx.pii.decrypt(request["id_number_cipher"], context=ID_NUMBER),
    )
    if verdict is None:
        async with uow:
            await store.postpone(uow, request["id"], seconds=settings.verify_retry_seconds)
        return
    await apply_verdict(uow=uow, ctx=ctx, request_id=request["id"], verdict=verdict)


def verification_retry_worker(runtime: ServiceRuntime) -> PeriodicWorker:
    """Runtime worker: every few seconds, retries pending verifications that are due. The
    queue is the table, so a restart loses nothing and replicas share the work."""
    ctx = runtime.context_as(IdentityContext)
    return PeriodicWorker(
        "verification-retry",
        lambda: retry_due(make_uow=runtime.uow, ctx=ctx),
        lambda: ctx.settings.verify_worker_poll_seconds,
    )
