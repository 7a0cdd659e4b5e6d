"""Who owns a case: first assignment by rules, the dispatcher's queue and (re-)dispatch,
transfer, escalation (by hand or by an overdue timer), and the status mirror kept from the
events service (accept stops the accept clock, a result stops the resolve clock, a failed check
or a rework restarts it, a return goes to the dispatcher, close and reject end everything)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.routing import store
from services.routing.domain import (
    HANDLING,
    entry_target,
    escalation_target,
    region_at,
    resolve_deadline,
)
from shared.auth import Principal, Role
from shared.calendar import WorkingCalendar
from shared.contracts.events import EventReported, EventStatusChanged
from shared.contracts.routing import (
    AssignReason,
    DeadlineChanged,
    EventEscalated,
    EventQueued,
    QueueReason,
)
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.pii import PiiCipher
from shared.problems import Conflict, NotFound

from .common import (
    Decision,
    assign,
    illegal,
    load_assignment,
    require_member,
    schedule,
    with_former_unit,
)
from .supervision import lapse_open_supervisions

log = get_logger(__name__)
# The handling unit's steps that an assignment made after them supersedes (a result is not:
# events refuses to re-assign a case whose result is in).
_UNIT_STEPS = frozenset({"accept", "start", "return"})


async def _queue(uow: UnitOfWork, assignment: Any, reason: QueueReason, now: datetime
                 ) -> None:
    await store.cancel_timers(uow, assignment["event_id"], kinds=["accept", "resolve", "subtask"],
                              now=now)
    changes: dict[str, Any] = {
        "queued": True, "queue_reason": reason, "unit_id": None, "updated_at": now,
        "accept_by": None, "resolve_by": None,
    }
    if assignment["unit_id"] is not None:  # returned, or no unit a level up: it leaves
        changes["former_unit_ids"] = with_former_unit(assignment, assignment["unit_id"])
    await store.update_assignment(uow, assignment["event_id"], changes)
    await uow.emit("routing.event_queued", EventQueued(
        event_id=assignment["event_id"], reason=reason,
        region_code=assignment["region_code"], queued_at=now))


async def on_event_reported(uow: UnitOfWork, msg: EventReported, *, now: datetime,
                            cal: WorkingCalendar, fractions: list[float]) -> None:
    initial = {
        "event_id": msg.event_id, "case_no": msg.case_no, "category_code": msg.category_code,
        "major_risk": msg.major_risk, "urgency": msg.urgency, "region_code": msg.region_code,
        "status": "reported", "seq": 0, "queued": False, "updated_at": now, "unit_id": None,
        "sensitive": msg.sensitive,
    }
    # Decided before the row exists, so the usual case (a unit found) is one INSERT.
    decision = await Decision.load(uow, initial, cal, with_units=True)
    target = entry_target(decision.rules, msg.category_code, msg.major_risk)
    region = region_at(msg.region_code, target.level)
    unit = None if target.to_dispatcher or region is None else decision.unit_at(
        region, target.unit_kind)
    if unit is not None:
        await assign(uow, assignment=initial, unit=unit, reason="initial", now=now,
                     base_calendar=cal, fractions=fractions, decision=decision, new=True)
        return
    assignment = await store.insert_assignment(uow, initial)
    if assignment is not None:
        await _queue(uow, assignment, "no_rule", now)


async def dispatch(uow: UnitOfWork, *, principal: Principal, event_id: uuid.UUID,
                   unit_id: uuid.UUID, note: str | None, now: datetime, cal: WorkingCalendar,
                   fractions: list[float], pii: PiiCipher) -> None:
    """The dispatcher assigns a queued case (unmatched, or returned after arbitration)."""
    principal.require_role(Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN)
    async with uow:
        assignment = await load_assignment(uow, event_id)
        principal.require_region(assignment["region_code"])
        if not assignment["queued"]:
            raise illegal("only a queued case is dispatched by hand", "not_queued")
        unit = await store.get_unit(uow, unit_id)
        if unit is None:
            raise NotFound("no such unit", code="unit_not_found")
        await assign(uow, assignment=assignment, unit=unit, reason=_dispatch_reason(assignment),
                     now=now, base_calendar=cal, fractions=fractions, actor_role="dispatcher",
                     note=note, pii=pii, actor_id=principal.subject)


def _dispatch_reason(assignment: Any) -> AssignReason:
    """Why a queued case is given to a unit by hand."""
    if assignment["queue_reason"] == "no_unit_at_next_level":
        return "escalated"  # the case is still being handled; it moves up by hand
    return "redispatch" if assignment["seq"] > 0 else "initial"


async def transfer(uow: UnitOfWork, *, principal: Principal, event_id: uuid.UUID,
                   unit_id: uuid.UUID, reason: str, now: datetime, cal: WorkingCalendar,
                   fractions: list[float], pii: PiiCipher) -> None:
    """转办: the unit holding the case, or a dispatcher over its region, gives it to another
    unit. A dispatcher may also move a case waiting in the queue (as dispatching it would)."""
    async with uow:
        assignment = await load_assignment(uow, event_id)
        actor_role = await _transferring_as(principal, assignment)
        queued = bool(assignment["queued"])
        if not queued and assignment["status"] not in HANDLING:
            raise illegal(f"cannot transfer a case that is {assignment['status']}")
        unit = await store.get_unit(uow, unit_id)
        if unit is None:
            raise NotFound("no such unit", code="unit_not_found")
        if unit["id"] == assignment["unit_id"]:
            raise illegal("the case is already with that unit", "same_unit")
        # The trail names the unit a member transferred for; a dispatcher acts for none.
        acting = await store.get_unit(uow, assignment["unit_id"]) \
            if actor_role == "dept_staff" else None
        await assign(uow, assignment=assignment, unit=unit,
                     reason=_dispatch_reason(assignment) if queued else "transfer", now=now,
                     base_calendar=cal, fractions=fractions, actor_role=actor_role,
                     actor_unit_id=acting["id"] if acting else None, note=reason, pii=pii,
                     actor_id=principal.subject,
                     actor_unit_name=acting["name"] if acting else None)


async def _transferring_as(principal: Principal, assignment: Any) -> str:
    """The role the caller transfers in: a member of the unit holding the case acts for it;
    otherwise a dispatcher must cover the case's region (a queued case has no unit, so only a
    dispatcher moves it). Anyone else is refused as before."""
    unit_id = assignment["unit_id"]
    holds = unit_id is not None and principal.in_department(unit_id)
    if not holds and principal.has_role(Role.DISPATCHER, Role.ADMIN):
        principal.require_region(assignment["region_code"])
        return "dispatcher"
    await require_member(principal, unit_id)
    return "dept_staff"


async def escalate_one_level(uow: UnitOfWork, assignment: Any, *, now: datetime,
                             cal: WorkingCalendar, fractions: list[float], automatic: bool,
                             actor_role: str, note: str | None, pii: PiiCipher | None = None,
                             actor_id: uuid.UUID | None = None) -> bool:
    """Move the case one level up. False when there is no level above (or no unit there, in
    which case the dispatcher gets it). ``note`` and ``pii``: as for ``assign``. ``actor_id``:
    the staff member escalating (None for a timer: the platform); a member of the holding unit
    (``dept_staff``) acts for it, a supervisor or the platform for no unit."""
    current = await store.get_unit(uow, assignment["unit_id"]) if assignment["unit_id"] else None
    if current is None:
        return False
    decision = await Decision.load(uow, assignment, cal, with_units=True)
    try:
        target = escalation_target(decision.rules, assignment["category_code"],
                                   assignment["major_risk"], current["level"])
    except Conflict:  # no level above: an overdue timer only records its supervision
        if automatic:
            return False
        raise
    region = region_at(assignment["region_code"], target.level)
    unit = decision.unit_at(region, target.unit_kind) if region else None
    if unit is None:
        await _queue(uow, assignment, "no_unit_at_next_level", now)
        return False
    acting = current if actor_role == "dept_staff" else None
    await uow.emit("routing.event_escalated", EventEscalated(
        event_id=assignment["event_id"], from_unit_id=current["id"], to_unit_id=unit["id"],
        from_level=current["level"], to_level=unit["level"], automatic=automatic, at=now,
        actor_role=actor_role, actor_id=actor_id,
        actor_unit_id=acting["id"] if acting else None))
    await assign(uow, assignment=assignment, unit=unit, reason="escalated", now=now,
                 base_calendar=cal, fractions=fractions, actor_role=actor_role,
                 actor_unit_id=acting["id"] if acting else None, note=note,
                 automatic=automatic, decision=decision, pii=pii, actor_id=actor_id,
                 actor_unit_name=acting["name"] if acting else None)
    return True


async def escalate(uow: UnitOfWork, *, principal: Principal, event_id: uuid.UUID, reason: str,
                   now: datetime, cal: WorkingCalendar, fractions: list[float], pii: PiiCipher
                   ) -> None:
    """上报: the handling unit (or a supervisor over the case's region) sends it one level up."""
    async with uow:
        assignment = await load_assignment(uow, event_id)
        if principal.has_role(Role.SUPERVISOR) and principal.covers_region(
                assignment["region_code"]):
            role = "supervisor"
        else:
            await require_member(principal, assignment["unit_id"])
            role = "dept_staff"
        if assignment["status"] not in HANDLING:
            raise illegal(f"cannot escalate a case that is {assignment['status']}")
        moved = await escalate_one_level(uow, assignment, now=now, cal=cal,
                                         fractions=fractions, automatic=False,
                                         actor_role=role, note=reason, pii=pii,
                                         actor_id=principal.subject)
        if not moved:
            log.info("escalation_queued", event_id=str(event_id))


async def on_status_changed(uow: UnitOfWork, msg: EventStatusChanged, *, now: datetime,
                            cal: WorkingCalendar, fractions: list[float]) -> None:
    # No row back when routing knows no such case, or when this change is handled after a
    # later step of the same case (consumers run concurrently): that later step already set
    # the status and the clocks; this one would undo them.
    # A step the handling unit took (accept, start, return) that reaches routing after routing
    # gave the case to another unit (transfer, escalation) is the old unit's: events applied
    # it before the new assignment, which then put the case back to dispatched for the new
    # unit. Read as the new unit's, it stopped that unit's accept clock or queued the case.
    unit = msg.actor_unit_id if msg.action in _UNIT_STEPS else None
    assignment = await store.mirror_status(uow, msg.event_id, status=msg.to_status,
                                           step=msg.step, now=now, unit_id=unit)
    if assignment is None:
        return
    event_id = msg.event_id
    if msg.action == "accept":
        await store.cancel_timers(uow, event_id, kinds=["accept"], now=now)
    elif msg.action == "return":
        await _queue(uow, assignment, "returned", now)
    elif msg.action == "submit_result":
        await store.cancel_timers(uow, event_id, kinds=["accept", "resolve", "subtask"], now=now)
    elif msg.to_status in ("closed", "rated", "rejected"):
        await store.cancel_timers(uow, event_id, kinds=["accept", "resolve", "subtask"], now=now)
        await store.update_assignment(uow, event_id, {"queued": False})
        # Nothing is left to answer for: orders still awaiting a reply lapse with the case.
        await lapse_open_supervisions(uow, event_id=event_id, case_status=msg.to_status,
                                      now=now)
    elif msg.to_status == "in_progress" and msg.action in ("verify", "rework"):
        await _restart_resolve_clock(uow, assignment, now=now, cal=cal, fractions=fractions)


async def _restart_resolve_clock(uow: UnitOfWork, assignment: Any, *, now: datetime,
                                 cal: WorkingCalendar, fractions: list[float]) -> None:
    """A failed check or a rework: the unit gets a new resolve-by from now."""
    if assignment["unit_id"] is None:
        return
    decision = await Decision.load(uow, assignment, cal, with_units=False)
    working = decision.calendar
    resolve_by = resolve_deadline(working, decision.policy, now)
    event_id = assignment["event_id"]
    await store.cancel_timers(uow, event_id, kinds=["resolve"], now=now)
    await store.update_assignment(uow, event_id, {"resolve_by": resolve_by})
    await schedule(uow, event_id=event_id, kind="resolve", unit_id=assignment["unit_id"],
                   seq=assignment["seq"], start=now, deadline=resolve_by, cal=working,
                   fractions=fractions)
    await uow.emit("routing.deadline_changed", DeadlineChanged(
        event_id=event_id, unit_id=assignment["unit_id"],
        accept_by=assignment["accept_by"] or now, resolve_by=resolve_by, reason="rework", at=now))
