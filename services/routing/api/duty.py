"""Grid workers' duty routes (网格员值守), under /api/v1/routing: grid areas, rosters, today's
duty, check-ins, patrols and their tracks, coverage, daily logs."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from services.routing.schemas_duty import (
    AreaIn,
    AreaRead,
    BatchAccepted,
    CheckInCreate,
    CheckInList,
    CheckInRead,
    Coverage,
    LogCreate,
    LogList,
    LogRead,
    Moment,
    PatrolCreate,
    PatrolFinish,
    PatrolList,
    PatrolRead,
    PointBatch,
    RosterIn,
    RosterList,
    RosterRead,
    TodayDuty,
    Track,
)
from services.routing.service import duty
from services.routing.settings import Settings
from shared.auth import CurrentPrincipal
from shared.web.deps import IdempotencyKey, Runtime, Uow

from .deps import Context, Limit, problem_doc

router = APIRouter()

GridPath = Annotated[str, Path(pattern=r"^\d{15}$", description="a 15-digit grid code")]
GridFilter = Annotated[str | None, Query(pattern=r"^\d{15}$")]
Since = Annotated[Moment | None, Query()]
Until = Annotated[Moment | None, Query()]

_SCOPE = problem_doc("`role_required`: not a manager (or grid worker) here; `out_of_scope`: "
                     "a grid outside the caller's regions, or another worker's records")
_DEVICE_TIME = problem_doc("`time_in_future`: more than 5 minutes ahead; `too_old`: more than "
                           "7 days ago; `validation_error`")
_PATROL = problem_doc("`patrol_not_found`")

async def _settings(runtime: Runtime) -> Settings:
    return cast(Settings, runtime.settings)

DutySettings = Annotated[Settings, Depends(_settings)]

def _created(status: int, body: Any) -> JSONResponse:
    return JSONResponse(body.model_dump(mode="json"), status_code=status)

# -- areas and rosters -------------------------------------------------------------------------

@router.put("/grids/{grid_code}/area", response_model=AreaRead, responses={
    403: _SCOPE, 422: problem_doc("`area_invalid`: the vertices enclose no area")})
async def put_area(grid_code: GridPath, body: AreaIn, uow: Uow, ctx: Context,
                   principal: CurrentPrincipal) -> AreaRead:
    """A manager over the grid draws its boundary (``[lat, lng]`` vertices): check-ins far
    outside it are flagged, and coverage is measured against it."""
    return await duty.put_area(uow, principal=principal, grid_code=grid_code, cmd=body,
                               now=ctx.clock())

@router.get("/grids/{grid_code}/area", response_model=AreaRead, responses={
    403: _SCOPE, 404: problem_doc("`no_area`: no boundary drawn yet")})
async def get_area(grid_code: GridPath, uow: Uow, principal: CurrentPrincipal) -> AreaRead:
    """The grid's boundary and its centre: managers over it and its workers."""
    return await duty.get_area(uow, principal=principal, grid_code=grid_code)

@router.put("/grids/{grid_code}/roster/{day}", response_model=RosterRead, responses={
    403: _SCOPE, 422: problem_doc("`shift_hours_invalid`: ends before it starts; "
                                  "`worker_not_in_grid`: not an active worker of the grid")})
async def put_roster(grid_code: GridPath, day: date, body: RosterIn, uow: Uow, ctx: Context,
                     principal: CurrentPrincipal) -> RosterRead:
    """Who is on duty in the grid that day, and the shift's hours (replaces the day's)."""
    return await duty.put_roster(uow, principal=principal, grid_code=grid_code, day=day,
                                 cmd=body, now=ctx.clock())

@router.get("/grids/{grid_code}/roster", response_model=RosterList, responses={
    403: _SCOPE, 422: problem_doc("`date_range_invalid`: over 62 days or reversed")})
async def rosters(grid_code: GridPath, uow: Uow, ctx: Context, principal: CurrentPrincipal,
                  since: date | None = None, until: date | None = None) -> RosterList:
    """The grid's rosters from ``since`` (default today) to ``until`` (default a week on)."""
    return await duty.rosters(uow, principal=principal, grid_code=grid_code, since=since,
                              until=until, now=ctx.clock())

# -- today's duty and check-ins ------------------------------------------------------------

@router.get("/duty/today", response_model=TodayDuty, responses={403: _SCOPE})
async def duty_today(uow: Uow, ctx: Context, principal: CurrentPrincipal) -> TodayDuty:
    """The grid worker's shifts today (Asia/Shanghai) and their check-in while on duty."""
    return await duty.today(uow, principal=principal, now=ctx.clock())

@router.post("/duty/check-ins", status_code=201, response_model=CheckInRead,
             responses={403: _SCOPE, 409: problem_doc("`check_in_id_taken`"),
                        422: _DEVICE_TIME})
async def check_in(body: CheckInCreate, uow: Uow, ctx: Context, settings: DutySettings,
                   principal: CurrentPrincipal, key: IdempotencyKey = None) -> Any:
    """A grid worker checks in or out with the device's place and time (``at``: when the
    device recorded it). Far outside the grid's area it is recorded with ``flagged`` true,
    never refused. The same ``id`` or Idempotency-Key again answers the same check."""
    status, read = await duty.check_in(
        uow, principal=principal, cmd=body, idempotency_key=key, now=ctx.clock(),
        tolerance_m=settings.check_in_tolerance_m)
    return _created(status, read)

