"""What every relief use case shares: the actor, loading the machine's facts, masking,
the timeline step and its event."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.engine import RowMapping

from services.relief import messages
from services.relief.context import ReliefContext
from services.relief.domain import (
    Actor,
    Agency,
    Application,
    Kind,
    Outcome,
    Status,
    allowed_actions,
)
from services.relief.schemas import ApplicationRead, DecisionRead, OpinionRead
from services.relief.store import applications as store
from shared.auth.principal import Principal
from shared.contracts.relief import ApplicationDecided, ApplicationProgressed
from shared.db.uow import UnitOfWork
from shared.pii import mask_id_number, mask_name
from shared.problems import NotFound

# PII field contexts (bound as associated data: a ciphertext only opens in its own column).
NAME, ID_NUMBER, ADDRESS = "relief.name", "relief.id_number", "relief.address"
HOUSEHOLD, REASON, ATTACHMENTS = "relief.household", "relief.reason", "relief.attachments"
OPINION, OBJECTION, RESOLUTION = "relief.opinion", "relief.objection", "relief.resolution"
DECISION_REASON = "relief.decision_reason"

M = TypeVar("M", bound=BaseModel)

STAFF_VIEWERS = frozenset({"reviewer", "grid_worker", "supervisor", "admin"})


def agency_of(principal: Principal) -> Agency | None:
    """Reviewers carry their agency in the token's ``ext.agency`` claim."""
    value = principal.extra.get("agency")
    try:
        return Agency(str(value)) if value is not None else None
    except ValueError:
        return None


def actor_of(principal: Principal) -> Actor:
    return Actor(
        subject=principal.subject,
        roles=principal.roles,
        regions=principal.regions,
        agency=agency_of(principal),
    )


def acting_role(principal: Principal) -> str:
    for role in ("admin", "reviewer", "grid_worker", "supervisor", "resident"):
        if role in principal.roles:
            return role
    return next(iter(sorted(principal.roles)), "unknown")


def to_domain(row: RowMapping, opinions: list[RowMapping]) -> Application:
    return Application(
        status=Status(row["status"]),
        kind=Kind(row["kind"]),
        region_code=row["region_code"],
        applicant_id=row["applicant_user_id"],
        applicant_is_minor=row["applicant_is_minor"],
        opinions={Agency(o["agency"]): o["approve"] for o in opinions},
        notice_ends_at=row["notice_ends_at"],
        approval_due_at=row["approval_due_at"],
        open_objections=row["open_objections"],
        payments=row["payments"],
    )


async def load(
    uow: UnitOfWork, application_id: uuid.UUID, *, lock: bool = False
) -> tuple[RowMapping, list[RowMapping]]:
    row = await store.get(uow, application_id, lock=lock)
    if row is None:
        raise NotFound("no such application", code="application_not_found")
    return row, await store.opinions_of(uow, application_id)


def can_view(principal: Principal, row: RowMapping) -> bool:
    if principal.subject in (row["applicant_user_id"], row["submitted_by"]):
        return True
    return principal.has_role(*STAFF_VIEWERS) and principal.covers_region(row["region_code"])


def require_view(principal: Principal, row: RowMapping) -> None:
    if not can_view(principal, row):
        # Same answer as a missing one: an applicant's existence is not everyone's business.
        raise NotFound("no such application", code="application_not_found")


