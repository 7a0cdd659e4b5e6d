"""Administration: staff accounts, audited PII reveal, partner apps, census figures."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from services.identity.api.deps import Admin, Context, Page
from services.identity.schemas import (
    PartnerAppCreate,
    PartnerAppCreated,
    PartnerAppPage,
    PartnerAppRead,
    PartnerCallbackHostsSet,
    PartnerSecretRotate,
    PartnerSecretRotated,
    PiiAccessCreate,
    PiiAccessRead,
    PiiAuditPage,
    RegionPopulationSet,
    StaffCreate,
    StaffPage,
    StaffPasswordReset,
    StaffScopeUpdate,
    UnitStaffCreate,
    UnitStaffScopeUpdate,
    UserRead,
)
from services.identity.service import partners, staff, stats
from shared.auth import require_roles
from shared.auth.principal import Principal, Role
from shared.web.deps import Uow

router = APIRouter(prefix="/api/v1/identity", tags=["identity admin"])


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


@router.post("/staff", response_model=UserRead, status_code=201)
async def create_staff(body: StaffCreate, admin: Admin, uow: Uow, ctx: Context) -> UserRead:
    return await staff.create_staff(uow=uow, ctx=ctx, actor=admin, cmd=body)


@router.get("/staff", response_model=StaffPage)
async def list_staff(admin: Admin, uow: Uow, ctx: Context, page: Page) -> StaffPage:
    return await staff.list_staff(uow=uow, ctx=ctx, cursor=page.cursor, limit=page.limit)


@router.put("/staff/{staff_id}/scope", response_model=UserRead)
async def rescope_staff(
    staff_id: uuid.UUID, body: StaffScopeUpdate, admin: Admin, uow: Uow, ctx: Context
) -> UserRead:
    """Replace roles, region scopes and departments; the account's sessions end, and its
    access tokens are refused everywhere within seconds (log in again for the new scope)."""
    return await staff.rescope_staff(uow=uow, ctx=ctx, actor=admin, staff_id=staff_id, cmd=body)


@router.post("/staff/{staff_id}/disable", response_model=UserRead)
async def disable_staff(staff_id: uuid.UUID, admin: Admin, uow: Uow, ctx: Context) -> UserRead:
    return await staff.set_staff_disabled(
        uow=uow, ctx=ctx, actor=admin, staff_id=staff_id, disabled=True
    )


@router.post("/staff/{staff_id}/enable", response_model=UserRead)
async def enable_staff(staff_id: uuid.UUID, admin: Admin, uow: Uow, ctx: Context) -> UserRead:
    return await staff.set_staff_disabled(
        uow=uow, ctx=ctx, actor=admin, staff_id=staff_id, disabled=False
    )


@router.post("/staff/{staff_id}/password", response_model=UserRead, responses={
    404: _problem("no such staff account (`staff_not_found`)"),
    422: _problem("`password_too_weak`")})
async def reset_staff_password(staff_id: uuid.UUID, body: StaffPasswordReset, admin: Admin,
                               uow: Uow, ctx: Context) -> UserRead:
    """Set a staff account's password (admins); its sessions end."""
    return await staff.reset_password(uow=uow, ctx=ctx, actor=admin, staff_id=staff_id, cmd=body)


# -- a unit's staff: its department admin (dept_admin of that unit) or an admin ---------------

UnitManager = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.DEPT_ADMIN))]
UNIT_STAFF = "/departments/{unit_id}/staff"
_UNIT_ERRORS: dict[int | str, dict[str, Any]] = {
    403: _problem("`role_required`: not an admin or department admin; `out_of_scope`: not "
                  "your unit; `staff_outside_unit`: the account is not this unit's staff "
                  "(or has wider roles); `role_not_delegable`: a role other than dept_staff "
                  "or dept_admin; `region_outside_unit`: a region outside your own scope"),
    404: _problem("no such staff account (`staff_not_found`)"),
    422: _problem("`username_invalid`, `password_too_weak`, `region_invalid`, "
                  "`cannot_disable_self`, `cannot_demote_self`, `validation_error`"),
}


@router.post(UNIT_STAFF, response_model=UserRead, status_code=201,
             responses={**_UNIT_ERRORS, 409: _problem("`username_taken`")})
async def create_unit_staff(unit_id: uuid.UUID, body: UnitStaffCreate, actor: UnitManager,
                            uow: Uow, ctx: Context) -> UserRead:
    """A staff account of this unit (roles dept_staff and/or dept_admin, regions inside the
    caller's). A department admin manages only their own unit (their token's departments);
    supervisors and dispatchers do not manage staff; admins manage every unit."""
    return await staff.create_unit_staff(uow=uow, ctx=ctx, actor=actor, unit_id=unit_id,
                                         cmd=body)


@router.get(UNIT_STAFF, response_model=StaffPage, responses={403: _UNIT_ERRORS[403]})
async def list_unit_staff(unit_id: uuid.UUID, actor: UnitManager, uow: Uow, ctx: Context,
                          page: Page) -> StaffPage:
    """The unit's staff accounts by username, a page at a time."""
    return await staff.list_unit_staff(uow=uow, ctx=ctx, actor=actor, unit_id=unit_id,
                                       cursor=page.cursor, limit=page.limit)


