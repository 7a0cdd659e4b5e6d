"""Tasks from above (上级交办): a manager gives a task with a deadline to one worker of a grid,
or to every worker of it (any of them completes it); it reaches the worker's list and
notices (``routing.grid_task_assigned``), and the worker reports completion with evidence
(``routing.grid_task_completed``). Verification duties are listed here too but complete
through the case's verification (duties.py)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, true

from services.routing.schemas_workforce import CompletionIn, GridTaskCreate, GridTaskRead
from services.routing.service.common import scope_prefixes
from services.routing.store import workforce as rows
from services.routing.store.workforce import tasks as t
from shared.auth import Principal
from shared.contracts.routing import GridTaskAssigned, GridTaskCompleted
from shared.db import idempotency
from shared.db.uow import UnitOfWork
from shared.paging import decode_moment_cursor, moment_cursor, page_of
from shared.pii import PiiCipher, mask_and_seal
from shared.problems import Conflict, Forbidden, NotFound, RuleViolation

from .common import (
    is_manager,
    require_grid_code,
    require_grids,
    require_manager,
    require_worker,
    tasks_read,
    trail_entry,
)

# A device's clock may run a little ahead; a completion further in the future is refused.
CLOCK_SKEW = timedelta(minutes=5)


def text_context(task_id: uuid.UUID, name: str) -> str:
    return f"routing.grid_task:{task_id}:{name}"


async def create_task(uow: UnitOfWork, *, principal: Principal, cmd: GridTaskCreate,
                      idempotency_key: str | None, now: datetime, pii: PiiCipher
                      ) -> tuple[int, GridTaskRead]:
    """The new task (or, with the same Idempotency-Key, the one its first attempt made)."""
    require_manager(principal)
    if cmd.due_at <= now:
        raise RuleViolation("the deadline has passed already", code="due_in_past")

    async def work() -> tuple[int, GridTaskRead]:
        return 201, await _create(uow, principal, cmd, now, pii)

    async with uow:
        return await idempotency.once(
            uow, scope=f"routing.grid_task:{principal.subject}", key=idempotency_key,
            request=cmd, answer=GridTaskRead, work=work)


async def _create(uow: UnitOfWork, principal: Principal, cmd: GridTaskCreate, now: datetime,
                  pii: PiiCipher) -> GridTaskRead:
    [grid_code] = await require_grids(uow, principal, [cmd.grid_code])
    workers = [w["user_id"] for w in await rows.active_workers_of_grid(uow, grid_code)]
    if not workers:
        # Nobody would own it: nothing is left without an owner.
        raise RuleViolation("the grid has no active grid worker", code="grid_has_no_workers")
    if cmd.worker_id is not None and cmd.worker_id not in workers:
        raise RuleViolation("this worker is not an active worker of the grid",
                            code="worker_not_in_grid")
    task_id = uuid.uuid4()
    detail, sealed = (None, None) if cmd.detail is None else mask_and_seal(
        pii, cmd.detail, context=text_context(task_id, "detail"))
    task = await rows.insert_task(uow, {
        "id": task_id, "kind": "assigned", "title": cmd.title, "detail": detail,
        "detail_original": sealed, "grid_code": grid_code, "worker_id": cmd.worker_id,
        "due_at": cmd.due_at, "status": "open", "created_by": principal.subject,
        "created_at": now})
    await rows.add_trail(uow, [trail_entry(task_id, "created", now, actor_id=principal.subject,
                                           to_worker_id=cmd.worker_id)])
    # A task for the whole grid reaches each of its workers' notices.
    for worker_id in [cmd.worker_id] if cmd.worker_id is not None else workers:
        await uow.emit("routing.grid_task_assigned", GridTaskAssigned(
            task_id=task_id, kind="assigned", title=cmd.title, grid_code=grid_code,
            worker_id=worker_id, due_at=cmd.due_at, reason="new",
            assigned_by=principal.subject, at=now))
    [read] = await tasks_read(uow, [task])
    return read


def _workers_view(principal: Principal) -> Any:
    """A worker's tasks: their own, and their grids' tasks for every worker."""
    return or_(t.c.worker_id == principal.subject,
               and_(t.c.worker_id.is_(None), t.c.grid_code.in_(list(principal.regions))))


def _managers_view(principal: Principal) -> Any:
    prefixes = scope_prefixes(principal)
    if prefixes is None:
        return true()
    return or_(*[t.c.grid_code.startswith(p) for p in prefixes]) if prefixes else ~true()


def _view(principal: Principal, mine: bool | None) -> Any:
    if is_manager(principal) and not mine:
        return _managers_view(principal)
    require_worker(principal)
    return _workers_view(principal)


async def list_tasks(uow: UnitOfWork, *, principal: Principal, mine: bool | None,
                     grid_code: str | None, worker_id: uuid.UUID | None, status: str | None,
                     kind: str | None, cursor: str | None, limit: int
                     ) -> tuple[list[GridTaskRead], str | None]:
    """The nearest deadline first, a page at a time: a worker's own and their grids'
    (``mine``), a manager's in their scope."""
    visible = _view(principal, mine)
    after = decode_moment_cursor(cursor)
    filters = []
    if grid_code is not None:
        require_grid_code(grid_code)
        filters.append(t.c.grid_code == grid_code)
    for column, value in ((t.c.worker_id, worker_id), (t.c.status, status), (t.c.kind, kind)):
        if value is not None:
            filters.append(column == value)
    async with uow:
        found = await rows.list_tasks(uow, visible=visible, filters=filters, after=after,
                                      limit=limit + 1)
        page, next_cursor = page_of(found, limit, lambda r: moment_cursor(r["due_at"], r["id"]))
        return await tasks_read(uow, page), next_cursor


