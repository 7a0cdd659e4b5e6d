"""Staff accounts: the bootstrap admin, create, disable, re-scope; audited PII reveal.
Each change to who a staff member is for other services (units, roles, regions, active) is
published to the staff directory in its own transaction (service/directory.py)."""

from __future__ import annotations

import secrets
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import RowMapping

from services.identity import domain
from services.identity.context import IdentityContext
from services.identity.schemas import (
    PiiAccessCreate,
    PiiAccessRead,
    PiiAuditPage,
    PiiAuditRead,
    StaffCreate,
    StaffPage,
    StaffPasswordReset,
    StaffScopeUpdate,
    UnitStaffCreate,
    UnitStaffScopeUpdate,
    UserRead,
)
from services.identity.service.accounts import ID_NUMBER, NAME, PHONE, user_view
from services.identity.service.directory import publish_staff
from services.identity.service.revocations import revoke
from services.identity.store import accounts as store
from services.identity.store import audit as audit_store
from services.identity.store import registry as registry_store
from services.identity.store import staff as unit_store
from shared.auth.principal import Principal, Role
from shared.auth.revocations import SUBJECT
from shared.context import current_request_id
from shared.contracts.identity import UserRegistered
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.paging import decode_number_cursor, page_of
from shared.problems import Conflict, Forbidden, NotFound, RuleViolation

log = get_logger(__name__)
BOOTSTRAP_ADMIN = "admin"


async def ensure_bootstrap_admin(*, uow: UnitOfWork, ctx: IdentityContext) -> bool:
    """Create staff account ``admin`` on first start. Its password is
    EHOME_BOOTSTRAP_ADMIN_PASSWORD, or a random one printed once (never logged)."""
    password = ctx.settings.bootstrap_admin_password
    generated = password is None
    if password is None:
        password = secrets.token_urlsafe(18)
    user_id = uuid.uuid4()
    async with uow:
        if await store.find_by_username(uow, BOOTSTRAP_ADMIN) is not None:
            return False
        created = await store.insert_staff(
            uow, id=user_id, username=BOOTSTRAP_ADMIN, display_name="Administrator",
            password_hash=ctx.passwords.hash(password), roles=[Role.ADMIN.value], regions=[],
            departments=[],
        )
        if created:
            await uow.emit("identity.user_registered", UserRegistered(
                user_id=user_id, registered_at=datetime.now(UTC), channel="staff"))
            await publish_staff(uow, user_id, cause="created")
    if created:
        log.info("bootstrap_admin_created", password_source="generated" if generated else "env")
        if generated:
            # Printed, not logged: logs are shipped and kept, this line is for the operator.
            print(f"*** bootstrap admin created: username 'admin', password '{password}' "
                  "(shown once; change it) ***", file=sys.stderr, flush=True)
    return created


async def create_staff(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, cmd: StaffCreate
) -> UserRead:
    username = domain.check_username(cmd.username)
    domain.check_password_strength(cmd.password)
    roles, regions = domain.check_staff_scope(cmd.roles, cmd.regions)
    agency = domain.check_staff_agency(roles, cmd.agency)
    return await _insert_staff(uow, ctx, actor, values={
        "username": username, "display_name": cmd.display_name, "roles": roles,
        "regions": regions, "departments": sorted(set(cmd.departments)), "agency": agency,
    }, password=cmd.password)


async def _insert_staff(uow: UnitOfWork, ctx: IdentityContext, actor: Principal, *,
                        values: dict[str, Any], password: str) -> UserRead:
    """A new staff account of checked ``values``, announced as registered."""
    password_hash = ctx.passwords.hash(password)
    async with uow:
        row = await insert_staff_account(uow, values=values, password_hash=password_hash)
    log.info("staff_created", user_id=str(row["id"]), by=str(actor.subject),
             roles=values["roles"])
    return user_view(ctx, row)


async def insert_staff_account(uow: UnitOfWork, *, values: dict[str, Any],
                               password_hash: str) -> RowMapping:
    """In the caller's transaction: a new staff account of checked ``values``, announced as
    registered and in the staff directory; 409 ``username_taken``. The account's row."""
    user_id = uuid.uuid4()
    created = await store.insert_staff(uow, id=user_id, password_hash=password_hash, **values)
    if not created:
        raise Conflict("that username is taken", code="username_taken")
    await uow.emit("identity.user_registered", UserRegistered(
        user_id=user_id, registered_at=datetime.now(UTC), channel="staff"))
    return await publish_staff(uow, user_id, cause="created")


async def list_staff(
    *, uow: UnitOfWork, ctx: IdentityContext, cursor: str | None, limit: int
) -> StaffPage:
    async with uow:
        rows = await store.list_staff(uow, after=cursor, limit=limit + 1)
    page, next_cursor = page_of(rows, limit, lambda row: str(row["username"]))
    return StaffPage(items=[user_view(ctx, r) for r in page], next_cursor=next_cursor)


