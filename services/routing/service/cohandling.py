"""Extensions (延期: the unit asks, a supervisor decides) and co-handling (部门协同: the lead
unit opens sub-tasks for assisting units, each answered or timed out)."""

from __future__ import annotations

import uuid
from datetime import datetime

from services.routing import store
from services.routing.domain import HANDLING
from shared.auth import Principal, Role
from shared.calendar import WorkingCalendar
from shared.contracts.routing import (
    CoHandlingStarted,
    ExtensionDecided,
    ExtensionRequested,
    SubtaskClosed,
    SubtaskRef,
)
from shared.db.uow import UnitOfWork
from shared.pii import PiiCipher
from shared.problems import Forbidden, NotFound

from .common import calendar, illegal, invalid, load_assignment, require_member, schedule, unit_ref
from .originals import extension_field, protect, subtask_field


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
                         answer: str, now: datetime, pii: PiiCipher) -> None:
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
        await store.close_subtask(uow, subtask_id, {"status": "answered", "answer": masked,
                                                    "answer_original": sealed, "closed_at": now})
        await store.cancel_timers(uow, subtask["event_id"], kinds=["subtask"], now=now,
                                  subtask_id=subtask_id)
        await uow.emit("routing.subtask_closed", SubtaskClosed(
            event_id=subtask["event_id"], subtask_id=subtask_id, unit_id=subtask["unit_id"],
            outcome="answered", at=now))
