"""Applying (一键报难), and reading applications: the applicant's, the reviewers' queues,
the timeline, the public notice."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping

from services.relief import messages
from services.relief.context import ReliefContext
from services.relief.domain import Agency, Status, id_number_valid, is_minor, missing_text
from services.relief.identity_client import ResidentProfile
from services.relief.schemas import (
    ApplicationCreate,
    ApplicationCreated,
    ApplicationPage,
    ApplicationRead,
    NoticePage,
    NoticeRead,
    Timeline,
    TimelineStep,
)
from services.relief.service.common import (
    ADDRESS,
    ATTACHMENTS,
    HOUSEHOLD,
    ID_NUMBER,
    NAME,
    REASON,
    acting_role,
    agency_of,
    load,
    read_model,
    require_view,
)
from services.relief.store import applications as store
from shared.auth.principal import Principal, Role
from shared.contracts.relief import ApplicationSubmitted
from shared.db.idempotency import once
from shared.db.uow import UnitOfWork
from shared.paging import decode_moment_cursor, moment_cursor, page_of
from shared.pii import mask_name
from shared.problems import BadRequest, Conflict, Forbidden, RuleViolation

APPLY_ROLES = (Role.RESIDENT, Role.GRID_WORKER, Role.ADMIN)


def _applicant_id(principal: Principal, body: ApplicationCreate) -> tuple[uuid.UUID, bool]:
    """Whom the application is for, and whether staff apply on their behalf."""
    principal.require_role(*APPLY_ROLES)
    on_behalf = body.applicant_user_id not in (None, principal.subject)
    if not on_behalf:
        if Role.RESIDENT not in principal.roles:
            raise BadRequest(
                "staff name the resident they apply for in applicant_user_id",
                code="applicant_required",
            )
        if not principal.verified:
            raise Forbidden(
                "real-name verification is required before applying for relief",
                code="applicant_not_verified",
            )
        return principal.subject, False
    if not principal.has_role(Role.GRID_WORKER, Role.ADMIN):
        raise Forbidden("only grid staff apply on someone's behalf", code="role_required")
    assert body.applicant_user_id is not None
    return body.applicant_user_id, True


def _household(
    body: ApplicationCreate, profile: ResidentProfile
) -> tuple[list[dict[str, Any]], str]:
    if body.household is None:
        members = [m.model_dump(mode="json") for m in profile.household]
        return members, "registry"
    for member in body.household:
        if not id_number_valid(member.id_number):
            raise RuleViolation(
                messages.HOUSEHOLD_ID_INVALID, code="household_id_number_invalid",
                extra={"field": "household"},
            )
    return [m.model_dump(mode="json") for m in body.household], "declared"


def _application_values(
    ctx: ReliefContext,
    *,
    application_id: uuid.UUID,
    principal: Principal,
    body: ApplicationCreate,
    applicant_id: uuid.UUID,
    on_behalf: bool,
    profile: ResidentProfile,
    members: list[dict[str, Any]],
    source: str,
) -> dict[str, Any]:
    """The new application's row: the registry's facts, the PII sealed in its own column."""
    now, pii = ctx.now(), ctx.pii
    return {
        "id": application_id,
        "kind": body.kind.value,
        "status": Status.SUBMITTED.value,
        "applicant_user_id": applicant_id,
        "submitted_by": principal.subject,
        "on_behalf": on_behalf,
        "region_code": profile.region_code,
        "household_id": profile.household_id,
        "applicant_is_minor": is_minor(profile.birth_date, ctx.today()),
        "id_number_index": pii.blind_index(profile.id_number.upper(), context=ID_NUMBER),
        "name_cipher": pii.encrypt(profile.name, context=NAME),
        "id_number_cipher": pii.encrypt(profile.id_number, context=ID_NUMBER),
        "address_cipher": pii.encrypt_optional(profile.address, context=ADDRESS),
        "household_cipher": pii.encrypt(orjson.dumps(members).decode(), context=HOUSEHOLD),
        "household_size": len(members) or 1,
        "household_source": source,
        "reason_cipher": pii.encrypt(body.reason, context=REASON),
        "attachments_cipher": pii.encrypt(
            orjson.dumps(body.attachments).decode(), context=ATTACHMENTS
        ) if body.attachments else None,
        "attachments_count": len(body.attachments or ()),
        "open_objections": 0,
        "payments": 0,
        "submitted_at": now,
        "updated_at": now,
    }


async def _submit(
    uow: UnitOfWork, *, values: dict[str, Any], principal: Principal, body: ApplicationCreate
) -> ApplicationCreated:
    """Insert the application (unless one of its kind is open), its first timeline step and
    ``relief.application_submitted``."""
    application_id, now, on_behalf = values["id"], values["submitted_at"], values["on_behalf"]
    if not await store.insert_if_none_open(uow, values):
        raise Conflict(
            f"this person already has an open {body.kind.value} application",
            code="application_already_open",
        )
    await store.add_step(
        uow, application_id=application_id, at=now, step="submitted",
        status=Status.SUBMITTED.value, actor_id=principal.subject,
        actor_role=acting_role(principal), actor_agency=None,
        note=messages.NOTE_ON_BEHALF if on_behalf else None,
    )
    await uow.emit(
        "relief.application_submitted",
        ApplicationSubmitted(
            application_id=application_id, applicant_user_id=values["applicant_user_id"],
            submitted_by=principal.subject, on_behalf=on_behalf, kind=body.kind.value,
            region_code=values["region_code"], submitted_at=now,
        ),
    )
    return ApplicationCreated(id=application_id, status=Status.SUBMITTED)


async def apply(
    *,
    uow: UnitOfWork,
    ctx: ReliefContext,
    principal: Principal,
    body: ApplicationCreate,
    idempotency_key: str | None,
) -> ApplicationCreated:
    applicant_id, on_behalf = _applicant_id(principal, body)
    if not body.reason:
        raise missing_text("reason_required", "reason", "apply_reason")
    # Outside any transaction: the registry call must not hold a connection or row locks.
    profile = await ctx.identity.resident_profile(applicant_id)
    if on_behalf:
        principal.require_region(profile.region_code)
    members, source = _household(body, profile)
    values = _application_values(
        ctx, application_id=uuid.uuid4(), principal=principal, body=body,
        applicant_id=applicant_id, on_behalf=on_behalf, profile=profile, members=members,
        source=source,
    )
    async def submit() -> tuple[int, ApplicationCreated]:
        return 201, await _submit(uow, values=values, principal=principal, body=body)

    async with uow:
        _, created = await once(
            uow, scope=f"apply:{principal.subject}", key=idempotency_key, request=body,
            answer=ApplicationCreated, work=submit,
        )
    return created


# What each agency's queue holds by default.
QUEUE_STATUSES: dict[Agency, tuple[str, ...]] = {
    Agency.TOWN: (Status.SUBMITTED.value,),
    Agency.PING_AN_OFFICE: (Status.IN_REVIEW.value,),
    Agency.AGRICULTURE: (Status.IN_REVIEW.value,),
    Agency.CIVIL_AFFAIRS: (Status.IN_REVIEW.value, Status.AWAITING_APPROVAL.value),
}


def _queue_filter(
    principal: Principal, status: Status | None
) -> tuple[tuple[str, ...], str | None]:
    """The statuses a staff member's list holds, and the joint reviewer whose opinion those
    in review still wait for (None: any)."""
    if status is not None:
        return (status.value,), None
    if Role.REVIEWER not in principal.roles:
        return tuple(s.value for s in Status), None
    agency = agency_of(principal)
    if agency is None:
        raise Forbidden("a reviewer's token names an agency", code="agency_required")
    # Joint reviewers see what still waits for their own opinion.
    return QUEUE_STATUSES[agency], (agency.value if agency != Agency.TOWN else None)


def _after_submission(row: RowMapping) -> str:
    return moment_cursor(row["submitted_at"], row["id"])


async def list_applications(
    *,
    uow: UnitOfWork,
    ctx: ReliefContext,
    principal: Principal,
    status: Status | None,
    cursor: str | None,
    limit: int,
) -> ApplicationPage:
    """Residents: their own (and those staff filed for them). Reviewers: their agency's
    queue in their regions (``status`` widens it to any status). Grid workers: their regions."""
    after, now = decode_moment_cursor(cursor), ctx.now()
    async with uow:
        if principal.has_role(Role.REVIEWER, Role.GRID_WORKER, Role.SUPERVISOR, Role.ADMIN):
            statuses, awaiting = _queue_filter(principal, status)
            rows = await store.list_queue(
                uow, regions=None if Role.ADMIN in principal.roles else principal.regions,
                statuses=statuses, now=now, after=after, limit=limit + 1,
                awaiting_agency=awaiting,
            )
        elif Role.RESIDENT in principal.roles:
            rows = await store.list_for_applicant(
                uow, principal.subject, after=after, limit=limit + 1
            )
        else:
            raise Forbidden("your role does not allow this", code="role_required")
        page, next_cursor = page_of(rows, limit, _after_submission)
        items = [read_model(ctx, r, await store.opinions_of(uow, r["id"]), now) for r in page]
    return ApplicationPage(items=items, next_cursor=next_cursor)


async def get_application(
    *, uow: UnitOfWork, ctx: ReliefContext, principal: Principal, application_id: uuid.UUID
) -> ApplicationRead:
    async with uow:
        row, opinions = await load(uow, application_id)
        require_view(principal, row)
        return read_model(ctx, row, opinions, ctx.now())


async def timeline(
    *, uow: UnitOfWork, principal: Principal, application_id: uuid.UUID
) -> Timeline:
    async with uow:
        row, _ = await load(uow, application_id)
        require_view(principal, row)
        steps = await store.steps_of(uow, application_id)
    return Timeline(application_id=application_id, items=[_step(s) for s in steps])


def _step(row: RowMapping) -> TimelineStep:
    """A timeline step with its Chinese title and labels; the codes stay as recorded."""
    return TimelineStep(
        at=row["at"], step=row["step"], title=messages.step_title(row["step"]),
        status=row["status"], status_label=messages.status_label(row["status"]),
        actor_role=row["actor_role"], actor_role_label=messages.role_label(row["actor_role"]),
        actor_agency=row["actor_agency"],
        actor_agency_label=messages.agency_label(row["actor_agency"]),
        note=messages.shown_note(row["note"]),
    )


async def public_notices(
    *, uow: UnitOfWork, ctx: ReliefContext, region_code: str, cursor: str | None, limit: int
) -> NoticePage:
    """The running public notice (公示) of a region: masked names; minors never appear
    (their applications never enter ``in_notice``)."""
    now = ctx.now()
    async with uow:
        rows = await store.list_queue(
            uow, regions=[region_code], statuses=(Status.IN_NOTICE.value,), now=now,
            after=decode_moment_cursor(cursor), limit=limit + 1, awaiting_agency=None,
        )
    page, next_cursor = page_of(rows, limit, _after_submission)
    items = [
        _notice_line(ctx, r)
        for r in page
        if not r["applicant_is_minor"]  # belt and braces: the machine never notices minors
    ]
    return NoticePage(items=items, next_cursor=next_cursor)


def _notice_line(ctx: ReliefContext, row: RowMapping) -> NoticeRead:
    name = mask_name(ctx.pii.decrypt(row["name_cipher"], context=NAME)) or ""
    return NoticeRead(
        application_id=row["id"], kind=row["kind"], kind_label=messages.kind_label(row["kind"]),
        region_code=row["region_code"], applicant_name=name,
        household_size=row["household_size"], notice_ends_at=row["notice_ends_at"],
        text=messages.notice_line(masked_name=name, household_size=row["household_size"],
                                  kind=row["kind"], ends=row["notice_ends_at"]),
    )
