"""Reading cases and timelines, scoped to the caller, and the audited reporter reveal.

Who sees a case: its reporter; members of its lead or assisting units, and of the units it
has left (escalated, transferred, returned, moved up by a timer: they follow what became of
it, read only); grid workers, dispatchers and supervisors whose regions cover its location;
admins. On sensitive cases only
the reporter sees who reported; everyone else needs an audited reveal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from services.events import messages, store
from services.events.domain import mask_phone
from services.events.schemas import (
    AssigneeRead,
    EventPage,
    EventRead,
    Location,
    ReporterRevealed,
    Timeline,
    TimelineStep,
)
from shared.auth import Principal, Role
from shared.auth.principal import REGION_SCOPED_ROLES, UNIT_SCOPED_ROLES
from shared.context import current_request_id
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.paging import decode_number_cursor, page_of
from shared.pii import PiiCipher, mask_personal_numbers
from shared.problems import NotFound
from shared.regions import descendant_prefix

from .common import load_case
from .intake import phone_context
from .originals import opened_report

log = get_logger(__name__)
# The audit reason of a sensitive tip's case read by the staff handling it.
EVIDENCE_READ = "case read: evidence of a sensitive tip"


def can_see(principal: Principal, row: Any) -> bool:
    """Whether the caller reads the case: everyone who works or oversees it, and the units it
    has left (``former_holder_only``: read only)."""
    return works_or_oversees(principal, row) or former_holder_only(principal, row)


def works_or_oversees(principal: Principal, row: Any) -> bool:
    if row["reporter_id"] == principal.subject:
        return True
    if not principal.is_staff:
        return False
    if principal.has_role(Role.ADMIN):
        return True
    if principal.has_role(*REGION_SCOPED_ROLES) and principal.covers_region(row["region_code"]):
        return True
    units = {row["assignee_unit_id"], *row["co_units"]}
    return principal.has_role(*UNIT_SCOPED_ROLES) and bool(
        units.intersection(principal.departments))


def former_holder_only(principal: Principal, row: Any) -> bool:
    """The caller reads the case only because a unit of theirs held it and it has left them
    (escalated, transferred, returned, moved up by a timer): they follow what became of it,
    but act on nothing (every action checks the current unit) and, on a sensitive tip, see
    neither its evidence as typed nor its attachments."""
    if not (principal.is_staff and principal.has_role(*UNIT_SCOPED_ROLES)):
        return False
    return bool(set(row["former_unit_ids"]).intersection(principal.departments)) and \
        not works_or_oversees(principal, row)


async def visible_case(uow: UnitOfWork, principal: Principal, event_id: uuid.UUID) -> Any:
    """The case if the caller sees it (``can_see``), or 404."""
    row = await load_case(uow, event_id)
    if not can_see(principal, row):
        # Not 403: whether another resident's case exists is itself not to be disclosed.
        raise NotFound("no such event", code="event_not_found")
    return row


def entitled_to_evidence(principal: Principal, row: Any) -> bool:
    """Staff who work a case or oversee it: members of its lead or assisting units,
    supervisors over its region, admins. Dispatchers and grid workers of the region see the
    case but not a sensitive tip's evidence; residents and partner apps are never staff."""
    if not principal.is_staff:
        return False
    if principal.has_role(Role.ADMIN):
        return True
    if principal.has_role(Role.SUPERVISOR) and principal.covers_region(row["region_code"]):
        return True
    units = {row["assignee_unit_id"], *row["co_units"]}
    return principal.has_role(*UNIT_SCOPED_ROLES) and bool(
        units.intersection(principal.departments))


def to_read(principal: Principal, row: Any, phone_keys: set[str], pii: PiiCipher, *,
            evidence: bool = False) -> EventRead:
    """``evidence``: the texts as typed (``get_event`` decides, and audits it)."""
    is_reporter = row["reporter_id"] == principal.subject
    fields = dict(row["fields"])
    for key in phone_keys:
        if key in fields:
            phone = pii.decrypt(str(fields[key]), context=phone_context(key))
            # On sensitive cases only the reporter and the staff handling it see it in full.
            hidden = row["sensitive"] and not (is_reporter or evidence)
            fields[key] = mask_phone(phone) if hidden else phone
    texts = {"description": row["description"], "address": row["address"],
             "result": row["result_text"], "fields": fields}
    if evidence:
        texts = opened_report(pii, row, fields)
    assignee = None
    if row["assignee_unit_id"] is not None:
        assignee = AssigneeRead(unit_id=row["assignee_unit_id"], name=row["assignee_unit_name"],
                                level=row["assignee_unit_level"])
    location = None
    if row["lat"] is not None and row["lng"] is not None:
        location = Location(lat=row["lat"], lng=row["lng"])
    return EventRead(
        id=row["id"], case_no=row["case_no"], status=row["status"],
        category_code=row["category_code"], major_risk=row["major_risk"],
        urgency=row["urgency"], sensitive=row["sensitive"], description=texts["description"],
        region_code=row["region_code"], address=texts["address"], location=location,
        fields=texts["fields"], attachments=list(row["attachment_ids"]),
        reporter_id=row["reporter_id"] if (is_reporter or not row["sensitive"]) else None,
        channel=row["channel"], assignee=assignee, co_handling_units=list(row["co_units"]),
        open_subtasks=len(row["open_subtasks"]), accept_by=row["accept_by"],
        resolve_by=row["resolve_by"], result=texts["result"], rating=row["rating"],
        possible_duplicate_of=row["possible_duplicate_of"], reported_at=row["reported_at"],
        closed_at=row["closed_at"], closed_loop_complete=row["closed_loop_at"] is not None,
    )


