"""Staff accounts: the bootstrap admin, create, disable, re-scope; audited PII reveal."""

from __future__ import annotations

import secrets
import sys
import uuid
from datetime import UTC, datetime

from services.identity import domain
from services.identity.context import IdentityContext
from services.identity.schemas import (
    PiiAccessCreate,
    PiiAccessRead,
    PiiAuditPage,
    PiiAuditRead,
    StaffCreate,
    StaffPage,
    StaffScopeUpdate,
    UserRead,
)
from services.identity.service.accounts import ID_NUMBER, NAME, PHONE, user_view
from services.identity.service.revocations import revoke
from services.identity.store import accounts as store
from services.identity.store import audit as audit_store
from services.identity.store import registry as registry_store
from shared.auth.principal import Principal, Role
from shared.auth.revocations import SUBJECT
from shared.context import current_request_id
from shared.contracts.identity import UserRegistered
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.paging import decode_number_cursor, page_of
from shared.problems import Conflict, NotFound, RuleViolation

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
    user_id = uuid.uuid4()
    password_hash = ctx.passwords.hash(cmd.password)
    async with uow:
        created = await store.insert_staff(
            uow, id=user_id, username=username, display_name=cmd.display_name,
            password_hash=password_hash, roles=roles, regions=regions,
            departments=sorted(set(cmd.departments)), agency=agency,
        )
        if not created:
            raise Conflict("that username is taken", code="username_taken")
        await uow.emit("identity.user_registered", UserRegistered(
            user_id=user_id, registered_at=datetime.now(UTC), channel="staff"))
        row = await store.get_user(uow, user_id)
        assert row is not None
    log.info("staff_created", user_id=str(user_id), by=str(actor.subject), roles=roles)
    return user_view(ctx, row)


async def list_staff(
    *, uow: UnitOfWork, ctx: IdentityContext, cursor: str | None, limit: int
) -> StaffPage:
    async with uow:
        rows = await store.list_staff(uow, after=cursor, limit=limit + 1)
    page, next_cursor = page_of(rows, limit, lambda row: str(row["username"]))
    return StaffPage(items=[user_view(ctx, r) for r in page], next_cursor=next_cursor)


async def _staff_row_locked(uow: UnitOfWork, staff_id: uuid.UUID) -> None:
    row = await store.get_user(uow, staff_id, lock=True)
    if row is None or row["kind"] != "staff":
        raise NotFound("no such staff account", code="staff_not_found")


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
        row = await store.get_user(uow, staff_id)
        assert row is not None
    log.info("staff_rescoped", user_id=str(staff_id), by=str(actor.subject), roles=roles)
    return user_view(ctx, row)


async def set_staff_disabled(
    *, uow: UnitOfWork, ctx: IdentityContext, actor: Principal, staff_id: uuid.UUID,
    disabled: bool,
) -> UserRead:
    async with uow:
        await _staff_row_locked(uow, staff_id)
        if staff_id == actor.subject and disabled:
            raise RuleViolation("admins cannot disable themselves", code="cannot_disable_self")
        await store.update_user(uow, staff_id, disabled=disabled)
        if disabled:
            await store.revoke_user_tokens(uow, staff_id)
            await revoke(uow, ctx, kind=SUBJECT, key=staff_id, reason="disabled",
                         user_id=staff_id, revoked_by=actor.subject)
        row = await store.get_user(uow, staff_id)
        assert row is not None
    log.info("staff_disabled" if disabled else "staff_enabled", user_id=str(staff_id),
             by=str(actor.subject))
    return user_view(ctx, row)


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
