"""Verification duties (核查): when a case in a grid waits for its on-site check (its result
was submitted), one worker of that grid gets a duty to verify it, due a set number of working
days later; it is done when the case is verified (by the events service's verify, by
whoever verifies), and cancelled if the case is rejected instead. One duty per case and
result submission (``source_step``): a redelivery or a later rework's submission is
recognised. The owner is, among the grid's active workers, one on its duty roster that day
before any other, then the one holding the fewest open tasks, the longest serving, by id:
deterministic, so every replica picks the same one. A case whose region is not a grid with
active workers gets no duty."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.routing.service.common import calendar
from services.routing.store import workforce as rows
from shared.calendar import SHANGHAI, WorkingCalendar
from shared.contracts.events import EventStatusChanged
from shared.contracts.routing import GridTaskAssigned, GridTaskCompleted
from shared.db.uow import UnitOfWork
from shared.i18n import zh_CN
from shared.logs import get_logger
from shared.regions import is_region_code, region_level

from .common import trail_entry

log = get_logger(__name__)

WAITING = "result_submitted"
# A case is closed and rated only after its verification, which completes the duty itself
# (and may be delivered after the closure): only a rejection ends a duty unverified.
ENDED = frozenset({"rejected"})


def concerns_duties(change: dict[str, Any]) -> bool:
    """The status changes a duty follows (the rest are declined before any transaction)."""
    return (change.get("to_status") == WAITING or change.get("action") == "verify"
            or change.get("to_status") in ENDED)


async def on_case_step(uow: UnitOfWork, change: EventStatusChanged, *, now: datetime,
                       base: WorkingCalendar, due_days: int,
                       verifier_id: uuid.UUID | None = None) -> None:
    """In the consumer's transaction. ``verifier_id``: who verified, when the message says."""
    grid = change.region_code
    if not is_region_code(grid) or region_level(grid) != "grid":
        return  # a case above the grids gets no duty
    if change.to_status == WAITING:
        await _give_duty(uow, change, now=now, base=base, due_days=due_days)
    elif change.action == "verify" and change.from_status == WAITING:
        await _verified(uow, change, verifier_id)
    elif change.to_status in ENDED:
        await _cancel(uow, change)


async def _give_duty(uow: UnitOfWork, change: EventStatusChanged, *, now: datetime,
                     base: WorkingCalendar, due_days: int) -> None:
    grid = change.region_code
    if await rows.lock_case(uow, change.event_id) > change.step:
        return  # its verification arrived first: nothing is left to do on site
    workers = await rows.active_workers_of_grid(
        uow, grid, on_duty=change.at.astimezone(SHANGHAI).date())
    if not workers:
        log.info("verification_without_grid_worker", event_id=str(change.event_id))
        return
    owner = workers[0]["user_id"]
    due_at = (await calendar(uow, base)).add_working_days(change.at, due_days)
    title = zh_CN.GRID_TASKS["verification_title"].format(case_no=change.case_no)
    task = await rows.insert_task(uow, {
        "id": uuid.uuid4(), "kind": "verification", "title": title, "grid_code": grid,
        "worker_id": owner, "event_id": change.event_id, "case_no": change.case_no,
        "source_step": change.step, "due_at": due_at, "status": "open", "created_by": None,
        "created_at": now})
    if task is None:
        return  # this submission's duty exists already
    await rows.add_trail(uow, [trail_entry(task["id"], "created", now, actor_id=None,
                                           to_worker_id=owner)])
    await uow.emit("routing.grid_task_assigned", GridTaskAssigned(
        task_id=task["id"], kind="verification", title=title, grid_code=grid,
        worker_id=owner, due_at=due_at, reason="new", event_id=change.event_id, at=now))


async def _verified(uow: UnitOfWork, change: EventStatusChanged,
                    verifier_id: uuid.UUID | None) -> None:
    await rows.lock_case(uow, change.event_id)
    await rows.note_verification(uow, change.event_id, change.step)
    for duty in await rows.open_duties_of_case(uow, change.event_id, before_step=change.step):
        on_time = change.at <= duty["due_at"]
        await rows.update_task(uow, duty["id"], {
            "status": "done", "completed_at": change.at, "completed_by": verifier_id,
            "on_time": on_time})
        await rows.add_trail(uow, [trail_entry(duty["id"], "completed", change.at,
                                               actor_id=verifier_id)])
        await uow.emit("routing.grid_task_completed", GridTaskCompleted(
            task_id=duty["id"], kind="verification", grid_code=duty["grid_code"],
            worker_id=verifier_id or duty["worker_id"], due_at=duty["due_at"],
            completed_at=change.at, on_time=on_time, event_id=change.event_id))


async def _cancel(uow: UnitOfWork, change: EventStatusChanged) -> None:
    """The case ended without the verification the duty waited for."""
    for duty in await rows.open_duties_of_case(uow, change.event_id):
        await rows.update_task(uow, duty["id"], {"status": "cancelled"})
        await rows.add_trail(uow, [trail_entry(duty["id"], "cancelled", change.at,
                                               actor_id=None, note=change.to_status)])