async def _phone_keys(uow: UnitOfWork, category_code: str) -> set[str]:
    category = await store.get_category(uow, category_code)
    if category is None:
        return set()
    return {f["key"] for f in category["template"] if f["type"] == "phone"}


async def get_event(uow: UnitOfWork, *, principal: Principal, event_id: uuid.UUID,
                    pii: PiiCipher, now: datetime | None = None) -> EventRead:
    """One case. On a sensitive tip the staff entitled to its evidence read its texts and
    numbers as typed (a reported number is what they work from); the read is audited in
    ``text_reveals`` as the explicit reveal is, in the same transaction. Lists stay masked."""
    async with uow:
        row = await visible_case(uow, principal, event_id)
        phone_keys = await _phone_keys(uow, row["category_code"])
        evidence = bool(row["sensitive"]) and entitled_to_evidence(principal, row)
        if evidence and (row["text_originals"] or phone_keys.intersection(row["fields"])):
            await store.record_text_reveal(
                uow, event_id=event_id, revealed_by=principal.subject,
                role=principal.accountable_role(), reason=EVIDENCE_READ,
                request_id=current_request_id(), at=now or datetime.now(UTC))
        return to_read(principal, row, phone_keys, pii, evidence=evidence)


async def list_events(
    uow: UnitOfWork,
    *,
    principal: Principal,
    status: str | None,
    cursor: str | None,
    limit: int,
    pii: PiiCipher,
    words: str | None = None,
    handled_before: bool | None = None,
) -> EventPage:
    after = decode_number_cursor(cursor)  # a case's seq
    staff = principal.is_staff
    regions = (
        [descendant_prefix(r) for r in principal.regions]
        if staff and principal.has_role(*REGION_SCOPED_ROLES) else []
    )
    units = list(principal.departments) if staff and principal.has_role(*UNIT_SCOPED_ROLES) else []
    async with uow:
        rows = await store.list_cases(
            uow, reporter_id=principal.subject, unit_ids=units, region_prefixes=regions,
            see_all=staff and principal.has_role(Role.ADMIN), status=status, cursor=after,
            limit=limit + 1, words=words.strip() if words and words.strip() else None,
            handled_before=handled_before,
        )
        rows = [r for r in rows if can_see(principal, r)]  # prefixes are coarse: recheck
        page, next_cursor = page_of(rows, limit, lambda row: str(row["seq"]))
        items = [to_read(principal, r, await _phone_keys(uow, r["category_code"]), pii)
                 for r in page]
    return EventPage(items=items, next_cursor=next_cursor)


async def get_timeline(
    uow: UnitOfWork, *, principal: Principal, event_id: uuid.UUID
) -> Timeline:
    async with uow:
        row = await visible_case(uow, principal, event_id)
        steps = await store.steps(uow, event_id)
    staff = principal.is_staff
    # On a sensitive tip the reporter's own steps (the report itself) do not name them to
    # anyone but the reporter: that takes an audited reveal.
    hidden = row["reporter_id"] if row["sensitive"] and row["reporter_id"] != principal.subject \
        else None
    return Timeline(items=[_timeline_step(s, staff=staff, hidden=hidden) for s in steps])


def _timeline_step(s: Any, *, staff: bool, hidden: uuid.UUID | None) -> TimelineStep:
    """One step as the caller reads it: the action and status codes with their Chinese title
    and label from the catalog. Residents read the notes people wrote, not the platform's
    bookkeeping notes (English, for staff)."""
    note = s["note"] if staff else messages.resident_note(s["action"], s["actor_role"],
                                                          s["note"])
    return TimelineStep(
        at=s["at"], action=s["action"], title=messages.step_title(s["action"]),
        actor_role=s["actor_role"], actor_unit=s["actor_unit"], note=note,
        status=s["to_status"], status_label=messages.status_label(s["to_status"]),
        # Residents see roles and units, never which staff member acted.
        actor_id=s["actor_id"] if staff and s["actor_id"] != hidden else None,
    )


async def reveal_reporter(
    uow: UnitOfWork, *, principal: Principal, event_id: uuid.UUID, reason: str, now: datetime
) -> ReporterRevealed:
    principal.require_role(Role.SUPERVISOR, Role.ADMIN)
    async with uow:
        row = await load_case(uow, event_id)
        principal.require_region(row["region_code"])
        await store.record_reveal(
            uow, event_id=event_id, revealed_by=principal.subject,
            role=Role.ADMIN if principal.has_role(Role.ADMIN) else Role.SUPERVISOR,
            reason=mask_personal_numbers(reason), at=now,
        )
    log.warning("reporter_revealed", event_id=str(event_id), by=str(principal.subject))
    return ReporterRevealed(event_id=event_id, reporter_id=row["reporter_id"])
