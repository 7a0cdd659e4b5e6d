"""The staff inbox: routing's decisions turned into notices for the staff they concern.

A notice is addressed either to roles over one region (supervisors: 督办 and overdue
supervisions; dispatchers: escalations and cases returned to them), to the staff of one
unit (a new case in its queue, a deadline warning, a manual 督办, a co-handling request), or
to one staff member by name (a grid task given to a grid worker).
In the in-app inbox a notice is one row, not one per person: whoever holds the role over
that region or belongs to that unit — now or after a re-scope — sees it, and each reader
keeps their own read mark. The same notice also goes to the WeChat of each active staff
member of its audience who bound one, as identity's staff directory tells feedback
(service/staff_directory.py): one delivery per person, queued in the transaction that
records the notice and sent later by the sender worker, so WeChat being slow or down never
holds back the message that caused it. One notice per cause (a record id, an assignment's
seq, a message), so a redelivered or republished message adds nothing, on WeChat either.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from services.feedback import messages
from services.feedback.service import staff_directory
from services.feedback.service.notifications import after_created
from services.feedback.service.scorecards import region_like
from services.feedback.store import staff_notices as store
from shared.auth.principal import Principal, Role
from shared.contracts.routing import (
    CoHandlingStarted,
    DeadlineWarning,
    EventAssigned,
    EventEscalated,
    EventOverdue,
    EventQueued,
    GridTaskAssigned,
    SupervisionIssued,
    SupervisionOverdue,
)
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.messaging.envelope import Envelope
from shared.paging import decode_moment_cursor, page_of
from shared.pii import mask_personal_numbers
from shared.problems import NotFound
from shared.regions import is_region_code

log = get_logger(__name__)

# Addressed to roles over a region.
SUPERVISION = "supervision"
ESCALATION = "escalation"
RETURNED = "returned"
QUEUED = "queued"
SUPERVISION_OVERDUE = "supervision_overdue"
# Addressed to a unit's staff.
ASSIGNED = "assigned"
DEADLINE_WARNING = "deadline_warning"
SUPERVISION_ISSUED = "supervision_issued"
CO_HANDLING = "co_handling"
# Addressed to one staff member: a grid task given to a grid worker.
GRID_TASK = "grid_task"
# 督办 is the supervisors' instrument; an escalation also concerns the dispatchers of the
# level that receives the case; a case nobody holds waits for the dispatchers.
AUDIENCE: dict[str, list[str]] = {
    SUPERVISION: [Role.SUPERVISOR.value],
    SUPERVISION_OVERDUE: [Role.SUPERVISOR.value],
    ESCALATION: [Role.SUPERVISOR.value, Role.DISPATCHER.value],
    RETURNED: [Role.DISPATCHER.value],
    QUEUED: [Role.DISPATCHER.value],
}
REGION_AUDIENCE = (Role.SUPERVISOR.value, Role.DISPATCHER.value)
# Everyone who works a unit's queue: its clerks, its admin, a grid worker of a grid unit.
UNIT_AUDIENCE = [Role.DEPT_STAFF.value, Role.DEPT_ADMIN.value, Role.GRID_WORKER.value]
STAFF_ROLES = (Role.SUPERVISOR, Role.DISPATCHER, Role.ADMIN, Role.DEPT_STAFF,
               Role.DEPT_ADMIN, Role.GRID_WORKER)


async def _record(uow: UnitOfWork, row: dict[str, Any]) -> bool:
    """Add the notice (once per ``source_key``) and queue it for its audience's WeChat."""
    added = await store.add(uow, row)
    if added:
        await staff_directory.queue_wechat(uow, row)
    return added


class CaseRegionUnknown(RuntimeError):
    """An escalation arrived before anything told feedback where the case is: the message
    is retried (the assignment and the report are on their way on another queue)."""


async def record_for_overdue(uow: UnitOfWork, envelope: Envelope) -> bool:
    """Tell the supervisors of ``supervisor_region_code`` that a deadline passed and a
    supervision record exists. One notice per supervision record."""
    overdue = envelope.payload_as(EventOverdue)
    title, body = messages.overdue_notice(overdue.kind, overdue.deadline)
    added = await _record(uow, {
        "id": uuid.uuid4(),
        "kind": SUPERVISION,
        "audience": AUDIENCE[SUPERVISION],
        "region_code": overdue.supervisor_region_code,
        "event_id": overdue.event_id,
        "unit_id": overdue.unit_id,
        "title": title,
        "body": body,
        "source_key": f"supervision:{overdue.supervision_id}",
        "occurred_at": overdue.at,
        "created_at": datetime.now(UTC),
    })
    if added:
        log.info("supervision_notice", event_id=str(overdue.event_id),
                 region_code=overdue.supervisor_region_code)
    return added


