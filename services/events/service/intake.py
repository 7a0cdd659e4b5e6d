"""Intake: the category tree and the report that opens a case (uploads: attachments.py)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from services.events import messages, store
from services.events.domain import (
    Actor,
    TemplateField,
    case_number,
    similar_text,
    validate_fields,
)
from services.events.schemas import CategoryRead, CategoryUpsert, EventCreate, EventCreated
from shared.auth import Principal, Role
from shared.calendar import SHANGHAI
from shared.contracts.events import EventReported, ReporterSeal
from shared.db import idempotency
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.pii import PiiCipher, mask_personal_numbers
from shared.problems import (
    BadRequest,
    Forbidden,
    NotFound,
    RuleViolation,
)
from shared.regions import is_region_code, region_level

from .common import Clock, Step
from .originals import protect_report

log = get_logger(__name__)
REPORTER_ROLES = (Role.RESIDENT, Role.GRID_WORKER)
DUPLICATE_CANDIDATES, DUPLICATE_PAGE = 200, 20


def phone_context(key: str) -> str:
    return f"event_field:{key}"


def template_of(row: Any) -> list[TemplateField]:
    return [
        TemplateField(
            key=f["key"],
            label=f["label"],
            type=f["type"],
            required=bool(f.get("required")),
            choices=tuple(f.get("choices") or ()),
        )
        for f in row["template"]
    ]


async def category_tree(uow: UnitOfWork) -> list[CategoryRead]:
    async with uow:
        rows = await store.all_categories(uow)
    nodes = {
        r["code"]: CategoryRead(
            code=r["code"], name=r["name"], parent_code=r["parent_code"],
            major_risk=r["major_risk"], default_urgency=r["default_urgency"],
            sensitive=r["sensitive"], verified_only=r["verified_only"],
            template=r["template"], sort=r["sort"],
        )
        for r in rows
    }
    roots = []
    for node in nodes.values():
        parent = nodes.get(node.parent_code) if node.parent_code else None
        if parent is not None:
            parent.children.append(node)
        elif node.parent_code is None:
            roots.append(node)
    return roots


async def upsert_category(uow: UnitOfWork, *, code: str, cmd: CategoryUpsert) -> None:
    """Admins grow the tree under the five major risks; a new top level is refused so every
    case stays classified under one of them (the first of the four musts)."""
    async with uow:
        major_risk = code
        if cmd.parent_code is None:
            existing = await store.get_category(uow, code)
            if existing is None or existing["parent_code"] is not None:
                raise RuleViolation(
                    "new categories go under one of the five major risks",
                    code="major_risk_required",
                )
        else:
            parent = await store.get_category(uow, cmd.parent_code)
            if parent is None:
                raise NotFound("no such parent category", code="category_not_found")
            major_risk = parent["major_risk"]
        await store.upsert_category(
            uow,
            {
                "code": code, "parent_code": cmd.parent_code, "name": cmd.name,
                "major_risk": major_risk, "default_urgency": cmd.default_urgency,
                "sensitive": cmd.sensitive, "verified_only": cmd.verified_only,
                "template": [f.model_dump() for f in cmd.template], "active": cmd.active,
                "sort": cmd.sort,
            },
        )


def _check_region(principal: Principal, code: str) -> None:
    if not is_region_code(code) or region_level(code) not in ("community", "grid"):
        raise RuleViolation(
            "region_code must be a community (12 digits) or grid (15 digits) code",
            code="region_invalid",
        )
    if principal.has_role(Role.GRID_WORKER) and not principal.has_role(Role.RESIDENT):
        # A grid worker reports inside the grid they serve.
        principal.require_region(code)


async def report_event(
    uow: UnitOfWork,
    *,
    principal: Principal,
    cmd: EventCreate,
    idempotency_key: str | None,
    clock: Clock,
    case_prefix: str,
    duplicate_window: timedelta,
    pii: PiiCipher,
    reporter_seal: ReporterSeal,
) -> tuple[int, dict[str, Any]]:
    principal.require_role(*REPORTER_ROLES)
    _check_region(principal, cmd.region_code)

    recorded: list[EventCreated] = []

    async def record() -> tuple[int, EventCreated]:
        recorded.append(await _record_report(
            uow, principal=principal, cmd=cmd, now=clock(), case_prefix=case_prefix,
            duplicate_window=duplicate_window, pii=pii, reporter_seal=reporter_seal))
        return 201, recorded[0]

    async with uow:
        status, created = await idempotency.once(
            uow, scope=f"events.report:{principal.subject}", key=idempotency_key, request=cmd,
            answer=EventCreated, work=record)
    if recorded:  # committed now; a replay recorded nothing
        log.info("event_reported", event_id=str(created.id), category=cmd.category_code)
    return status, created.model_dump(mode="json")


async def _record_report(
    uow: UnitOfWork,
    *,
    principal: Principal,
    cmd: EventCreate,
    now: datetime,
    case_prefix: str,
    duplicate_window: timedelta,
    pii: PiiCipher,
    reporter_seal: ReporterSeal,
) -> EventCreated:
    """The case file, its first timeline step and its events, in the caller's transaction."""
    category, first_candidates = await store.report_context(
        uow, code=cmd.category_code, region_code=cmd.region_code,
        since=now - duplicate_window, limit=DUPLICATE_PAGE,
    )
    category = _reportable_category(principal, category)
    template, fields = _checked_fields(category, cmd, pii)
    event_id = uuid.uuid4()
    await _claim_attachments(uow, principal, cmd, event_id)
    case_no = await _next_case_number(uow, now, case_prefix)
    duplicate_of = await _possible_duplicate(
        uow, cmd, mask_personal_numbers(cmd.description), now - duplicate_window,
        first_candidates)
    channel = _channel(principal)
    # A sensitive tip names its reporter on the bus only sealed for feedback (progress
    # notices, the rating); sealed once, every message of the case carries the same value.
    sealed = reporter_seal.seal(event_id, principal.subject) if category["sensitive"] \
        else None
    row = _case_row(
        cmd, principal, category, event_id=event_id, case_no=case_no, fields=fields,
        channel=channel, sealed=sealed, duplicate_of=duplicate_of, now=now)
    # Phone and ID numbers typed into the texts are stored masked, originals encrypted.
    protect_report(pii, event_id, row, [s.key for s in template if s.type == "text"])
    actor = Actor(role=channel, subject=principal.subject)
    note = messages.NOTE_POSSIBLE_DUPLICATE if duplicate_of else None
    first_step = Step(at=now, action="report", actor=actor, from_status=None,
                      to_status="reported", note=note)
    await store.insert_case(uow, row, first_step.values(row))
    await _announce_report(uow, row, category, principal)
    return EventCreated(
        id=event_id, case_no=case_no, status="reported", possible_duplicate_of=duplicate_of)


