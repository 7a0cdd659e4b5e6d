"""Timers in the database, fired by a scanner loop that any number of replicas may run.

A batch is claimed with ``FOR UPDATE SKIP LOCKED`` and fired in the same transaction that
marks it fired and writes the resulting events to the outbox: another replica skips the locked
rows, a crash rolls the batch back for the next scan, and a committed timer is never fired
again. The clock is injected, so tests move time instead of waiting."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.routing import messages, store
from services.routing.domain import supervisor_region
from shared.calendar import WorkingCalendar
from shared.contracts.routing import DeadlineWarning, EventOverdue, SubtaskClosed
from shared.db.uow import UnitOfWork
from shared.periodic import PeriodicWorker

from .assignment import escalate_one_level
from .common import Clock, policy


async def fire_due_timers(uow: UnitOfWork, *, now: datetime, cal: WorkingCalendar,
                          fractions: list[float], limit: int = 50) -> int:
    """Fire one batch of due timers; returns how many were fired."""
    async with uow:
        due = await store.claim_due_timers(uow, now, limit)
        fired = [t["id"] for t in due
                 if await _fire(uow, t, now=now, cal=cal, fractions=fractions)]
        await store.mark_fired(uow, fired, now)
    return len(fired)


async def _fire(uow: UnitOfWork, timer: Any, *, now: datetime, cal: WorkingCalendar,
                fractions: list[float]) -> bool:
    """False when the case is held by another transaction: the timer stays due for the next
    pass. Waiting for it while holding this batch's timers would close a lock cycle with an
    action that holds the case and then cancels its timers."""
    held, assignment = await store.get_assignment_unless_held(uow, timer["event_id"])
    if held:
        return False
    if assignment is None or assignment["seq"] != timer["seq"]:
        return True  # the case moved to another unit since: this clock no longer runs
    if timer["kind"] == "subtask":
        subtask = await store.get_subtask(uow, timer["subtask_id"])
        if subtask is not None and subtask["status"] == "open":
            await store.close_subtask(uow, subtask["id"], {"status": "timed_out",
                                                           "closed_at": now})
            await uow.emit("routing.subtask_closed", SubtaskClosed(
                event_id=timer["event_id"], subtask_id=subtask["id"],
                unit_id=subtask["unit_id"], outcome="timed_out", at=now))
        return True
    if timer["fraction"] < 1:
        await uow.emit("routing.deadline_warning", DeadlineWarning(
            event_id=timer["event_id"], unit_id=timer["unit_id"], kind=timer["kind"],
            deadline=timer["deadline"], fraction=timer["fraction"], at=now))
        return True
    unit = await store.get_unit(uow, timer["unit_id"])
    if unit is None:
        return True
    pol = await policy(uow, assignment["category_code"], assignment["urgency"])
    supervision_id = uuid.uuid4()
    escalated = False
    if pol.auto_escalate:
        escalated = await escalate_one_level(
            uow, assignment, now=now, cal=cal, fractions=fractions, automatic=True,
            actor_role="system", note=messages.note_deadline_passed(timer["kind"]))
    await store.insert_supervision(uow, {
        "id": supervision_id, "event_id": timer["event_id"], "unit_id": unit["id"],
        "kind": timer["kind"], "deadline": timer["deadline"],
        "supervisor_region_code": supervisor_region(unit["region_code"]),
        "auto_escalated": escalated, "created_at": now,
    })
    await uow.emit("routing.event_overdue", EventOverdue(
        event_id=timer["event_id"], unit_id=unit["id"], unit_level=unit["level"],
        kind=timer["kind"], deadline=timer["deadline"], supervision_id=supervision_id,
        supervisor_region_code=supervisor_region(unit["region_code"]), at=now))
    return True


class TimerScanner:
    """The routing worker: every ``interval`` seconds it fires due timers a batch at a time,
    straight on while batches come back full (shared.periodic.PeriodicWorker). ``stop()``
    lets the batch in hand finish and commit."""

    def __init__(self, make_uow: Callable[[], UnitOfWork], *, clock: Clock,
                 cal: WorkingCalendar, fractions: list[float], interval: float, batch: int
                 ) -> None:
        self._make_uow, self._clock, self._cal = make_uow, clock, cal
        self._fractions, self._batch = fractions, batch
        self._worker = PeriodicWorker("routing-timer-scanner", self._tick, interval)
        self.fired_total = 0

    def start(self) -> None:
        self._worker.start()

    async def stop(self) -> None:
        await self._worker.stop()

    async def scan_once(self) -> int:
        """Fire every timer due now, batch after batch; how many. Errors propagate."""
        fired_now = 0
        while not self._worker.stopping:
            fired = await self._fire_batch()
            fired_now += fired
            if fired < self._batch:
                break
        return fired_now

    async def _fire_batch(self) -> int:
        fired = await fire_due_timers(self._make_uow(), now=self._clock(), cal=self._cal,
                                      fractions=self._fractions, limit=self._batch)
        self.fired_total += fired
        return fired

    async def _tick(self) -> bool:
        # A full batch may leave more due: the worker runs the next pass at once.
        return await self._fire_batch() >= self._batch
