"""Grid workers' accounts: a town or community manager (dispatcher, supervisor, admin) makes
one for their own grids; the account then follows what routing says of the worker's grid
work: its grids (enrolled, re-enrolled, grids changed) and its end (left: disabled)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.engine import RowMapping

from services.identity import domain
from services.identity.context import IdentityContext
from services.identity.schemas import GridWorkerAccountCreate, UserRead
from services.identity.service.accounts import PHONE, user_view
from services.identity.service.directory import publish_staff
from services.identity.service.revocations import revoke_for
from services.identity.service.staff import insert_staff_account
from services.identity.store import accounts as store
from shared.auth.principal import Principal, Role
from shared.auth.revocations import SUBJECT
from shared.contracts.routing import GridWorkerEnrolled, GridWorkerLeft
from shared.db import idempotency
from shared.db.uow import UnitOfWork
from shared.logs import get_logger

log = get_logger(__name__)
MANAGER_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN)


async def create_grid_worker(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, cmd: GridWorkerAccountCreate,
    idempotency_key: str | None,
) -> tuple[int, UserRead]:
    """A staff account with the grid_worker role, scoped to ``grid_codes`` (each one the
    manager covers: 403 ``out_of_scope``); a retry with the same key answers the same one."""
    actor.require_role(*MANAGER_ROLES)
    username = domain.check_username(cmd.username)
    domain.check_password_strength(cmd.password)
    grid_codes = domain.check_grid_codes(cmd.grid_codes)
    for code in grid_codes:
        actor.require_region(code)
    values: dict[str, object] = {
        "username": username, "display_name": cmd.display_name,
        "roles": [Role.GRID_WORKER.value], "regions": grid_codes, "departments": [],
        "agency": None,
    }
    if cmd.phone:
        phone = domain.parse_phone(cmd.phone)
        values |= {"phone_cipher": ctx.pii.encrypt(phone, context=PHONE),
                   "phone_index": ctx.pii.blind_index(phone, context=PHONE)}
    password_hash = ctx.passwords.hash(cmd.password)
    created: list[RowMapping] = []

    async def create() -> tuple[int, UserRead]:
        created.append(await insert_staff_account(uow, values=values,
                                                  password_hash=password_hash))
        return 201, user_view(ctx, created[0])

    async with uow:
        status, account = await idempotency.once(
            uow, scope=f"identity.grid_worker:{actor.subject}", key=idempotency_key,
            request=cmd, answer=UserRead, work=create)
    if created:
        log.info("grid_worker_account_created", user_id=str(account.id),
                 by=str(actor.subject), grids=grid_codes)
    return status, account


async def _claim(uow: UnitOfWork, user_id: uuid.UUID, at: datetime) -> RowMapping | None:
    """The staff account, locked, when this message about its grid work is newer than every
    one applied to it (a late delivery never undoes a newer change); None otherwise."""
    row = await store.get_user(uow, user_id, lock=True)
    if row is None or row["kind"] != "staff":
        log.warning("grid_work_for_unknown_account", user_id=str(user_id))
        return None
    if row["grid_work_at"] is not None and row["grid_work_at"] >= at:
        log.info("grid_work_message_stale", user_id=str(user_id))
        return None
    await store.update_user(uow, user_id, grid_work_at=at)
    return row


async def _end_sessions(uow: UnitOfWork, user_id: uuid.UUID, *, reason: str,
                        by: uuid.UUID, token_ttl_seconds: int) -> None:
    await store.revoke_user_tokens(uow, user_id)
    await revoke_for(uow, token_ttl_seconds=token_ttl_seconds, kind=SUBJECT, key=user_id,
                     reason=reason, user_id=user_id, revoked_by=by)


async def retire_leaver(uow: UnitOfWork, left: GridWorkerLeft, *,
                        token_ttl_seconds: int) -> None:
    """In a consumer's transaction: the leaver's account is disabled and its sessions end;
    an account that also holds other roles only loses the grid worker role and the grids
    left. A message about an account already retired changes nothing."""
    row = await _claim(uow, left.user_id, left.at)
    if row is None:
        return
    roles = set(row["roles"])
    others = sorted(roles - {Role.GRID_WORKER.value})
    if Role.GRID_WORKER.value not in roles or (row["disabled"] and not others):
        return
    if others:
        regions = [r for r in row["regions"] if r not in set(left.grid_codes)]
        await store.update_user(uow, left.user_id, roles=others, regions=regions)
        cause = "rescoped"
    else:
        await store.update_user(uow, left.user_id, disabled=True, retired_by_leaving=True)
        cause = "disabled"
    await _end_sessions(uow, left.user_id, reason=cause, by=left.handed_over_by,
                        token_ttl_seconds=token_ttl_seconds)
    await publish_staff(uow, left.user_id, cause=cause)
    log.info("grid_worker_account_retired", user_id=str(left.user_id), outcome=cause)


async def follow_enrolment(uow: UnitOfWork, enrolled: GridWorkerEnrolled, *,
                           token_ttl_seconds: int) -> None:
    """In a consumer's transaction: a grid worker's account follows their grids in routing
    (enrolled, re-enrolled, grids changed). One the worker's leaving disabled is enabled
    again; a grid taken away ends the sessions (their tokens carry it). Only accounts with
    the grid worker role are touched: a role is given in identity, never by a message."""
    row = await _claim(uow, enrolled.user_id, enrolled.at)
    if row is None:
        return
    if Role.GRID_WORKER.value not in row["roles"]:
        log.warning("grid_worker_enrolled_without_role", user_id=str(enrolled.user_id))
        return
    current = sorted(row["regions"] or [])
    regions = domain.grid_worker_regions(row["roles"], current, enrolled.grid_codes)
    enable = bool(row["disabled"] and row["retired_by_leaving"])
    changes: dict[str, object] = {}
    if regions != current:
        changes["regions"] = regions
    if enable:
        changes |= {"disabled": False, "retired_by_leaving": False}
    if not changes:
        return
    await store.update_user(uow, enrolled.user_id, **changes)
    if not set(current) <= set(regions):
        await _end_sessions(uow, enrolled.user_id, reason="rescoped", by=enrolled.enrolled_by,
                            token_ttl_seconds=token_ttl_seconds)
    await publish_staff(uow, enrolled.user_id, cause="enabled" if enable else "rescoped")
    log.info("grid_worker_account_follows_enrolment", user_id=str(enrolled.user_id),
             enabled=enable, grids=len(regions))
