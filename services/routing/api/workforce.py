"""Grid workers' workforce routes (网格员), under /api/v1/routing: profiles, trainings,
leaving with a hand-over, tasks from above and verification duties."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.routing.schemas_workforce import (
    CompletionIn,
    GridTaskCreate,
    GridTaskPage,
    GridTaskRead,
    GridWorkerCreate,
    GridWorkerPage,
    GridWorkerRead,
    GridWorkerUpdate,
    LeaveIn,
    LeaveRead,
    TaskKind,
    TaskStatus,
    TrainingCreate,
    TrainingRead,
    WorkerStatus,
)
from services.routing.service import workforce
from shared.auth import CurrentPrincipal
from shared.web.deps import IdempotencyKey, Uow

from .deps import Context, Limit, problem_doc

router = APIRouter()

_SCOPE = problem_doc("`role_required`: managers (dispatcher, supervisor, admin) only; "
                     "`out_of_scope`: a grid or worker outside the caller's regions")
_WORKER_NOT_FOUND = problem_doc("`grid_worker_not_found`")
_GRIDS = problem_doc("`grid_invalid`: not a 15-digit grid code; `grid_unknown`: no such "
                     "active grid; `validation_error`")


@router.post("/grid-workers", status_code=201, response_model=GridWorkerRead,
             responses={403: _SCOPE, 409: problem_doc("`already_enrolled`"), 422: _GRIDS})
async def enrol_grid_worker(body: GridWorkerCreate, uow: Uow, ctx: Context,
                            principal: CurrentPrincipal, key: IdempotencyKey = None
                            ) -> GridWorkerRead:
    """A town or community manager enrols a staff account (made by identity with the
    grid_worker role) as a grid worker (网格员, or part-time 网格协管员) of grids in their
    scope. Someone who left may be enrolled again. Announced as
    ``routing.grid_worker_enrolled``. A retry with the same Idempotency-Key answers the
    same."""
    return await workforce.enrol(uow, principal=principal, cmd=body, idempotency_key=key,
                                 now=ctx.clock(), pii=ctx.pii)


@router.get("/grid-workers", response_model=GridWorkerPage,
            responses={403: _SCOPE, 422: _GRIDS})
async def list_grid_workers(uow: Uow, ctx: Context, principal: CurrentPrincipal,
                            grid_code: str | None = None, region: str | None = None,
                            status: WorkerStatus | None = None, cursor: str | None = None,
                            limit: Limit = 50) -> GridWorkerPage:
    """Grid workers with a grid in the manager's scope (or under ``region``, or of
    ``grid_code``), in enrolment order, a page at a time."""
    items, next_cursor = await workforce.profiles(
        uow, principal=principal, grid_code=grid_code, region=region, status=status,
        cursor=cursor, limit=limit, pii=ctx.pii)
    return GridWorkerPage(items=items, next_cursor=next_cursor)


@router.get("/grid-workers/me", response_model=GridWorkerRead,
            responses={403: problem_doc("`role_required`: grid workers"),
                       404: _WORKER_NOT_FOUND})
async def my_grid_worker_profile(uow: Uow, ctx: Context,
                                 principal: CurrentPrincipal) -> GridWorkerRead:
    """The calling grid worker's own profile and trainings."""
    return await workforce.own_profile(uow, principal=principal, pii=ctx.pii)


@router.get("/grid-workers/{user_id}", response_model=GridWorkerRead,
            responses={403: _SCOPE, 404: _WORKER_NOT_FOUND})
async def grid_worker(user_id: uuid.UUID, uow: Uow, ctx: Context,
                      principal: CurrentPrincipal) -> GridWorkerRead:
    """One grid worker: for a manager over one of their grids, or the worker themself."""
    return await workforce.profile(uow, principal=principal, user_id=user_id, pii=ctx.pii)


@router.patch("/grid-workers/{user_id}", response_model=GridWorkerRead,
              responses={403: _SCOPE, 404: _WORKER_NOT_FOUND,
                         409: problem_doc("`grid_worker_left`"), 422: _GRIDS})
async def change_grid_worker(user_id: uuid.UUID, body: GridWorkerUpdate, uow: Uow,
                             ctx: Context, principal: CurrentPrincipal) -> GridWorkerRead:
    """Change an active worker's grids (replaced as a whole; every grid added or given up
    in the manager's scope), kind, name or phone. A change of grids or kind is announced as
    ``routing.grid_worker_enrolled``."""
    return await workforce.change(uow, principal=principal, user_id=user_id, cmd=body,
                                  now=ctx.clock(), pii=ctx.pii)


@router.post("/grid-workers/{user_id}/trainings", status_code=201, response_model=TrainingRead,
             responses={403: _SCOPE, 404: _WORKER_NOT_FOUND})