async def _staff_row_locked(uow: UnitOfWork, staff_id: uuid.UUID,
                            unit_id: uuid.UUID | None = None) -> None:
    """Lock the staff account; ``unit_id``: it must be that unit's staff (a department
    admin's reach), else 403 ``staff_outside_unit``."""
    row = await store.get_user(uow, staff_id, lock=True)
    if row is None or row["kind"] != "staff":
        raise NotFound("no such staff account", code="staff_not_found")
    if unit_id is not None and not domain.is_unit_staff(row["roles"], row["departments"],
                                                        unit_id):
        raise Forbidden("this account is not your unit's staff", code="staff_outside_unit")


async def rescope_staff(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, staff_id: uuid.UUID,
    cmd: StaffScopeUpdate,
) -> UserRead:
    roles, regions = domain.check_staff_scope(cmd.roles, cmd.regions)
    agency = domain.check_staff_agency(roles, cmd.agency)
    async with uow:
        await _staff_row_locked(uow, staff_id)
        if staff_id == actor.subject and Role.ADMIN.value not in roles:
            raise RuleViolation("admins cannot remove their own admin role",
                                code="cannot_demote_self")
        await store.update_user(uow, staff_id, roles=roles, regions=regions,
                                departments=sorted(set(cmd.departments)), agency=agency)
        # Old tokens carry the old scope: end those sessions, and have every verifier refuse
        # the access tokens already out, so the new scope applies at once.
        await store.revoke_user_tokens(uow, staff_id)
        await revoke(uow, ctx, kind=SUBJECT, key=staff_id, reason="rescoped",
                     user_id=staff_id, revoked_by=actor.subject)
        row = await publish_staff(uow, staff_id, cause="rescoped")
    log.info("staff_rescoped", user_id=str(staff_id), by=str(actor.subject), roles=roles)
    return user_view(ctx, row)


async def set_staff_disabled(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, staff_id: uuid.UUID,
    disabled: bool, unit_id: uuid.UUID | None = None,
) -> UserRead:
    """``unit_id``: through the unit's staff routes (the account must be that unit's)."""
    if unit_id is not None:
        require_unit_manager(actor, unit_id)
    async with uow:
        await _staff_row_locked(uow, staff_id, unit_id)
        if staff_id == actor.subject and disabled:
            raise RuleViolation("admins cannot disable themselves", code="cannot_disable_self")
        # Disabled or enabled by hand: a grid worker's re-enrolment no longer decides it.
        await store.update_user(uow, staff_id, disabled=disabled, retired_by_leaving=False)
        if disabled:
            await store.revoke_user_tokens(uow, staff_id)
            await revoke(uow, ctx, kind=SUBJECT, key=staff_id, reason="disabled",
                         user_id=staff_id, revoked_by=actor.subject)
        row = await publish_staff(uow, staff_id, cause="disabled" if disabled else "enabled")
    log.info("staff_disabled" if disabled else "staff_enabled", user_id=str(staff_id),
             by=str(actor.subject))
    return user_view(ctx, row)


# -- a unit's staff, managed by its department admin (admins too) ----------------------------


def require_unit_manager(actor: Principal, unit_id: uuid.UUID) -> None:
    """An admin, or a department admin of this unit (their token's departments)."""
    actor.require_role(Role.ADMIN, Role.DEPT_ADMIN)
    actor.require_department(unit_id)


def _unit_scope(actor: Principal, roles: list[str], regions: list[str]
                ) -> tuple[list[str], list[str]]:
    """Unit roles only, and regions inside the managing admin's own scope."""
    roles = domain.check_unit_staff_roles(roles)
    roles, regions = domain.check_staff_scope(roles, regions)
    if any(not actor.covers_region(code) for code in regions):
        raise Forbidden("region scopes stay inside your unit's region",
                        code="region_outside_unit")
    return roles, regions


async def create_unit_staff(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, unit_id: uuid.UUID,
    cmd: UnitStaffCreate,
) -> UserRead:
    require_unit_manager(actor, unit_id)
    username = domain.check_username(cmd.username)
    domain.check_password_strength(cmd.password)
    roles, regions = _unit_scope(actor, cmd.roles, cmd.regions)
    return await _insert_staff(uow, ctx, actor, values={
        "username": username, "display_name": cmd.display_name, "roles": roles,
        "regions": regions, "departments": [unit_id], "agency": None,
    }, password=cmd.password)


async def list_unit_staff(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, unit_id: uuid.UUID,
    cursor: str | None, limit: int,
) -> StaffPage:
    require_unit_manager(actor, unit_id)
    async with uow:
        rows = await unit_store.list_unit_staff(uow, unit_id, after=cursor, limit=limit + 1)
    page, next_cursor = page_of(rows, limit, lambda row: str(row["username"]))
    return StaffPage(items=[user_view(ctx, r) for r in page], next_cursor=next_cursor)


