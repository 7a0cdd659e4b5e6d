"""Leaving (离岗): a manager over the worker's grids records it, naming a successor who takes
every open task and verification duty of theirs in the same step, so nothing is left without
an owner; a task for the whole of a grid that the leaver was the last worker of goes to the
successor too. Without a successor the step is refused (409 ``successor_required``) and
nothing is written: the leaving is announced (``routing.grid_worker_left``) with the
successor it names, and identity disables the account on it. Every moved task gets a trail
entry naming the manager who moved it, from whom, to whom (and ``routing.grid_task_assigned``,
reason handover)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.routing.schemas_workforce import LeaveIn, LeaveRead
from services.routing.service.duty import leave_rosters
from services.routing.store import workforce as rows
from shared.auth import Principal
from shared.contracts.routing import GridTaskAssigned, GridWorkerLeft
from shared.db import idempotency
from shared.db.uow import UnitOfWork
from shared.pii import PiiCipher, mask_and_seal
from shared.problems import Conflict, RuleViolation
from shared.regions import parent

from .common import load_profile, require_manages, trail_entry


def community_of(grid_code: str) -> str:
    return parent(grid_code) or grid_code


async def leave(uow: UnitOfWork, *, principal: Principal, user_id: uuid.UUID, cmd: LeaveIn,
                idempotency_key: str | None, now: datetime, pii: PiiCipher) -> LeaveRead:
    """A retry with the same Idempotency-Key answers what the first attempt did."""

    async def work() -> tuple[int, LeaveRead]:
        return 200, await _leave(uow, principal, user_id, cmd, now, pii)

    async with uow:
        _, read = await idempotency.once(
            uow, scope=f"routing.grid_worker_leave:{principal.subject}:{user_id}",
            key=idempotency_key, request=cmd, answer=LeaveRead, work=work)
    return read


async def _leave(uow: UnitOfWork, principal: Principal, user_id: uuid.UUID, cmd: LeaveIn,
                 now: datetime, pii: PiiCipher) -> LeaveRead:
    leaver = await load_profile(uow, user_id, lock=True)
    require_manages(principal, leaver)
    if leaver["status"] != "active":
        raise Conflict("this grid worker has left already", code="grid_worker_left")
    if cmd.successor_id is None:
        raise Conflict("name the successor who takes over this worker's open work",
                       code="successor_required")
    await _check_successor(uow, principal, leaver, cmd.successor_id)
    moving = [*await rows.open_tasks_of_worker(uow, user_id),
              *await _orphaned_grid_tasks(uow, leaver)]
    for task in moving:
        await _hand_over(uow, task, leaver=user_id, successor=cmd.successor_id,
                         manager=principal.subject, now=now)
    reason, sealed = (None, None) if cmd.reason is None else mask_and_seal(
        pii, cmd.reason, context=f"routing.grid_worker:{user_id}:left_reason")
    await rows.update_profile(uow, user_id, {
        "status": "left", "left_on": cmd.left_on, "successor_id": cmd.successor_id,
        "left_reason": reason, "left_reason_original": sealed, "updated_at": now})
    await rows.set_memberships(uow, user_id, [])
    await leave_rosters(uow, worker_id=user_id, left_on=cmd.left_on)
    moved = [task["id"] for task in moving]
    await uow.emit("routing.grid_worker_left", GridWorkerLeft(
        user_id=user_id, successor_id=cmd.successor_id, grid_codes=list(leaver["grid_codes"]),
        left_on=cmd.left_on, moved_task_ids=moved, handed_over_by=principal.subject, at=now))
    return LeaveRead(user_id=user_id, successor_id=cmd.successor_id, moved_task_ids=moved,
                     left_on=cmd.left_on)


async def _check_successor(uow: UnitOfWork, principal: Principal, leaver: Any,
                           successor_id: uuid.UUID) -> None:
    """An active worker other than the leaver, with grids in the manager's scope, serving the
    community of each of the leaver's grids (so they can reach its people and cases)."""
    successor = await rows.get_profile(uow, successor_id)
    if successor is None or successor["status"] != "active" or successor_id == leaver["user_id"]:
        raise RuleViolation("the successor is not an active grid worker",
                            code="successor_invalid")
    theirs = list(successor["grid_codes"])
    if not all(principal.covers_region(code) for code in theirs):
        raise RuleViolation("the successor works outside your scope", code="successor_invalid")
    served = {community_of(code) for code in theirs}
    if not all(community_of(code) in served for code in leaver["grid_codes"]):
        raise RuleViolation("the successor serves none of the leaver's communities' grids",
                            code="successor_invalid")


async def _orphaned_grid_tasks(uow: UnitOfWork, leaver: Any) -> list[Any]:
    """Open tasks for the whole of a grid whose last active worker is leaving."""
    orphaned: list[Any] = []
    for grid in leaver["grid_codes"]:
        others = [w for w in await rows.active_workers_of_grid(uow, grid)
                  if w["user_id"] != leaver["user_id"]]
        if not others:
            orphaned += await rows.open_grid_tasks(uow, grid)
    return orphaned


async def _hand_over(uow: UnitOfWork, task: Any, *, leaver: uuid.UUID, successor: uuid.UUID,
                     manager: uuid.UUID, now: datetime) -> None:
    await rows.update_task(uow, task["id"], {"worker_id": successor})
    await rows.add_trail(uow, [trail_entry(task["id"], "handover", now, actor_id=manager,
                                           from_worker_id=leaver, to_worker_id=successor)])
    await uow.emit("routing.grid_task_assigned", GridTaskAssigned(
        task_id=task["id"], kind=task["kind"], title=task["title"],
        grid_code=task["grid_code"], worker_id=successor, due_at=task["due_at"],
        reason="handover", event_id=task["event_id"], assigned_by=manager, at=now))
