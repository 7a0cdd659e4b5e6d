"""Population registry (人口录入) and region statistics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, UploadFile

from services.identity.api.deps import Context
from services.identity.schemas import (
    ImportReport,
    RegionStatsTree,
    RegistryPage,
    RegistryPersonCreate,
    RegistryPersonRead,
)
from services.identity.service import registry, stats
from services.identity.spreadsheets import detect_format, read_rows
from shared.auth import CurrentPrincipal
from shared.errors import PayloadTooLarge
from shared.web.deps import Runtime, Uow

router = APIRouter(prefix="/api/v1/identity", tags=["identity registry"])


@router.post("/registry/people", response_model=RegistryPersonRead)
async def enter_person(
    body: RegistryPersonCreate, principal: CurrentPrincipal, uow: Uow, ctx: Context
) -> RegistryPersonRead:
    """Enter (or update, same ID number) one resident within the caller's grid."""
    return await registry.enter_person(uow=uow, ctx=ctx, actor=principal, cmd=body)


@router.get("/registry/people", response_model=RegistryPage)
async def list_people(
    principal: CurrentPrincipal,
    uow: Uow,
    ctx: Context,
    region: Annotated[str | None, Query(pattern=r"^[0-9]{6,15}$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> RegistryPage:
    return await registry.list_people(uow=uow, ctx=ctx, actor=principal, region=region,
                                      cursor=cursor, limit=limit)


@router.post("/registry/imports", response_model=ImportReport)
async def import_registry(
    file: UploadFile, principal: CurrentPrincipal, runtime: Runtime, ctx: Context
) -> ImportReport:
    """Bulk entry from CSV or XLSX. Each bad row is reported with its row number and the
    good rows load; an unreadable or oversize file is refused whole."""
    principal.require_role(*registry.ENTRY_ROLES)
    limit = ctx.settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"uploads are at most {limit} bytes", code="upload_too_large")
    fmt = detect_format(file.filename, file.content_type, data[:4])
    rows = read_rows(data, fmt, max_rows=ctx.settings.max_import_rows)
    return await registry.import_rows(make_uow=runtime.uow, ctx=ctx, actor=principal, rows=rows)


@router.get("/stats/regions/{code}", response_model=RegionStatsTree)
async def region_stats(code: str, principal: CurrentPrincipal, uow: Uow) -> RegionStatsTree:
    """Census population, residents entered, verified accounts and both rates for a region
    and each of its children (staff, within their scope)."""
    return await stats.region_stats(uow=uow, actor=principal, code=code)