async def rescope_unit_staff(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, unit_id: uuid.UUID,
    staff_id: uuid.UUID, cmd: UnitStaffScopeUpdate,
) -> UserRead:
    """New roles and regions within the unit; the account's sessions end."""
    require_unit_manager(actor, unit_id)
    roles, regions = _unit_scope(actor, cmd.roles, cmd.regions)
    if (staff_id == actor.subject and not actor.has_role(Role.ADMIN)
            and Role.DEPT_ADMIN.value not in roles):
        raise RuleViolation("a unit's admin cannot remove their own admin role",
                            code="cannot_demote_self")
    async with uow:
        await _staff_row_locked(uow, staff_id, unit_id)
        await store.update_user(uow, staff_id, roles=roles, regions=regions)
        await _end_sessions(uow, ctx, actor, staff_id, reason="rescoped")
        row = await publish_staff(uow, staff_id, cause="rescoped")
    log.info("staff_rescoped", user_id=str(staff_id), by=str(actor.subject), roles=roles)
    return user_view(ctx, row)


async def reset_password(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, staff_id: uuid.UUID,
    cmd: StaffPasswordReset, unit_id: uuid.UUID | None = None,
) -> UserRead:
    """Set a new password (told to the person out of band); every session of the account
    ends. ``unit_id``: through the unit's staff routes."""
    if unit_id is not None:
        require_unit_manager(actor, unit_id)
    domain.check_password_strength(cmd.password)
    password_hash = ctx.passwords.hash(cmd.password)
    async with uow:
        await _staff_row_locked(uow, staff_id, unit_id)
        await store.update_user(uow, staff_id, password_hash=password_hash)
        await _end_sessions(uow, ctx, actor, staff_id, reason="password_reset")
        row = await store.get_user(uow, staff_id)
        assert row is not None
    log.info("staff_password_reset", user_id=str(staff_id), by=str(actor.subject))
    return user_view(ctx, row)


async def _end_sessions(uow: UnitOfWork, ctx: IdentityContext, actor: Principal,
                        staff_id: uuid.UUID, *, reason: str) -> None:
    """Refresh tokens revoked, and the access tokens already out refused everywhere."""
    await store.revoke_user_tokens(uow, staff_id)
    await revoke(uow, ctx, kind=SUBJECT, key=staff_id, reason=reason, user_id=staff_id,
                 revoked_by=actor.subject)


_USER_FIELDS = {"id_number": ("id_number_cipher", ID_NUMBER), "phone": ("phone_cipher", PHONE),
                "name": ("name_cipher", NAME)}
_REGISTRY_FIELDS = {"id_number": ("id_number_cipher", ID_NUMBER), "name": ("name_cipher", NAME),
                    "address": ("address_cipher", "address")}


async def reveal_pii(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, cmd: PiiAccessCreate
) -> PiiAccessRead:
    """Plaintext of one field, for an admin who states why. The audit row commits in the
    same transaction as the read: no audit, no answer."""
    fields = _USER_FIELDS if cmd.subject_kind == "user" else _REGISTRY_FIELDS
    if cmd.field not in fields:
        raise RuleViolation(f"{cmd.subject_kind} records have no {cmd.field}",
                            code="pii_field_unknown")
    column, context = fields[cmd.field]
    async with uow:
        if cmd.subject_kind == "user":
            row = await store.get_user(uow, cmd.subject_id)
        else:
            row = await registry_store.get_person(uow, cmd.subject_id)
        if row is None:
            raise NotFound("no such record", code="subject_not_found")
        await audit_store.record_access(
            uow, actor_id=actor.subject, subject_kind=cmd.subject_kind,
            subject_id=cmd.subject_id, field=cmd.field, reason=cmd.reason,
            request_id=current_request_id(),
        )
        value = ctx.pii.decrypt_optional(row[column], context=context)
    log.info("pii_revealed", actor=str(actor.subject), subject_kind=cmd.subject_kind,
             subject_id=str(cmd.subject_id), field=cmd.field)
    return PiiAccessRead(subject_kind=cmd.subject_kind, subject_id=cmd.subject_id,
                         field=cmd.field, value=value)


async def audit_log(*, uow: UnitOfWork, cursor: str | None, limit: int) -> PiiAuditPage:
    """Newest first; the cursor is the last id seen."""
    before = decode_number_cursor(cursor)
    async with uow:
        rows = await audit_store.list_access(uow, before=before, limit=limit + 1)
    page, next_cursor = page_of(rows, limit, lambda row: str(row["id"]))
    return PiiAuditPage(items=[PiiAuditRead(**dict(r)) for r in page], next_cursor=next_cursor)
