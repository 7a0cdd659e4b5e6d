"""Partner apps (芗里芗亲 and others) as API clients: create with a secret shown once,
rotate with an overlap window, set the hosts their webhooks may go to, disable. The gateway
checks their HMAC signatures, so it needs the secrets back: they are stored encrypted (not
hashed) and served internally, with the app's scopes, regions and callback hosts."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import RowMapping

from services.identity import domain
from services.identity.context import IdentityContext
from services.identity.schemas import (
    PartnerAppCreate,
    PartnerAppCreated,
    PartnerAppPage,
    PartnerAppRead,
    PartnerCallbackHostsSet,
    PartnerCredentialsInternal,
    PartnerSecretInternal,
    PartnerSecretRotated,
)
from services.identity.service.revocations import revoke
from services.identity.store import partners as store
from shared.auth.principal import Principal
from shared.auth.revocations import PARTNER_APP
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.paging import page_of
from shared.problems import Gone, NotFound, RuleViolation
from shared.regions import is_region_code

log = get_logger(__name__)
SECRET = "partner_secret"


def _view(row: RowMapping) -> PartnerAppRead:
    return PartnerAppRead(
        id=row["id"], app_key=row["app_key"], name=row["name"], scopes=list(row["scopes"]),
        allowed_regions=list(row["allowed_regions"]),
        callback_hosts=list(row["callback_hosts"]), disabled=row["disabled_at"] is not None,
        created_at=row["created_at"],
    )


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


async def create_app(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, cmd: PartnerAppCreate
) -> PartnerAppCreated:
    if any(not is_region_code(code) for code in cmd.allowed_regions):
        raise RuleViolation("allowed regions must be region codes", code="region_invalid")
    callback_hosts = domain.check_callback_hosts(cmd.callback_hosts)
    app_id, app_key, secret = uuid.uuid4(), "pk_" + secrets.token_hex(12), _new_secret()
    async with uow:
        await store.insert_app(
            uow, id=app_id, app_key=app_key, name=cmd.name,
            scopes=sorted(set(cmd.scopes)), allowed_regions=sorted(set(cmd.allowed_regions)),
            callback_hosts=callback_hosts, created_by=actor.subject,
        )
        await store.insert_secret(uow, app_id=app_id,
                                  secret_cipher=ctx.pii.encrypt(secret, context=SECRET))
        row = await store.get_app(uow, app_id)
        assert row is not None
    log.info("partner_app_created", app_key=app_key, by=str(actor.subject),
             callback_hosts=callback_hosts)
    return PartnerAppCreated(**_view(row).model_dump(), secret=secret)


async def _live_app_locked(uow: UnitOfWork, app_id: uuid.UUID) -> RowMapping:
    """The app's row, locked for this transaction; a disabled app is gone for changes."""
    row = await store.get_app(uow, app_id, lock=True)
    if row is None:
        raise NotFound("no such partner app", code="partner_not_found")
    if row["disabled_at"] is not None:
        raise Gone("this partner app is disabled", code="partner_disabled")
    return row


async def rotate_secret(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, app_id: uuid.UUID,
    overlap_seconds: int | None,
) -> PartnerSecretRotated:
    overlap = (ctx.settings.partner_secret_overlap_seconds if overlap_seconds is None
               else overlap_seconds)
    secret = _new_secret()
    old_expires = datetime.now(UTC) + timedelta(seconds=overlap)
    async with uow:
        row = await _live_app_locked(uow, app_id)
        # The old secret keeps working for the overlap, so the partner can deploy the new one.
        await store.expire_current_secrets(uow, app_id, at=old_expires)
        await store.insert_secret(uow, app_id=app_id,
                                  secret_cipher=ctx.pii.encrypt(secret, context=SECRET))
    log.info("partner_secret_rotated", app_key=row["app_key"], by=str(actor.subject),
             overlap_seconds=overlap)
    return PartnerSecretRotated(app_key=row["app_key"], secret=secret,
                                previous_secret_expires_at=old_expires)


async def set_callback_hosts(
    *, uow: UnitOfWork, actor: Principal, app_id: uuid.UUID, cmd: PartnerCallbackHostsSet
) -> PartnerAppRead:
    """Replace the hosts the app may subscribe webhooks on. The gateway sees the new list
    once its cached credentials expire; from then on a host taken off it gets no deliveries
    (the subscriptions themselves stay until the partner deletes them)."""
    hosts = domain.check_callback_hosts(cmd.callback_hosts)
    async with uow:
        before = list((await _live_app_locked(uow, app_id))["callback_hosts"])
        await store.set_callback_hosts(uow, app_id, hosts)
        row = await store.get_app(uow, app_id)
        assert row is not None
    log.info("partner_callback_hosts_set", app_key=row["app_key"], by=str(actor.subject),
             added=sorted(set(hosts) - set(before)), removed=sorted(set(before) - set(hosts)))
    return _view(row)


async def disable_app(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, app_id: uuid.UUID
) -> PartnerAppRead:
    """Disable the app: its signed calls are refused, and the tokens it holds to act for its
    users too, within seconds (the revocation feed)."""
    async with uow:
        row = await store.get_app(uow, app_id, lock=True)
        if row is None:
            raise NotFound("no such partner app", code="partner_not_found")
        if row["disabled_at"] is None:
            await store.disable_app(uow, app_id)
            await revoke(uow, ctx, kind=PARTNER_APP, key=row["app_key"],
                         reason="partner_disabled", revoked_by=actor.subject)
        row = await store.get_app(uow, app_id)
        assert row is not None
    log.info("partner_app_disabled", app_key=row["app_key"], by=str(actor.subject))
    return _view(row)


async def list_apps(*, uow: UnitOfWork, cursor: str | None, limit: int) -> PartnerAppPage:
    async with uow:
        rows = await store.list_apps(uow, after=cursor, limit=limit + 1)
    page, next_cursor = page_of(rows, limit, lambda row: str(row["app_key"]))
    return PartnerAppPage(items=[_view(r) for r in page], next_cursor=next_cursor)


async def credentials(
    *, uow: UnitOfWork, ctx: IdentityContext, app_key: str
) -> PartnerCredentialsInternal:
    """For the gateway's signature check: every secret still valid, newest first."""
    async with uow:
        row = await store.find_by_key(uow, app_key)
        if row is None:
            raise NotFound("no such partner app", code="partner_not_found")
        live = await store.live_secrets(uow, row["id"])
    return PartnerCredentialsInternal(
        app_id=row["id"], app_key=row["app_key"], disabled=row["disabled_at"] is not None,
        scopes=list(row["scopes"]), allowed_regions=list(row["allowed_regions"]),
        callback_hosts=list(row["callback_hosts"]),
        secrets=[PartnerSecretInternal(secret=ctx.pii.decrypt(s["secret_cipher"],
                                                              context=SECRET),
                                       expires_at=s["expires_at"]) for s in live],
    )
