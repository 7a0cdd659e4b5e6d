"""Integration events published by the relief service. Consumers depend on these shapes only.

No plaintext PII travels on the bus: no names, ID numbers, reasons or opinions. Each event
carries the applicant's ``applicant_user_id`` so the feedback service can notify them; the
applicant reads reasons and opinions in the app (an audited read).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

from shared.contracts import contract

ReliefKind = Literal["dibao", "tekun", "temporary"]


@contract("relief.application_submitted")
class ApplicationSubmitted(BaseModel):
    application_id: uuid.UUID
    applicant_user_id: uuid.UUID
    submitted_by: uuid.UUID  # the applicant, or the grid worker who applied on their behalf
    on_behalf: bool
    kind: ReliefKind
    region_code: str
    submitted_at: datetime


@contract("relief.application_progressed")
class ApplicationProgressed(BaseModel):
    """A step the applicant should hear about that is not a final decision: accepted by the
    town, an agency's opinion recorded, public notice started (or skipped for a minor),
    an objection recorded or resolved, a withdrawal."""

    application_id: uuid.UUID
    applicant_user_id: uuid.UUID
    kind: ReliefKind
    region_code: str
    step: str  # e.g. accepted, approved_by_agriculture, notice_started, objection_recorded
    status: str
    at: datetime
    notice_ends_at: datetime | None = None


@contract("relief.application_decided")
class ApplicationDecided(BaseModel):
    """The final decision. A rejection must reach the applicant by ``notify_by`` (3 working
    days after the decision); the reasons themselves stay in relief (PII)."""

    application_id: uuid.UUID
    applicant_user_id: uuid.UUID
    kind: ReliefKind
    region_code: str
    outcome: Literal["approved", "rejected"]
    stage: Literal["town", "joint_review", "notice", "approval"]
    reasons_count: int
    decided_at: datetime
    notify_by: datetime


@contract("relief.disbursed")
class Disbursed(BaseModel):
    """One monthly payment posted to the ledger (exactly once per recipient, kind, month)."""

    disbursement_id: uuid.UUID
    application_id: uuid.UUID
    recipient_user_id: uuid.UUID
    kind: ReliefKind
    region_code: str
    month: date  # first day of the month paid
    amount_fen: int
    posted_at: datetime