def _may_read(principal: Principal, task: Any) -> bool:
    if is_manager(principal) and principal.covers_region(task["grid_code"]):
        return True
    return _may_complete(principal, task)


def _may_complete(principal: Principal, task: Any) -> bool:
    if task["worker_id"] is not None:
        return bool(task["worker_id"] == principal.subject)
    return task["grid_code"] in principal.regions


async def task(uow: UnitOfWork, *, principal: Principal, task_id: uuid.UUID) -> GridTaskRead:
    async with uow:
        found = await _load(uow, task_id)
        if not _may_read(principal, found):
            raise Forbidden("this task is outside your scope", code="out_of_scope")
        [read] = await tasks_read(uow, [found])
    return read


async def _load(uow: UnitOfWork, task_id: uuid.UUID, *, lock: bool = False) -> Any:
    found = await rows.get_task(uow, task_id, lock=lock)
    if found is None:
        raise NotFound("no such task", code="task_not_found")
    return found


async def complete(uow: UnitOfWork, *, principal: Principal, task_id: uuid.UUID,
                   cmd: CompletionIn, idempotency_key: str | None, now: datetime,
                   pii: PiiCipher) -> GridTaskRead:
    """The worker's report of the task done, with evidence; a retry with the same key
    answers the same. A verification completes through the case's verification."""
    require_worker(principal)
    completed_at = cmd.completed_at or now
    if completed_at > now + CLOCK_SKEW:
        raise RuleViolation("completed in the future", code="completion_in_future")

    async def work() -> tuple[int, GridTaskRead]:
        return 200, await _complete(uow, principal, task_id, cmd, completed_at, now, pii)

    async with uow:
        _, read = await idempotency.once(
            uow, scope=f"routing.grid_task_completion:{principal.subject}:{task_id}",
            key=idempotency_key, request=cmd, answer=GridTaskRead, work=work)
    return read


async def _complete(uow: UnitOfWork, principal: Principal, task_id: uuid.UUID,
                    cmd: CompletionIn, completed_at: datetime, now: datetime,
                    pii: PiiCipher) -> GridTaskRead:
    found = await _load(uow, task_id, lock=True)
    if not _may_complete(principal, found):
        raise Forbidden("this task is another worker's", code="not_your_task")
    if found["kind"] == "verification":
        raise Conflict("a verification completes by verifying the case on site",
                       code="verify_the_case")
    if found["status"] != "open":
        raise Conflict(f"this task is {found['status']}", code="task_closed")
    note, sealed = mask_and_seal(pii, cmd.note, context=text_context(task_id, "evidence"))
    on_time = completed_at <= found["due_at"]
    evidence = {"note": note, "attachment_ids": [str(a) for a in cmd.attachment_ids],
                "location": cmd.location.model_dump() if cmd.location else None}
    done = await rows.update_task(uow, task_id, {
        "status": "done", "completed_at": completed_at, "completed_by": principal.subject,
        "on_time": on_time, "evidence": evidence, "evidence_note_original": sealed})
    await rows.add_trail(uow, [trail_entry(task_id, "completed", now,
                                           actor_id=principal.subject)])
    await uow.emit("routing.grid_task_completed", GridTaskCompleted(
        task_id=task_id, kind="assigned", grid_code=found["grid_code"],
        worker_id=principal.subject, due_at=found["due_at"], completed_at=completed_at,
        on_time=on_time))
    [read] = await tasks_read(uow, [done])
    return read