@router.get("/duty/check-ins", response_model=CheckInList, responses={403: _SCOPE})
async def check_ins(uow: Uow, principal: CurrentPrincipal, worker_id: uuid.UUID | None = None,
                    grid_code: GridFilter = None, since: Since = None, until: Until = None,
                    flagged: bool | None = None, cursor: str | None = None,
                    limit: Limit = 50) -> CheckInList:
    """Checks newest first: managers' in their regions, a worker's own."""
    return await duty.list_check_ins(uow, principal=principal, worker_id=worker_id,
                                     grid_code=grid_code, since=since, until=until,
                                     flagged=flagged, cursor=cursor, limit=limit)

# -- patrols ---------------------------------------------------------------------------------

@router.post("/patrols", status_code=201, response_model=PatrolRead, responses={
    403: _SCOPE, 409: problem_doc("`patrol_id_taken`"), 422: _DEVICE_TIME})
async def start_patrol(body: PatrolCreate, uow: Uow, ctx: Context,
                       principal: CurrentPrincipal) -> PatrolRead:
    """Start a patrol under the device-made ``id``; the same id again is the same patrol."""
    return await duty.start_patrol(uow, principal=principal, cmd=body, now=ctx.clock())

@router.post("/patrols/{patrol_id}/points", response_model=BatchAccepted, responses={
    403: _SCOPE, 404: _PATROL, 409: problem_doc("`patrol_finished`")})
async def add_points(patrol_id: uuid.UUID, body: PointBatch, uow: Uow,
                     principal: CurrentPrincipal) -> BatchAccepted:
    """One batch of the patrol's points (1 to 200). The same ``batch_seq`` again stores
    nothing and answers ``duplicate`` true."""
    return await duty.add_points(uow, principal=principal, patrol_id=patrol_id, batch=body)

@router.post("/patrols/{patrol_id}/finish", response_model=PatrolRead, responses={
    403: _SCOPE, 404: _PATROL,
    422: problem_doc("`ended_before_start`, `time_in_future`, `too_old`")})
async def finish_patrol(patrol_id: uuid.UUID, body: PatrolFinish, uow: Uow, ctx: Context,
                        principal: CurrentPrincipal) -> PatrolRead:
    """Finish the patrol: its length over its points, announced once as
    ``routing.patrol_finished``; finishing again answers the finished patrol."""
    return await duty.finish_patrol(uow, principal=principal, patrol_id=patrol_id,
                                    ended_at=body.ended_at, now=ctx.clock())

@router.get("/patrols", response_model=PatrolList, responses={403: _SCOPE})
async def patrols(uow: Uow, principal: CurrentPrincipal, worker_id: uuid.UUID | None = None,
                  grid_code: GridFilter = None, since: Since = None, until: Until = None,
                  cursor: str | None = None, limit: Limit = 50) -> PatrolList:
    """Patrols newest first (by start): managers' in their regions, a worker's own."""
    return await duty.list_patrols(uow, principal=principal, worker_id=worker_id,
                                   grid_code=grid_code, since=since, until=until, cursor=cursor,
                                   limit=limit)

@router.get("/patrols/{patrol_id}/track", response_model=Track,
            responses={403: _SCOPE, 404: _PATROL})
async def patrol_track(patrol_id: uuid.UUID, uow: Uow, principal: CurrentPrincipal) -> Track:
    """The patrol's points ``[lat, lng, at]`` in the order recorded, for the map."""
    return await duty.patrol_track(uow, principal=principal, patrol_id=patrol_id)

@router.get("/grids/{grid_code}/coverage", response_model=Coverage, responses={403: _SCOPE})
async def coverage(grid_code: GridPath, uow: Uow, settings: DutySettings,
                   principal: CurrentPrincipal, since: Since = None,
                   until: Until = None) -> Coverage:
    """Where the grid's patrols went (points recorded in [since, until)): cells and how many
    patrols passed each, and the share of the grid's area covered (null without an area)."""
    return await duty.coverage(uow, principal=principal, grid_code=grid_code, since=since,
                               until=until, cell_m=settings.coverage_cell_m)

# -- daily logs (民情日志) -------------------------------------------------------------------

@router.post("/duty/logs", status_code=201, response_model=LogRead, responses={
    403: _SCOPE, 409: problem_doc("`log_id_taken`"),
    422: problem_doc("`time_in_future`, `too_old`: the day; `validation_error`")})
async def write_log(body: LogCreate, uow: Uow, ctx: Context, principal: CurrentPrincipal,
                    key: IdempotencyKey = None) -> Any:
    """The worker's daily log for a grid (phone and ID numbers masked). The same ``id`` or
    Idempotency-Key again answers the same log."""
    status, read = await duty.write_log(uow, principal=principal, cmd=body,
                                        idempotency_key=key, now=ctx.clock(), pii=ctx.pii)
    return _created(status, read)

@router.get("/duty/logs", response_model=LogList, responses={403: _SCOPE})
async def logs(uow: Uow, principal: CurrentPrincipal, worker_id: uuid.UUID | None = None,
               grid_code: GridFilter = None, since: date | None = None,
               until: date | None = None, cursor: str | None = None,
               limit: Limit = 50) -> LogList:
    """Daily logs newest first: managers' in their regions, a worker's own."""
    return await duty.list_logs(uow, principal=principal, worker_id=worker_id,
                                grid_code=grid_code, since=since, until=until, cursor=cursor,
                                limit=limit)
