"""Plaintext PII, only through here: every read writes an audit row (who, when, what, why)
in the same transaction as the read — no audit, no answer."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping

from services.relief import messages
from services.relief.context import ReliefContext
from services.relief.schemas import DecisionReasons, PiiAccessRead, PiiAuditEntry, PiiAuditPage
from services.relief.service.common import (
    ADDRESS,
    ATTACHMENTS,
    DECISION_REASON,
    HOUSEHOLD,
    ID_NUMBER,
    NAME,
    OBJECTION,
    OPINION,
    REASON,
    RESOLUTION,
    load,
)
from services.relief.store import applications as store
from shared.auth.principal import Principal, Role
from shared.context import current_request_id
from shared.db.uow import UnitOfWork
from shared.paging import page_of
from shared.problems import Conflict, Forbidden, NotFound

APPLICANT_READS_OWN_DECISION = "applicant reads the reasons for their own decision"


async def _audit(
    uow: UnitOfWork, principal: Principal, application_id: uuid.UUID, field: str, reason: str
) -> None:
    await store.record_access(
        uow, actor_id=principal.subject,
        actor_roles=",".join(sorted(principal.roles))[:200], application_id=application_id,
        field=field, reason=reason, request_id=current_request_id(),
    )


async def _field(ctx: ReliefContext, uow: UnitOfWork, row: RowMapping, field: str) -> Any:
    pii = ctx.pii
    if field == "name":
        return pii.decrypt(row["name_cipher"], context=NAME)
    if field == "id_number":
        return pii.decrypt(row["id_number_cipher"], context=ID_NUMBER)
    if field == "address":
        return pii.decrypt_optional(row["address_cipher"], context=ADDRESS)
    if field == "household":
        return orjson.loads(pii.decrypt(row["household_cipher"], context=HOUSEHOLD))
    if field == "reason":
        return pii.decrypt(row["reason_cipher"], context=REASON)
    if field == "attachments":
        plain = pii.decrypt_optional(row["attachments_cipher"], context=ATTACHMENTS)
        return orjson.loads(plain) if plain else []
    if field == "opinions":
        return [
            {"agency": o["agency"], "approve": o["approve"],
             "opinion": pii.decrypt(o["opinion_cipher"], context=OPINION)}
            for o in await store.opinions_of(uow, row["id"])
        ]
    if field == "objections":
        return [
            {"id": str(o["id"]), "text": pii.decrypt(o["text_cipher"], context=OBJECTION),
             "upheld": o["upheld"],
             "resolution": pii.decrypt_optional(o["resolution_cipher"], context=RESOLUTION)}
            for o in await store.objections_of(uow, row["id"])
        ]
    raise ValueError(f"unknown PII field {field}")  # the schema's Literal stops this earlier


async def reveal(
    *,
    uow: UnitOfWork,
    ctx: ReliefContext,
    principal: Principal,
    application_id: uuid.UUID,
    fields: list[str],
    reason: str,
) -> PiiAccessRead:
    """Reviewers (any agency) in the application's region, and admins, with a stated why."""
    principal.require_role(Role.REVIEWER, Role.ADMIN)
    async with uow:
        row, _ = await load(uow, application_id)
        if not principal.covers_region(row["region_code"]):
            raise Forbidden("this application is outside your region", code="out_of_scope")
        values: dict[str, Any] = {}
        for field in dict.fromkeys(fields):
            await _audit(uow, principal, application_id, field, reason)
            values[field] = await _field(ctx, uow, row, field)
    return PiiAccessRead(application_id=application_id, values=values)


async def decision_reasons(
    *, uow: UnitOfWork, ctx: ReliefContext, principal: Principal, application_id: uuid.UUID
) -> DecisionReasons:
    """The applicant (or the staff member who applied for them) reads why: the rejecting
    opinions, the single-handed reason, or the upheld objection's finding."""
    pii = ctx.pii
    async with uow:
        row, opinions = await load(uow, application_id)
        if principal.subject not in (row["applicant_user_id"], row["submitted_by"]):
            raise NotFound("no such application", code="application_not_found")
        if not row["decided_outcome"]:
            raise Conflict("this application is not decided yet", code="not_decided")
        reasons: list[str] = []
        if row["decision_reason_cipher"]:
            reasons.append(pii.decrypt(row["decision_reason_cipher"], context=DECISION_REASON))
        if row["decided_stage"] == "joint_review":
            reasons += [pii.decrypt(o["opinion_cipher"], context=OPINION)
                        for o in opinions if not o["approve"]]
        if row["decided_stage"] == "notice":
            reasons += [
                pii.decrypt(o["resolution_cipher"], context=RESOLUTION)
                for o in await store.objections_of(uow, application_id)
                if o["upheld"] and o["resolution_cipher"]
            ]
        await _audit(uow, principal, application_id, "decision_reasons",
                     APPLICANT_READS_OWN_DECISION)
    return DecisionReasons(
        application_id=application_id, outcome=row["decided_outcome"],
        outcome_label=messages.outcome_label(row["decided_outcome"]),
        stage=row["decided_stage"], stage_label=messages.stage_label(row["decided_stage"]),
        reasons=reasons, decided_at=row["decided_at"],
    )


async def audit_log(
    *,
    uow: UnitOfWork,
    principal: Principal,
    application_id: uuid.UUID | None,
    cursor: int | None,
    limit: int,
) -> PiiAuditPage:
    """Admins read the whole trail; supervisors the reads of applications in their regions."""
    principal.require_role(Role.ADMIN, Role.SUPERVISOR)
    regions = None if Role.ADMIN in principal.roles else principal.regions
    async with uow:
        if application_id is not None and regions is not None:
            row, _ = await load(uow, application_id)
            if not principal.covers_region(row["region_code"]):
                raise NotFound("no such application", code="application_not_found")
        rows = await store.access_log(
            uow, application_id=application_id, before=cursor, limit=limit + 1,
            regions=regions,
        )
    # The cursor is the last row's id (a bigint the query parameter already validates).
    page, next_cursor = page_of(rows, limit, lambda row: str(row["id"]))
    return PiiAuditPage(
        items=[PiiAuditEntry.model_validate(dict(r)) for r in page], next_cursor=next_cursor
    )
