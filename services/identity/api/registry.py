"""Population registry (人口录入) and region statistics."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, UploadFile
from fastapi.responses import PlainTextResponse
from pydantic import AwareDatetime

from services.identity.api.deps import Context, Page
from services.identity.schemas import (
    ImportJobRead,
    RegionStatsTree,
    RegistryPage,
    RegistryPersonCreate,
    RegistryPersonRead,
)
from services.identity.service import imports, registry, stats
from services.identity.spreadsheets import detect_format
from shared.auth import CurrentPrincipal
from shared.problems import PayloadTooLarge
from shared.web.deps import Uow

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
    page: Page,
    region: Annotated[str | None, Query(pattern=r"^[0-9]{6,15}$")] = None,
    not_visited_since: Annotated[AwareDatetime | None, Query(
        description="only people no household visit has seen since this moment")] = None,
) -> RegistryPage:
    """Registry people of the caller's scope (narrowed to ``region``), masked: grid workers
    (their grids: the visit form), supervisors, dispatchers and admins."""
    return await registry.list_people(uow=uow, ctx=ctx, actor=principal, region=region,
                                      cursor=page.cursor, limit=page.limit,
                                      not_visited_since=not_visited_since)


@router.post("/registry/imports", response_model=ImportJobRead, status_code=202)
async def import_registry(
    file: UploadFile, principal: CurrentPrincipal, uow: Uow, ctx: Context,
    response: Response,
) -> ImportJobRead:
    """Bulk entry from CSV or XLSX, as a job: answers at once with the job to poll (its
    Location). A file refused by what it declares (type, size, unpacked size, row count,
    columns) is refused here whole; one found bad while read fails the job, again with
    nothing written. Each bad row is reported with its row number and the good rows load."""
    principal.require_role(*registry.ENTRY_ROLES)
    limit = ctx.settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"uploads are at most {limit} bytes", code="upload_too_large")
    fmt = detect_format(file.filename, file.content_type, data[:4])
    import_id = await imports.submit(ctx, actor=principal, data=data, fmt=fmt)
    response.headers["Location"] = f"{imports.IMPORTS_PATH}/{import_id}"
    return await imports.read_import(uow=uow, actor=principal, import_id=import_id)


@router.get("/registry/imports/{import_id}", response_model=ImportJobRead)
async def read_import(import_id: uuid.UUID, principal: CurrentPrincipal, uow: Uow
                      ) -> ImportJobRead:
    """An import's status and progress (rows done of total), the first refused rows and
    the failure, if it failed. The uploader's, or an admin's or supervisor's in scope."""
    return await imports.read_import(uow=uow, actor=principal, import_id=import_id)


@router.get("/registry/imports/{import_id}/errors.csv", response_class=PlainTextResponse,
            responses={200: {"content": {"text/csv": {}}}})
async def import_errors(import_id: uuid.UUID, principal: CurrentPrincipal, uow: Uow
                        ) -> PlainTextResponse:
    """Every refused row of an import: row number, code, detail, ID number masked."""
    body = await imports.errors_csv(uow=uow, actor=principal, import_id=import_id)
    return PlainTextResponse(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'})


@router.get("/stats/regions/{code}", response_model=RegionStatsTree)
async def region_stats(code: str, principal: CurrentPrincipal, uow: Uow) -> RegionStatsTree:
    """Census population, residents entered, verified accounts and both rates for a region
    and each of its children (staff, within their scope)."""
    return await stats.region_stats(uow=uow, actor=principal, code=code)