async def _next_case_number(uow: UnitOfWork, now: datetime, case_prefix: str) -> str:
    """The case number: the prefix, the Shanghai date and that day's next sequence."""
    local_now = now.astimezone(SHANGHAI)
    sequence = await store.next_case_sequence(uow, local_now.date())
    return case_number(local_now, sequence, case_prefix)


def _reportable_category(principal: Principal, category: Any) -> Any:
    """The category, if it is open for reports by this principal in a known region."""
    if category is None or not category["active"]:
        raise RuleViolation("unknown category", code="category_unknown")
    if category["verified_only"] and not principal.verified:
        raise Forbidden(
            "this category needs a real-name verified reporter", code="verification_required"
        )
    if not category["region_known"]:
        raise RuleViolation("unknown region", code="region_unknown")
    return category


def _checked_fields(
    category: Any, cmd: EventCreate, pii: PiiCipher
) -> tuple[list[TemplateField], dict[str, Any]]:
    """The category's template and the report's fields checked against it, phone numbers
    (personal information) encrypted for storage."""
    template = template_of(category)
    fields = validate_fields(template, cmd.fields)  # a refused value: 422 naming its field
    for spec in template:  # phone numbers are personal information: encrypted at rest
        if spec.type == "phone" and spec.key in fields:
            fields[spec.key] = pii.encrypt(fields[spec.key], context=phone_context(spec.key))
    return template, fields