async def record_for_escalation(uow: UnitOfWork, envelope: Envelope) -> bool:
    """Tell the supervisors and dispatchers over the unit that now holds the case (its
    region, or the case's own when that unit is not yet known here)."""
    escalated = envelope.payload_as(EventEscalated)
    region = await store.unit_region(uow, escalated.to_unit_id)
    if region is None:
        region = await store.case_region(uow, escalated.event_id)
    if region is None:
        raise CaseRegionUnknown(f"no region known yet for case {escalated.event_id}")
    title, body = messages.escalation_notice(
        escalated.from_level, escalated.to_level, automatic=escalated.automatic)
    added = await _record(uow, {
        "id": uuid.uuid4(),
        "kind": ESCALATION,
        "audience": AUDIENCE[ESCALATION],
        "region_code": region,
        "event_id": escalated.event_id,
        "unit_id": escalated.to_unit_id,
        "title": title,
        "body": body,
        "source_key": f"msg:{envelope.event_id}",
        "occurred_at": escalated.at,
        "created_at": datetime.now(UTC),
    })
    return added


def _notice(
    kind: str, *, event_id: uuid.UUID, title: str, body: str, source_key: str,
    occurred_at: datetime, region_code: str | None, unit_id: uuid.UUID | None = None,
    addressed_unit_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """A notice row: to ``addressed_unit_id``'s staff when given, else to the kind's roles
    over ``region_code``."""
    return {
        "id": uuid.uuid4(), "kind": kind, "event_id": event_id, "unit_id": unit_id,
        "audience": UNIT_AUDIENCE if addressed_unit_id is not None else AUDIENCE[kind],
        "addressed_unit_id": addressed_unit_id, "region_code": region_code,
        "title": title, "body": body[:500], "source_key": source_key,
        "occurred_at": occurred_at, "created_at": datetime.now(UTC),
    }


async def record_for_assignment(uow: UnitOfWork, envelope: Envelope) -> bool:
    """A case entered the unit's queue (first dispatch, redispatch, transfer, escalation):
    one notice per assignment (its ``seq``) to the unit's staff."""
    assigned = envelope.payload_as(EventAssigned)
    title, body = messages.assigned_notice(assigned.reason, assigned.accept_by)
    return await _record(uow, _notice(
        ASSIGNED, event_id=assigned.event_id, title=title, body=body,
        source_key=f"assigned:{assigned.event_id}:{assigned.seq}",
        occurred_at=assigned.assigned_at, region_code=assigned.unit.region_code,
        unit_id=assigned.unit.unit_id, addressed_unit_id=assigned.unit.unit_id,
    ))


async def record_for_queued(uow: UnitOfWork, envelope: Envelope) -> bool:
    """A case waits for the dispatchers of its region (returned, or no unit found)."""
    queued = envelope.payload_as(EventQueued)
    kind = RETURNED if queued.reason == "returned" else QUEUED
    title, body = messages.queued_notice(kind, queued.reason)
    return await _record(uow, _notice(
        kind, event_id=queued.event_id, title=title, body=body,
        source_key=f"msg:{envelope.event_id}",
        occurred_at=queued.queued_at, region_code=queued.region_code,
    ))


async def _unit_or_case_region(
    uow: UnitOfWork, unit_id: uuid.UUID, event_id: uuid.UUID
) -> str | None:
    return await store.unit_region(uow, unit_id) or await store.case_region(uow, event_id)


async def record_for_deadline_warning(uow: UnitOfWork, envelope: Envelope) -> bool:
    """A deadline of the unit's case is near: one notice per deadline and warning step."""
    warning = envelope.payload_as(DeadlineWarning)
    title, body = messages.deadline_warning_notice(
        warning.kind, warning.deadline, warning.fraction)
    return await _record(uow, _notice(
        DEADLINE_WARNING, event_id=warning.event_id, title=title, body=body,
        source_key=f"warning:{warning.event_id}:{warning.unit_id}:{warning.kind}:"
                   f"{warning.deadline.isoformat()}:{warning.fraction:.3f}",
        occurred_at=warning.at,
        region_code=await _unit_or_case_region(uow, warning.unit_id, warning.event_id),
        unit_id=warning.unit_id, addressed_unit_id=warning.unit_id,
    ))


async def record_for_supervision_issued(uow: UnitOfWork, envelope: Envelope) -> bool:
    """A supervisor's 督办 to the unit holding the case: one notice per supervision."""
    issued = envelope.payload_as(SupervisionIssued)
    title, body = messages.supervision_issued_notice(
        issued.level, issued.reply_by, issued.instruction)
    return await _record(uow, _notice(
        SUPERVISION_ISSUED, event_id=issued.event_id, title=title, body=body,
        source_key=f"manual_supervision:{issued.supervision_id}", occurred_at=issued.at,
        region_code=await store.unit_region(uow, issued.unit_id) or issued.region_code,
        unit_id=issued.unit_id, addressed_unit_id=issued.unit_id,
    ))


async def record_for_supervision_overdue(uow: UnitOfWork, envelope: Envelope) -> bool:
    """A 督办 went unanswered: the supervisors one level up are told, once."""
    overdue = envelope.payload_as(SupervisionOverdue)
    title, body = messages.supervision_overdue_notice(overdue.level, overdue.reply_by)
    return await _record(uow, _notice(
        SUPERVISION_OVERDUE, event_id=overdue.event_id, title=title, body=body,
        source_key=f"supervision_overdue:{overdue.supervision_id}", occurred_at=overdue.at,
        region_code=overdue.supervisor_region_code, unit_id=overdue.unit_id,
    ))


async def record_for_co_handling(uow: UnitOfWork, envelope: Envelope) -> int:
    """Each assisting unit is asked for its sub-task: one notice per sub-task."""
    started = envelope.payload_as(CoHandlingStarted)
    lead = await store.unit_name(uow, started.lead_unit_id)
    added = 0
    for subtask in started.subtasks:
        title, body = messages.co_handling_notice(lead, subtask.due_at)
        added += await _record(uow, _notice(
            CO_HANDLING, event_id=started.event_id, title=title, body=body,
            source_key=f"subtask:{subtask.subtask_id}", occurred_at=started.at,
            region_code=subtask.unit.region_code, unit_id=started.lead_unit_id,
            addressed_unit_id=subtask.unit.unit_id,
        ))
    return added


async def record_for_grid_task(uow: UnitOfWork, envelope: Envelope) -> bool:
    """A grid task (from a manager, a case to verify on site, or one handed over when a
    colleague left) now belongs to this worker: one notice to them alone per task, worker
    and moment of assignment, so a redelivered or republished message adds nothing."""
    assigned = envelope.payload_as(GridTaskAssigned)
    title, body = messages.grid_task_notice(
        assigned.kind, assigned.reason, mask_personal_numbers(assigned.title),
        assigned.due_at)
    row = {
        "id": uuid.uuid4(), "kind": GRID_TASK, "audience": [Role.GRID_WORKER.value],
        "region_code": assigned.grid_code, "event_id": assigned.event_id, "unit_id": None,
        "addressed_unit_id": None, "addressed_user_id": assigned.worker_id,
        "grid_task_id": assigned.task_id, "title": title[:100], "body": body[:500],
        "source_key": f"grid_task:{assigned.task_id}:{assigned.worker_id}:"
                      f"{assigned.at.isoformat()}",
        "occurred_at": assigned.at, "created_at": datetime.now(UTC),
    }
    return await _record(uow, row)


def _reader(principal: Principal) -> store.Reader:
    principal.require_role(*STAFF_ROLES)
    if principal.has_role(Role.ADMIN):
        return store.Reader(principal.subject, REGION_AUDIENCE, None, UNIT_AUDIENCE, None)
    roles = [r for r in REGION_AUDIENCE if principal.has_role(r)]
    patterns = [region_like(code) for code in sorted(principal.regions) if is_region_code(code)]
    unit_roles = [r for r in UNIT_AUDIENCE if principal.has_role(r)]
    return store.Reader(principal.subject, roles, patterns, unit_roles, principal.departments)


async def list_for_staff(
    *, uow: UnitOfWork, principal: Principal, limit: int, cursor: str | None,
    unread_only: bool,
) -> tuple[list[Any], str | None]:
    reader = _reader(principal)
    after = decode_moment_cursor(cursor)
    async with uow:
        rows = await store.page_for_staff(
            uow, reader, limit=limit + 1, after=after, unread_only=unread_only)
    return page_of(rows, limit, after_created)


async def unread_count(*, uow: UnitOfWork, principal: Principal) -> int:
    reader = _reader(principal)
    async with uow:
        return await store.unread_count(uow, reader)


async def mark_all_read(*, uow: UnitOfWork, principal: Principal) -> int:
    reader = _reader(principal)
    async with uow:
        return await store.mark_all_read(uow, reader, at=datetime.now(UTC))


async def mark_read(*, uow: UnitOfWork, principal: Principal, notice_id: uuid.UUID) -> Any:
    reader = _reader(principal)
    async with uow:
        row = await store.mark_read(uow, reader, notice_id=notice_id, at=datetime.now(UTC))
    if row is None:
        # Not 403: a notice outside the caller's scope is not theirs to know of.
        raise NotFound("no such notice", code="staff_notice_not_found")
    return row