@router.put(UNIT_STAFF + "/{staff_id}/scope", response_model=UserRead, responses=_UNIT_ERRORS)
async def rescope_unit_staff(unit_id: uuid.UUID, staff_id: uuid.UUID,
                             body: UnitStaffScopeUpdate, actor: UnitManager, uow: Uow,
                             ctx: Context) -> UserRead:
    """Replace the roles and regions of one of the unit's staff; their sessions end."""
    return await staff.rescope_unit_staff(uow=uow, ctx=ctx, actor=actor, unit_id=unit_id,
                                          staff_id=staff_id, cmd=body)


@router.post(UNIT_STAFF + "/{staff_id}/disable", response_model=UserRead,
             responses=_UNIT_ERRORS)
async def disable_unit_staff(unit_id: uuid.UUID, staff_id: uuid.UUID, actor: UnitManager,
                             uow: Uow, ctx: Context) -> UserRead:
    """Disable one of the unit's staff: their tokens are refused within seconds."""
    return await staff.set_staff_disabled(uow=uow, ctx=ctx, actor=actor, staff_id=staff_id,
                                          disabled=True, unit_id=unit_id)


@router.post(UNIT_STAFF + "/{staff_id}/enable", response_model=UserRead,
             responses=_UNIT_ERRORS)
async def enable_unit_staff(unit_id: uuid.UUID, staff_id: uuid.UUID, actor: UnitManager,
                            uow: Uow, ctx: Context) -> UserRead:
    return await staff.set_staff_disabled(uow=uow, ctx=ctx, actor=actor, staff_id=staff_id,
                                          disabled=False, unit_id=unit_id)


@router.post(UNIT_STAFF + "/{staff_id}/password", response_model=UserRead,
             responses=_UNIT_ERRORS)
async def reset_unit_staff_password(unit_id: uuid.UUID, staff_id: uuid.UUID,
                                    body: StaffPasswordReset, actor: UnitManager, uow: Uow,
                                    ctx: Context) -> UserRead:
    """Set the password of one of the unit's staff; their sessions end."""
    return await staff.reset_password(uow=uow, ctx=ctx, actor=actor, staff_id=staff_id,
                                      cmd=body, unit_id=unit_id)


@router.post("/admin/pii-access", response_model=PiiAccessRead)
async def reveal_pii(body: PiiAccessCreate, admin: Admin, uow: Uow, ctx: Context
                     ) -> PiiAccessRead:
    """Plaintext of one PII field. Requires a reason; every call is audited."""
    return await staff.reveal_pii(uow=uow, ctx=ctx, actor=admin, cmd=body)


@router.get("/admin/pii-access", response_model=PiiAuditPage)
async def pii_audit_log(admin: Admin, uow: Uow, page: Page) -> PiiAuditPage:
    return await staff.audit_log(uow=uow, cursor=page.cursor, limit=page.limit)


@router.post("/partners", response_model=PartnerAppCreated, status_code=201)
async def create_partner(
    body: PartnerAppCreate, admin: Admin, uow: Uow, ctx: Context
) -> PartnerAppCreated:
    """Register a partner app. The answer carries its secret: it is never shown again."""
    return await partners.create_app(uow=uow, ctx=ctx, actor=admin, cmd=body)


@router.get("/partners", response_model=PartnerAppPage)
async def list_partners(admin: Admin, uow: Uow, page: Page) -> PartnerAppPage:
    return await partners.list_apps(uow=uow, cursor=page.cursor, limit=page.limit)


@router.post("/partners/{app_id}/rotate-secret", response_model=PartnerSecretRotated)
async def rotate_partner_secret(
    app_id: uuid.UUID, body: PartnerSecretRotate, admin: Admin, uow: Uow, ctx: Context
) -> PartnerSecretRotated:
    """New secret (shown once); the previous one keeps working for the overlap window."""
    return await partners.rotate_secret(uow=uow, ctx=ctx, actor=admin, app_id=app_id,
                                        overlap_seconds=body.overlap_seconds)


@router.put("/partners/{app_id}/callback-hosts", response_model=PartnerAppRead)
async def set_partner_callback_hosts(
    app_id: uuid.UUID, body: PartnerCallbackHostsSet, admin: Admin, uow: Uow
) -> PartnerAppRead:
    """Replace the DNS names the app may subscribe webhooks on (``[]`` clears them)."""
    return await partners.set_callback_hosts(uow=uow, actor=admin, app_id=app_id, cmd=body)


@router.post("/partners/{app_id}/disable", response_model=PartnerAppRead)
async def disable_partner(app_id: uuid.UUID, admin: Admin, uow: Uow, ctx: Context
                          ) -> PartnerAppRead:
    """Its signed calls, and the tokens it holds for its users, are refused within seconds."""
    return await partners.disable_app(uow=uow, ctx=ctx, actor=admin, app_id=app_id)


@router.put("/stats/regions/{code}/population", status_code=204)
async def set_census_population(
    code: str, body: RegionPopulationSet, admin: Admin, uow: Uow
) -> Response:
    """Configure a region's census population (the denominator of both rates)."""
    await stats.set_census_population(uow=uow, actor=admin, code=code,
                                      census=body.census_population)
    return Response(status_code=204)