async def _claim_attachments(
    uow: UnitOfWork, principal: Principal, cmd: EventCreate, event_id: uuid.UUID
) -> None:
    """Every attachment named becomes the case's, or the report is refused."""
    if not cmd.attachments:
        return
    linked = await store.claim_attachments(
        uow, ids=cmd.attachments, owner_id=principal.subject, event_id=event_id
    )
    if linked != len(set(cmd.attachments)):
        raise BadRequest(
            "an attachment is unknown, not yours or already used",
            code="attachment_invalid",
        )


def _channel(principal: Principal) -> str:
    """Who reports: a resident, a grid worker, or a partner app for its user."""
    channel = "resident" if principal.has_role(Role.RESIDENT) else "grid_worker"
    if principal.kind == "partner" and principal.extra.get("partner_app"):
        # A partner app (芗里芗亲...) reporting for its user with an on-behalf token.
        channel = "partner"
    return channel


def _case_row(
    cmd: EventCreate,
    principal: Principal,
    category: Any,
    *,
    event_id: uuid.UUID,
    case_no: str,
    fields: dict[str, Any],
    channel: str,
    sealed: str | None,
    duplicate_of: uuid.UUID | None,
    now: datetime,
) -> dict[str, Any]:
    """The new case as stored: reported, unassigned, nothing counted yet."""
    return {
        "id": event_id, "case_no": case_no, "category_code": category["code"],
        "major_risk": category["major_risk"], "urgency": cmd.urgency or category["default_urgency"],
        "sensitive": category["sensitive"], "description": cmd.description.strip(),
        "region_code": cmd.region_code, "address": cmd.address,
        "lat": cmd.location.lat if cmd.location else None,
        "lng": cmd.location.lng if cmd.location else None,
        "fields": fields, "attachment_ids": list(dict.fromkeys(cmd.attachments)),
        "reporter_id": principal.subject, "reporter_sealed": sealed, "channel": channel,
        "on_behalf": cmd.on_behalf and channel == "grid_worker", "status": "reported",
        "assign_seq": 0, "dispatch_trail": False, "result_recorded": False,
        "open_subtasks": [], "closed_subtasks": [], "co_units": [], "handling_unit_ids": [],
        "possible_duplicate_of": duplicate_of, "escalation_count": 0, "return_count": 0,
        "rework_count": 0, "reported_at": now, "updated_at": now,
    }


async def _announce_report(
    uow: UnitOfWork, row: dict[str, Any], category: Any, principal: Principal
) -> None:
    """``events.event_reported``: a sensitive tip's reporter only sealed."""
    await uow.emit(
        "events.event_reported",
        EventReported(
            event_id=row["id"], case_no=row["case_no"], category_code=category["code"],
            major_risk=category["major_risk"], urgency=row["urgency"],
            sensitive=category["sensitive"], region_code=row["region_code"],
            reported_at=row["reported_at"], channel=row["channel"],
            reporter_id=None if category["sensitive"] else principal.subject,
            reporter_sealed=row["reporter_sealed"],
            possible_duplicate_of=row["possible_duplicate_of"],
        ),
    )


async def _possible_duplicate(
    uow: UnitOfWork, cmd: EventCreate, description: str, since: datetime,
    first_page: list[dict[str, Any]],
) -> uuid.UUID | None:
    """Same category, same community, similar text within the window: linked (to the earliest
    such report), never merged. Candidates come a page at a time (the first one read with the
    category), so a busy community where the first page already holds the original is not read
    in full; at most 200 are compared. ``description`` is the new one masked, as they are."""
    after: tuple[datetime, uuid.UUID] | None = None
    page = first_page
    for number in range(DUPLICATE_CANDIDATES // DUPLICATE_PAGE):
        if number > 0:
            page = await store.recent_in_community(
                uow,
                category_code=cmd.category_code,
                community=cmd.region_code[:12],
                since=since,
                after=after,
                limit=DUPLICATE_PAGE,
            )
        for candidate in page:
            if similar_text(candidate["description"], description):
                found: uuid.UUID = candidate["id"]
                return found
        if len(page) < DUPLICATE_PAGE:
            return None
        after = (page[-1]["reported_at"], page[-1]["id"])
    return None
