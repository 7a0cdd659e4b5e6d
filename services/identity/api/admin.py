"""Administration: staff accounts, audited PII reveal, partner apps, census figures."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

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
    StaffScopeUpdate,
    UserRead,
)
from services.identity.service import partners, staff, stats
from shared.web.deps import Uow

router = APIRouter(prefix="/api/v1/identity", tags=["identity admin"])


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
