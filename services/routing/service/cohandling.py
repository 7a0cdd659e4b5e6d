"""Extensions (延期: the unit asks, a supervisor decides) and co-handling (部门协同: the lead
unit opens sub-tasks for assisting units, each answered or timed out)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from services.routing import store
from services.routing.domain import HANDLING
from services.routing.store import subtasks
from shared.auth import Principal, Role
from shared.auth.principal import REGION_SCOPED_ROLES
from shared.calendar import WorkingCalendar
from shared.contracts.routing import (
    CoHandlingStarted,
    ExtensionDecided,
    ExtensionRequested,
    SubtaskClosed,
    SubtaskRef,
)
from shared.db.uow import UnitOfWork
from shared.paging import decode_moment_cursor, moment_cursor, page_of
from shared.pii import PiiCipher
from shared.problems import Forbidden, NotFound

from .common import calendar, illegal, invalid, load_assignment, require_member, schedule, unit_ref
from .originals import extension_field, protect, subtask_field
from .unit_counts import COUNT_ROLES, day_span, readable_by


async def request_extension(uow: UnitOfWork, *, principal: Principal, event_id: uuid.UUID,
                            extra_working_hours: float, reason: str, now: datetime,
                            pii: PiiCipher) -> uuid.UUID:
    async with uow:
        assignment = await load_assignment(uow, event_id)
        await require_member(principal, assignment["unit_id"])
        if assignment["status"] not in HANDLING:
            raise illegal(f"cannot extend a case that is {assignment['status']}")
        request_id = uuid.uuid4()
        masked, sealed = protect(pii, event_id, extension_field(request_id), reason)
        await store.insert_extension(uow, {
            "id": request_id, "event_id": event_id, "unit_id": assignment["unit_id"],
            "extra_working_hours": extra_working_hours, "reason": masked,
            "reason_original": sealed, "status": "pending",
            "requested_by": principal.subject, "created_at": now,
        })
        await uow.emit("routing.extension_requested", ExtensionRequested(
            event_id=event_id, request_id=request_id, unit_id=assignment["unit_id"],
            extra_working_hours=extra_working_hours, at=now))
    return request_id


async def decide_extension(uow: UnitOfWork, *, principal: Principal, request_id: uuid.UUID,
                           approve: bool, now: datetime, cal: WorkingCalendar,
                           fractions: list[float]) -> None:
    principal.require_role(Role.SUPERVISOR, Role.ADMIN)
    async with uow:
        request = await store.get_extension(uow, request_id)
        if request is None:
            raise NotFound("no such extension request", code="extension_not_found")
        assignment = await load_assignment(uow, request["event_id"])
        principal.require_region(assignment["region_code"])
        if request["status"] != "pending":
            raise illegal("this request was already decided", "extension_decided")
        resolve_by = assignment["resolve_by"]
        stale = request["unit_id"] != assignment["unit_id"] or assignment["status"] not in HANDLING
        if approve and stale:
            raise illegal("the case has moved on since the request", "extension_stale")
        if approve:
            working = await calendar(uow, cal)
            resolve_by = working.add_working_hours(resolve_by, request["extra_working_hours"])
            await store.cancel_timers(uow, assignment["event_id"], kinds=["resolve"], now=now)
            await store.update_assignment(uow, assignment["event_id"],
                                          {"resolve_by": resolve_by, "updated_at": now})
            await schedule(uow, event_id=assignment["event_id"], kind="resolve",
                           unit_id=assignment["unit_id"], seq=assignment["seq"], start=now,
                           deadline=resolve_by, cal=working, fractions=fractions)
        await store.update_extension(uow, request_id, {
            "status": "approved" if approve else "rejected", "decided_by": principal.subject,
            "decided_at": now})
        await uow.emit("routing.extension_decided", ExtensionDecided(
            event_id=assignment["event_id"], request_id=request_id, unit_id=request["unit_id"],
            approved=approve, resolve_by=resolve_by, at=now))


async def start_co_handling(uow: UnitOfWork, *, principal: Principal, event_id: uuid.UUID,
                            unit_ids: list[uuid.UUID], task: str, due_working_hours: float,
                            now: datetime, cal: WorkingCalendar, pii: PiiCipher
                            ) -> list[uuid.UUID]:
    async with uow:
        assignment = await load_assignment(uow, event_id)
        await require_member(principal, assignment["unit_id"])
        if assignment["status"] not in HANDLING:
            raise illegal(f"cannot co-handle a case that is {assignment['status']}")
        if assignment["unit_id"] in unit_ids or len(set(unit_ids)) != len(unit_ids):
            raise invalid("assisting units are other units, each once", "assisting_units_invalid")
        working = await calendar(uow, cal)
        due = working.add_working_hours(now, due_working_hours)
        refs, rows = [], []
        for unit_id in unit_ids:
            unit = await store.get_unit(uow, unit_id)
            if unit is None:
                raise NotFound("no such unit", code="unit_not_found")
            subtask_id = uuid.uuid4()
            masked, sealed = protect(pii, event_id, subtask_field(subtask_id, "task"), task)
            rows.append({"id": subtask_id, "event_id": event_id,
                         "lead_unit_id": assignment["unit_id"], "unit_id": unit_id,
                         "task": masked, "task_original": sealed, "due_at": due,
                         "status": "open", "created_at": now})
            refs.append(SubtaskRef(subtask_id=subtask_id, unit=unit_ref(unit), due_at=due))
        await store.insert_subtasks(uow, rows)
        for ref in refs:
            await store.add_timers(uow, [{
                "event_id": event_id, "kind": "subtask", "fraction": 1.0, "fire_at": due,
                "deadline": due, "unit_id": ref.unit.unit_id, "subtask_id": ref.subtask_id,
                "seq": assignment["seq"]}])
        await uow.emit("routing.co_handling_started", CoHandlingStarted(
            event_id=event_id, lead_unit_id=assignment["unit_id"], subtasks=refs, at=now))
    return [r.subtask_id for r in refs]


async def answer_subtask(uow: UnitOfWork, *, principal: Principal, subtask_id: uuid.UUID,
                         answer: str, now: datetime, pii: PiiCipher,
                         attachment_ids: Sequence[uuid.UUID] = ()) -> None:
    """Staff of the assisting unit answer, naming the attachments (events' ids) it points at;
    who answered is recorded for the lead unit's case page."""
    async with uow:
        subtask = await store.get_subtask(uow, subtask_id)
        if subtask is None:
            raise NotFound("no such sub-task", code="subtask_not_found")
        if not principal.in_department(subtask["unit_id"]):
            raise Forbidden("this sub-task belongs to another unit", code="not_assigned")
        if subtask["status"] != "open":
            raise illegal(f"this sub-task is {subtask['status']}", "subtask_closed")
        masked, sealed = protect(pii, subtask["event_id"], subtask_field(subtask_id, "answer"),
                                 answer)
        linked = list(dict.fromkeys(attachment_ids))
        await store.close_subtask(uow, subtask_id, {
            "status": "answered", "answer": masked, "answer_original": sealed, "closed_at": now,
            "answered_by": principal.subject, "answer_attachment_ids": linked})
        await store.cancel_timers(uow, subtask["event_id"], kinds=["subtask"], now=now,
                                  subtask_id=subtask_id)
        unit = await store.get_any_unit(uow, subtask["unit_id"])
        # Who, for which unit and with what: events names the unit on the case's step and
        # links the attachments so the lead unit can open them.
        await uow.emit("routing.subtask_closed", SubtaskClosed(
            event_id=subtask["event_id"], subtask_id=subtask_id, unit_id=subtask["unit_id"],
            outcome="answered", at=now, answered_by=principal.subject,
            unit_name=unit["name"] if unit is not None else None, attachment_ids=linked))


# -- the assisting unit's queue, the case page, the scorecard ---------------------------------

CASE_LIST_LIMIT = 200


def _oversees(principal: Principal, region_code: str | None) -> bool:
    """A supervisor over the region (admins: everywhere)."""
    return (principal.has_role(Role.SUPERVISOR, Role.ADMIN) and region_code is not None
            and principal.covers_region(region_code))


async def _queue_units(uow: UnitOfWork, principal: Principal, unit_id: uuid.UUID | None
                       ) -> list[uuid.UUID]:
    """Whose sub-tasks the caller lists: the named unit (its staff, supervisors over it,
    admins), or, unnamed, the caller's own units."""
    if unit_id is None:
        if not principal.is_staff or not principal.departments:
            raise Forbidden("you belong to no unit: name one with unit_id", code="out_of_scope")
        return list(principal.departments)
    unit = await store.get_any_unit(uow, unit_id)
    if unit is None:
        raise NotFound("no such unit", code="unit_not_found")
    if not (principal.in_department(unit_id) or _oversees(principal, unit["region_code"])):
        raise Forbidden("this unit is outside your scope", code="out_of_scope")
    return [unit_id]


async def unit_subtasks(uow: UnitOfWork, *, principal: Principal, unit_id: uuid.UUID | None,
                        state: subtasks.SubtaskFilter | None, cursor: str | None, limit: int,
                        now: datetime) -> tuple[list[Any], str | None]:
    """An assisting unit's work queue of sub-tasks, nearest due first, a page at a time."""
    after = decode_moment_cursor(cursor)
    async with uow:
        unit_ids = await _queue_units(uow, principal, unit_id)
        rows = await subtasks.subtasks_of_units(uow, unit_ids, state=state, now=now,
                                                after=after, limit=limit + 1)
    return page_of(rows, limit, lambda r: moment_cursor(r["due_at"], r["id"]))


async def open_subtask(uow: UnitOfWork, *, principal: Principal, subtask_id: uuid.UUID
                       ) -> Any:
    """One sub-task: for the assisting and the lead unit's staff, supervisors over the case.
    Anyone else is told it does not exist (whether it does is not disclosed)."""
    async with uow:
        row = await subtasks.subtask_view(uow, subtask_id)
    if row is None or not (principal.in_department(row["unit_id"])
                           or principal.in_department(row["lead_unit_id"])
                           or _oversees(principal, row["region_code"])):
        raise NotFound("no such sub-task", code="subtask_not_found")
    return row


async def case_subtasks(uow: UnitOfWork, *, principal: Principal, event_id: uuid.UUID
                        ) -> list[Any]:
    """A case's sub-tasks and their answers, for its page: all of them for the units that led
    them, hold the case or have left it (read only) and staff over its region; an assisting
    unit sees its own."""
    async with uow:
        assignment = await store.get_assignment(uow, event_id, lock=False)
        if assignment is None:
            raise NotFound("routing knows no such event", code="event_not_found")
        rows = await subtasks.subtasks_of_case(uow, event_id, CASE_LIST_LIMIT)
    leads = {assignment["unit_id"], *(r["lead_unit_id"] for r in rows),
             *assignment["former_unit_ids"]} - {None}
    # Region-scoped staff (dispatchers, supervisors, grid workers) oversee the case; a unit's
    # own staff carry a region too, but see only what their unit led or assisted.
    over_region = (principal.has_role(*REGION_SCOPED_ROLES, Role.ADMIN)
                   and principal.covers_region(assignment["region_code"]))
    if over_region or any(principal.in_department(u) for u in leads):
        return rows
    own = [r for r in rows if principal.in_department(r["unit_id"])]
    if not own:
        raise Forbidden("this case is outside your scope", code="out_of_scope")
    return own


async def cohandling_counts(uow: UnitOfWork, *, principal: Principal, first: date, last: date,
                            now: datetime) -> list[Any]:
    """Per assisting unit, the sub-tasks asked of it from ``first`` to ``last`` (Shanghai days,
    inclusive): for the unit's own staff and staff whose regions hold the unit."""
    principal.require_role(*COUNT_ROLES)
    start, end = day_span(first, last)
    async with uow:
        rows = await subtasks.counts_by_unit(uow, start=start, end=end, now=now)
    return readable_by(principal, rows)