def read_model(
    ctx: ReliefContext, row: RowMapping, opinions: list[RowMapping], now: datetime
) -> ApplicationRead:
    pii = ctx.pii
    app = to_domain(row, opinions)
    status = app.effective_status(now)
    decision = None
    if row["decided_outcome"]:
        decision = DecisionRead(
            outcome=row["decided_outcome"], outcome_label=messages.outcome_label(
                row["decided_outcome"]),
            stage=row["decided_stage"], stage_label=messages.stage_label(row["decided_stage"]),
            decided_at=row["decided_at"], notify_by=row["notify_by"],
        )
    actions = sorted(a.value for a in allowed_actions(app, now))
    return ApplicationRead(
        id=row["id"],
        kind=row["kind"],
        kind_label=messages.kind_label(row["kind"]),
        status=status,
        status_label=messages.status_label(status),
        applicant_user_id=row["applicant_user_id"],
        submitted_by=row["submitted_by"],
        on_behalf=row["on_behalf"],
        region_code=row["region_code"],
        applicant_name=mask_name(pii.decrypt(row["name_cipher"], context=NAME)) or "",
        id_number=mask_id_number(pii.decrypt(row["id_number_cipher"], context=ID_NUMBER)) or "",
        applicant_is_minor=row["applicant_is_minor"],
        household_size=row["household_size"],
        household_source=row["household_source"],
        household_source_label=messages.household_source_label(row["household_source"]),
        reason=messages.masked_text(pii.decrypt(row["reason_cipher"], context=REASON)),
        attachments_count=row["attachments_count"],
        opinions=[
            OpinionRead(
                agency=o["agency"], agency_label=messages.agency_label(o["agency"]) or "",
                approve=o["approve"],
                opinion=messages.masked_text(pii.decrypt(o["opinion_cipher"], context=OPINION)),
                reviewed_at=o["reviewed_at"],
            )
            for o in opinions
        ],
        open_objections=row["open_objections"],
        notice_ends_at=row["notice_ends_at"],
        approval_due_at=row["approval_due_at"],
        approval_overdue=(
            status == Status.AWAITING_APPROVAL
            and row["approval_due_at"] is not None
            and now > row["approval_due_at"]
        ),
        decision=decision,
        payments=row["payments"],
        submitted_at=row["submitted_at"],
        allowed_actions=actions,
        action_labels=messages.action_labels(actions),
    )


def _changes(outcome: Outcome) -> dict[str, Any]:
    """The application row's columns after the machine's answer."""
    after = outcome.application
    changes: dict[str, Any] = {
        "status": after.status.value,
        "notice_ends_at": after.notice_ends_at,
        "approval_due_at": after.approval_due_at,
        "open_objections": after.open_objections,
        "payments": after.payments,
    }
    decision = outcome.decision
    if decision is not None:
        changes.update(
            decided_outcome=decision.outcome, decided_stage=decision.stage.value,
            decided_at=decision.decided_at, notify_by=decision.notify_by,
        )
    return changes


def _step_note(outcome: Outcome, note: str | None) -> str | None:
    """What the timeline says about the step, beyond its name."""
    after, decision = outcome.application, outcome.decision
    if decision is not None and decision.outcome == "rejected":
        return messages.note_rejected(decision.reasons_count, decision.notify_by)
    if outcome.notice_started and after.notice_ends_at is not None:
        return messages.note_notice(after.notice_ends_at)
    if outcome.notice_skipped:
        return messages.NOTE_MINOR
    return note


async def _announce(uow: UnitOfWork, row: RowMapping, outcome: Outcome, now: datetime) -> None:
    """The event for the applicant: a decision, or progress (payments have their own)."""
    after, decision = outcome.application, outcome.decision
    common = {
        "application_id": row["id"], "applicant_user_id": row["applicant_user_id"],
        "kind": row["kind"], "region_code": row["region_code"],
    }
    if decision is not None:
        await uow.emit(
            "relief.application_decided",
            ApplicationDecided(
                **common, outcome=decision.outcome, stage=decision.stage.value,
                reasons_count=decision.reasons_count, decided_at=decision.decided_at,
                notify_by=decision.notify_by,
            ),
        )
    elif outcome.step != "disbursed":
        await uow.emit(
            "relief.application_progressed",
            ApplicationProgressed(
                **common, step=outcome.step, status=after.status.value, at=now,
                notice_ends_at=after.notice_ends_at,
            ),
        )


async def record_outcome(
    uow: UnitOfWork,
    *,
    row: RowMapping,
    outcome: Outcome,
    principal: Principal,
    now: datetime,
    note: str | None = None,
) -> None:
    """Persist the machine's answer: the row, a timeline step and the event for the applicant
    (a decision, or progress) — all in the caller's transaction."""
    await store.save(uow, row["id"], **_changes(outcome))
    agency = agency_of(principal)
    await store.add_step(
        uow, application_id=row["id"], at=now, step=outcome.step,
        status=outcome.application.status.value, actor_id=principal.subject,
        actor_role=acting_role(principal), actor_agency=agency.value if agency else None,
        note=_step_note(outcome, note),
    )
    await _announce(uow, row, outcome, now)
