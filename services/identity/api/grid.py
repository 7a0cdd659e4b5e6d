"""Grid workers: their accounts (made by town and community managers) and their household
visits (入户走访)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from services.identity.api.deps import Context, Page
from services.identity.schemas import (
    GridWorkerAccountCreate,
    UserRead,
    VisitCreate,
    VisitPage,
    VisitRead,
)
from services.identity.service import grid_workers, visits
from shared.auth import CurrentPrincipal
from shared.web.deps import IdempotencyKey, Uow

router = APIRouter(prefix="/api/v1/identity", tags=["identity grid workers"])


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


@router.post("/staff/grid-workers", response_model=UserRead, status_code=201, responses={
    403: _problem("`role_required`: not a dispatcher, supervisor or admin; `out_of_scope`: "
                  "a grid outside your regions"),
    409: _problem("`username_taken`"),
    422: _problem("`username_invalid`, `password_too_weak`, `grid_invalid`, "
                  "`phone_invalid`, `idempotency_key_reused`, `validation_error`")})
async def create_grid_worker(body: GridWorkerAccountCreate, principal: CurrentPrincipal,
                             uow: Uow, ctx: Context, key: IdempotencyKey = None) -> Any:
    """A grid worker's staff account (role grid_worker, region scopes = their grids), made by
    a town or community manager for grids within their own scope. Enrol the worker in
    routing (``POST /api/v1/routing/grid-workers``) with the account's id next. A retry with
    the same Idempotency-Key answers the same account."""
    status, account = await grid_workers.create_grid_worker(
        uow=uow, ctx=ctx, actor=principal, cmd=body, idempotency_key=key)
    return JSONResponse(account.model_dump(mode="json"), status_code=status)


@router.post("/visits", response_model=VisitRead, status_code=201, responses={
    200: {"model": VisitRead, "description": "a visit of that id was already recorded"},
    403: _problem("`role_required`: not a grid worker; `out_of_scope`: not your grid"),
    409: _problem("`visit_id_taken`: another worker's visit has this id"),
    422: _problem("`person_not_in_grid`, `time_in_future`, `too_old`, "
                  "`idempotency_key_reused`, `validation_error`")})
async def record_visit(body: VisitCreate, principal: CurrentPrincipal, uow: Uow,
                       ctx: Context, key: IdempotencyKey = None) -> Any:
    """A household visit by a grid worker in their grid: the registry people seen (all of
    that grid), a note (phone and ID numbers masked), photos (attachment ids from the events
    service), where and when (the device's moment: the app may send it later). The same
    ``id`` or Idempotency-Key again answers the visit already recorded, never a second."""
    status, visit = await visits.record_visit(
        uow=uow, ctx=ctx, actor=principal, cmd=body, idempotency_key=key,
        now=datetime.now(UTC))
    return JSONResponse(visit.model_dump(mode="json"), status_code=status)


@router.get("/visits", response_model=VisitPage, responses={
    403: _problem("`role_required`; `out_of_scope`: a grid outside your regions, or "
                  "(a grid worker) another worker's visits"),
    422: _problem("`date_range_invalid`, `validation_error`")})
async def list_visits(
    principal: CurrentPrincipal, uow: Uow, ctx: Context, page: Page,
    grid_code: Annotated[str | None, Query(pattern=r"^[0-9]{15}$")] = None,
    worker_id: uuid.UUID | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> VisitPage:
    """Household visits, newest first: a grid worker's own; a manager's (dispatcher,
    supervisor, admin) within their regions. ``since`` / ``until`` bound the visit's time."""
    return await visits.list_visits(
        uow=uow, ctx=ctx, actor=principal, grid_code=grid_code, worker_id=worker_id,
        since=since, until=until, cursor=page.cursor, limit=page.limit)