async def add_training(user_id: uuid.UUID, body: TrainingCreate, uow: Uow, ctx: Context,
                       principal: CurrentPrincipal, key: IdempotencyKey = None
                       ) -> TrainingRead:
    """Record a course the worker took (course, day, result, hours, a note); a retry with
    the same Idempotency-Key records it once."""
    return await workforce.add_training(uow, principal=principal, user_id=user_id, cmd=body,
                                        idempotency_key=key, now=ctx.clock(), pii=ctx.pii)


@router.post("/grid-workers/{user_id}/leave", response_model=LeaveRead, responses={
    403: _SCOPE, 404: _WORKER_NOT_FOUND,
    409: problem_doc("`successor_required`: name who takes over (nothing was written); "
                     "`grid_worker_left`: left already"),
    422: problem_doc("`successor_invalid`: not an active worker serving the leaver's "
                     "communities within the manager's scope")})
async def leave(user_id: uuid.UUID, body: LeaveIn, uow: Uow, ctx: Context,
                principal: CurrentPrincipal, key: IdempotencyKey = None) -> LeaveRead:
    """The worker leaves (离岗): every open task and verification of theirs moves to the
    successor in the same step, each with a trail entry naming the manager. Announced as
    ``routing.grid_worker_left`` (identity disables the account) and a
    ``routing.grid_task_assigned`` (reason handover) per moved task. A retry with the same
    Idempotency-Key answers the same."""
    return await workforce.leave(uow, principal=principal, user_id=user_id, cmd=body,
                                 idempotency_key=key, now=ctx.clock(), pii=ctx.pii)


# -- tasks (上级交办) and verification duties (核查) --------------------------------------------

_TASK_NOT_FOUND = problem_doc("`task_not_found`")


@router.post("/grid-tasks", status_code=201, response_model=GridTaskRead, responses={
    403: _SCOPE, 422: problem_doc("`due_in_past`, `worker_not_in_grid`, `grid_has_no_workers`, "
                                  "`grid_invalid`, `grid_unknown`, `idempotency_key_reused`")})
async def create_grid_task(body: GridTaskCreate, uow: Uow, ctx: Context,
                           principal: CurrentPrincipal, key: IdempotencyKey = None) -> Any:
    """A manager gives a task with a deadline to a worker of a grid in their scope, or (no
    ``worker_id``) to every worker of the grid, any of whom completes it. Each worker is told
    (``routing.grid_task_assigned``). A retry with the same Idempotency-Key answers the same
    task."""
    status, created = await workforce.create_task(
        uow, principal=principal, cmd=body, idempotency_key=key, now=ctx.clock(), pii=ctx.pii)
    return JSONResponse(created.model_dump(mode="json"), status_code=status)


@router.get("/grid-tasks", response_model=GridTaskPage, responses={403: _SCOPE})
async def list_grid_tasks(uow: Uow, principal: CurrentPrincipal, mine: bool | None = None,
                          grid_code: str | None = None, worker_id: uuid.UUID | None = None,
                          status: TaskStatus | None = None, kind: TaskKind | None = None,
                          cursor: str | None = None, limit: Limit = 50) -> GridTaskPage:
    """The nearest deadline first: a grid worker's own tasks and their grids' tasks for every
    worker (also a manager's with ``mine=true``); a manager's tasks in their scope."""
    items, next_cursor = await workforce.list_tasks(
        uow, principal=principal, mine=mine, grid_code=grid_code, worker_id=worker_id,
        status=status, kind=kind, cursor=cursor, limit=limit)
    return GridTaskPage(items=items, next_cursor=next_cursor)


@router.get("/grid-tasks/{task_id}", response_model=GridTaskRead,
            responses={403: _SCOPE, 404: _TASK_NOT_FOUND})
async def grid_task(task_id: uuid.UUID, uow: Uow, principal: CurrentPrincipal) -> GridTaskRead:
    """One task with its evidence and trail."""
    return await workforce.task(uow, principal=principal, task_id=task_id)


@router.post("/grid-tasks/{task_id}/completion", response_model=GridTaskRead, responses={
    403: problem_doc("`role_required`: grid workers; `not_your_task`"), 404: _TASK_NOT_FOUND,
    409: problem_doc("`verify_the_case`: a verification completes through POST "
                     "/api/v1/events/{event_id}/verify; `task_closed`: done or cancelled"),
    422: problem_doc("`completion_in_future`, `idempotency_key_reused`")})
async def complete_grid_task(task_id: uuid.UUID, body: CompletionIn, uow: Uow, ctx: Context,
                             principal: CurrentPrincipal, key: IdempotencyKey = None
                             ) -> GridTaskRead:
    """The worker reports the task done, with a note, photos (events' attachment ids) and
    the location; ``completed_at`` when done offline. A retry with the same Idempotency-Key
    answers the same. Announced as ``routing.grid_task_completed``."""
    return await workforce.complete(uow, principal=principal, task_id=task_id, cmd=body,
                                    idempotency_key=key, now=ctx.clock(), pii=ctx.pii)
