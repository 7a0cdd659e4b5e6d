"""Shared by routing's use cases: clock and calendar, unit references, assigning a case to a
unit with its deadlines and timers, and the errors its refusals raise."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from services.routing import store
from services.routing.domain import (
    LEVEL_DIGITS,
    Policy,
    Rule,
    deadlines,
    region_at,
    reminder_times,
)
from shared.auth import Principal, Role
from shared.calendar import WorkingCalendar
from shared.contracts.routing import AssignReason, EventAssigned, UnitRef
from shared.db.uow import UnitOfWork
from shared.pii import PiiCipher, mask_personal_numbers
from shared.problems import Conflict, Forbidden, NotFound, RuleViolation
from shared.regions import descendant_prefix

from .originals import keep_note

Clock = Callable[[], datetime]


def scope_prefixes(principal: Principal) -> list[str] | None:
    """None means everything (admins)."""
    if principal.has_role(Role.ADMIN):
        return None
    return [descendant_prefix(r) for r in principal.regions]


async def calendar(uow: UnitOfWork, base: WorkingCalendar) -> WorkingCalendar:
    """The configured calendar with the override table as it is now (read per decision, so
    every replica sees an admin's change at once)."""
    return WorkingCalendar(overrides=await store.overrides(uow), windows=base.windows)


def pick_policy(rows: Iterable[Any], category_code: str, urgency: str) -> Policy:
    """The category's own policy before the default ("*"); at the case's urgency, else at
    "normal"."""
    by_key = {(row["category_code"], row["urgency"]): row for row in rows}
    for key in ((category_code, urgency), ("*", urgency), (category_code, "normal"),
                ("*", "normal")):
        row = by_key.get(key)
        if row is not None:
            return Policy(accept_hours=row["accept_hours"],
                          resolve_amount=row["resolve_amount"],
                          resolve_unit=row["resolve_unit"], auto_escalate=row["auto_escalate"])
    raise RuntimeError("no SLA policy configured, not even the default")


async def policy(uow: UnitOfWork, category_code: str, urgency: str) -> Policy:
    return pick_policy(await store.policy_candidates(uow, category_code, urgency),
                       category_code, urgency)


class Decision:
    """What deciding a case's unit and deadlines reads (``store.decision_inputs``, one round
    trip), in the domain's terms."""

    def __init__(self, inputs: store.DecisionInputs, assignment: Any, base: WorkingCalendar
                 ) -> None:
        self._inputs = inputs
        self._case = assignment["category_code"], assignment["urgency"]
        self.rules = [Rule(r["category_code"], r["level"], r["unit_kind"], r["entry"])
                      for r in inputs.rules]
        self.calendar = WorkingCalendar(overrides=inputs.overrides, windows=base.windows)

    @property
    def policy(self) -> Policy:
        """Picked when asked: a case that goes to the dispatcher needs none (and is queued
        even where no policy is configured)."""
        return pick_policy(self._inputs.policies, *self._case)

    def unit_at(self, region_code: str, kind: str) -> Any | None:
        """The active unit of ``kind`` serving ``region_code`` (one of the case's regions)."""
        return next((u for u in self._inputs.units
                     if u["region_code"] == region_code and u["kind"] == kind), None)

    @classmethod
    async def load(cls, uow: UnitOfWork, assignment: Any, base: WorkingCalendar, *,
                   with_units: bool) -> Decision:
        """``with_units``: also the units of the case's region and every region above it."""
        code = assignment["region_code"]
        regions = [region for level in LEVEL_DIGITS
                   if (region := region_at(code, level)) is not None] if with_units else []
        inputs = await store.decision_inputs(
            uow, category_code=assignment["category_code"], urgency=assignment["urgency"],
            regions=regions)
        return cls(inputs, assignment, base)


def unit_ref(unit: Any) -> UnitRef:
    return UnitRef(unit_id=unit["id"], name=unit["name"], kind=unit["kind"],
                   level=unit["level"], region_code=unit["region_code"])


async def require_member(principal: Principal, unit_id: uuid.UUID | None) -> None:
    if unit_id is None or not principal.in_department(unit_id):
        raise Forbidden("this case is not assigned to your unit", code="not_assigned")
    if not principal.has_role(Role.DEPT_STAFF, Role.DEPT_ADMIN, Role.GRID_WORKER, Role.ADMIN):
        raise Forbidden("your role does not allow this", code="role_required")


def timer_rows(
    *, event_id: uuid.UUID, kind: str, unit_id: uuid.UUID, seq: int, start: datetime,
    deadline: datetime, cal: WorkingCalendar, fractions: list[float],
    subtask_id: uuid.UUID | None = None,
) -> list[dict[str, Any]]:
    """The reminder timers and the deadline timer of one clock."""
    return [
        {"event_id": event_id, "kind": kind, "fraction": fraction, "fire_at": when,
         "deadline": deadline, "unit_id": unit_id, "subtask_id": subtask_id, "seq": seq}
        for fraction, when in reminder_times(cal, start, deadline, fractions)
    ]


async def schedule(
    uow: UnitOfWork, *, event_id: uuid.UUID, kind: str, unit_id: uuid.UUID, seq: int,
    start: datetime, deadline: datetime, cal: WorkingCalendar, fractions: list[float],
    subtask_id: uuid.UUID | None = None,
) -> None:
    await store.add_timers(uow, timer_rows(
        event_id=event_id, kind=kind, unit_id=unit_id, seq=seq, start=start, deadline=deadline,
        cal=cal, fractions=fractions, subtask_id=subtask_id))


async def assign(
    uow: UnitOfWork, *, assignment: Any, unit: Any, reason: AssignReason, now: datetime,
    base_calendar: WorkingCalendar, fractions: list[float], actor_role: str = "system",
    actor_unit_id: uuid.UUID | None = None, note: str | None = None, automatic: bool = False,
    decision: Decision | None = None, new: bool = False, pii: PiiCipher | None = None,
    actor_id: uuid.UUID | None = None, actor_unit_name: str | None = None,
) -> None:
    """Give the case to ``unit`` with fresh deadlines and timers, and announce it.
    ``decision``: the inputs when the caller has already read them for this case. ``new``:
    the case has no assignment row yet and ``assignment`` holds its initial values; the row is
    inserted already assigned, with its timers (one statement, not an insert, an update and
    the timers), and nothing happens when another delivery of the report inserted it first.
    ``note``: what the person assigning typed, stored and published masked; ``pii`` keeps its
    original (originals.py). ``actor_id``, ``actor_unit_name``: who did it and the name of the
    unit they acted for (``actor_unit_id``), for the case's trail."""
    event_id = assignment["event_id"]
    if decision is None:
        decision = await Decision.load(uow, assignment, base_calendar, with_units=False)
    cal = decision.calendar
    due = deadlines(cal, decision.policy, now)
    seq = assignment["seq"] + 1
    if assignment["seq"] > 0:  # a first assignment has no clocks or sub-tasks to end
        await store.cancel_timers(uow, event_id, kinds=["accept", "resolve", "subtask"],
                                  now=now)
        for open_task in await store.open_subtasks(uow, event_id):
            # A new unit starts its own co-handling; the old sub-tasks lapse with the old unit.
            await store.close_subtask(uow, open_task["id"], {"status": "lapsed",
                                                             "closed_at": now})
    changes: dict[str, Any] = {
        "unit_id": unit["id"], "seq": seq, "status": "dispatched", "queued": False,
        "queue_reason": None, "accept_by": due.accept_by, "resolve_by": due.resolve_by,
        "assigned_at": now, "updated_at": now,
    }
    if assignment["unit_id"] is not None and assignment["unit_id"] != unit["id"]:
        changes["former_unit_ids"] = with_former_unit(assignment, assignment["unit_id"])
    clocks = [
        row
        for kind, deadline in (("accept", due.accept_by), ("resolve", due.resolve_by))
        for row in timer_rows(event_id=event_id, kind=kind, unit_id=unit["id"], seq=seq,
                              start=now, deadline=deadline, cal=cal, fractions=fractions)
    ]
    if new:
        if not await store.insert_assigned(uow, {**assignment, **changes}, clocks):
            return
    else:
        await store.update_assignment(uow, event_id, changes)
        await store.add_timers(uow, clocks)  # both clocks' timers in one executemany
    if note is not None:
        # Without ``pii`` the note is routing's own (a timer's): masked all the same, not kept.
        note = mask_personal_numbers(note) if pii is None else await keep_note(
            uow, pii, event_id=event_id, seq=seq, reason=reason, note=note, at=now)
    await uow.emit("routing.event_assigned", EventAssigned(
        event_id=event_id, seq=seq, unit=unit_ref(unit), reason=reason,
        previous_unit_id=assignment["unit_id"], accept_by=due.accept_by,
        resolve_by=due.resolve_by, assigned_at=now, actor_role=actor_role,
        actor_unit_id=actor_unit_id, note=note, automatic=automatic, actor_id=actor_id,
        actor_unit_name=actor_unit_name,
    ))


def with_former_unit(assignment: Any, unit_id: uuid.UUID) -> list[uuid.UUID]:
    """The case's former units with ``unit_id``, which it is leaving, last (most recent last:
    the dispatcher's queue names the unit that returned a case)."""
    former = [u for u in assignment.get("former_unit_ids") or () if u != unit_id]
    return [*former, unit_id]


async def load_assignment(uow: UnitOfWork, event_id: uuid.UUID) -> Any:
    row = await store.get_assignment(uow, event_id)
    if row is None:
        raise NotFound("routing knows no such event", code="event_not_found")
    return row


def illegal(detail: str, code: str = "illegal_transition") -> Conflict:
    return Conflict(detail, code=code)


def invalid(detail: str, code: str) -> RuleViolation:
    return RuleViolation(detail, code=code)
