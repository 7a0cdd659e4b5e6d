"""HTTP models of the relief service. PII leaves only masked, except in the audited reveals."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.relief import messages
from services.relief.domain import Agency, Kind, Stage, Status


class BaseSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# A text a person types into a form: left blank (or out), it is refused by the use case with
# its own code and a Chinese detail naming the field ("请填写：驳回理由"), not a bare shape error.
FormText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Month = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$")]
REGION_CODE_PATTERN = r"^(0[1-9]|[1-9][0-9])[0-9]{4}([0-9]{3}){0,3}$"  # ASCII digits: \d takes ３
RegionCode = Annotated[str, StringConstraints(pattern=REGION_CODE_PATTERN)]


class HouseholdMemberIn(BaseSchema):
    name: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    id_number: Annotated[str, StringConstraints(pattern=r"^[0-9]{17}[0-9Xx]$")]
    relation: Annotated[str, StringConstraints(min_length=1, max_length=20)]


AttachmentRef = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class ApplicationCreate(BaseSchema):
    """The resident types only the reason (and maybe attachments): identity, household and
    address come from the registry. ``household`` replaces the registry's household when the
    applicant declares a different one. Staff applying on someone's behalf name them in
    ``applicant_user_id``."""

    kind: Kind
    reason: FormText = ""
    household: list[HouseholdMemberIn] | None = Field(None, max_length=30)
    attachments: list[AttachmentRef] | None = Field(None, max_length=20)
    applicant_user_id: uuid.UUID | None = None


class ApplicationCreated(BaseSchema):
    id: uuid.UUID
    status: Status


class OpinionRead(BaseSchema):
    agency: Agency
    agency_label: str  # Chinese, from the catalog (as every ``*_label`` here)
    approve: bool
    opinion: str  # masked
    reviewed_at: datetime


class DecisionRead(BaseSchema):
    outcome: Literal["approved", "rejected"]
    outcome_label: str
    stage: Stage
    stage_label: str
    decided_at: datetime
    notify_by: datetime


class ApplicationRead(BaseSchema):
    id: uuid.UUID
    kind: Kind
    kind_label: str
    status: Status
    status_label: str
    applicant_user_id: uuid.UUID
    submitted_by: uuid.UUID
    on_behalf: bool
    region_code: str
    applicant_name: str  # masked
    id_number: str  # masked
    applicant_is_minor: bool
    household_size: int
    household_source: Literal["registry", "declared"]
    household_source_label: str
    reason: str  # masked
    attachments_count: int
    opinions: list[OpinionRead]
    open_objections: int
    notice_ends_at: datetime | None
    approval_due_at: datetime | None
    approval_overdue: bool  # awaiting approval past its 10-working-day deadline
    decision: DecisionRead | None
    payments: int
    submitted_at: datetime
    allowed_actions: list[str]
    action_labels: dict[str, str]  # the buttons' words, by action code


class ApplicationPage(BaseSchema):
    items: list[ApplicationRead]
    next_cursor: str | None


class TimelineStep(BaseSchema):
    at: datetime
    step: str
    title: str
    status: Status
    status_label: str
    actor_role: str
    actor_role_label: str
    actor_agency: str | None
    actor_agency_label: str | None
    note: str | None  # written by the platform, in Chinese


class Timeline(BaseSchema):
    application_id: uuid.UUID
    items: list[TimelineStep]


class ReviewCreate(BaseSchema):
    approve: bool | None = None
    opinion: FormText = ""


class RejectCreate(BaseSchema):
    reason: FormText = ""


class ObjectionCreate(BaseSchema):
    text: FormText = ""


class ObjectionResolve(BaseSchema):
    upheld: bool
    resolution: FormText = ""


class ObjectionRead(BaseSchema):
    id: uuid.UUID
    application_id: uuid.UUID
    filed_at: datetime
    resolved_at: datetime | None
    upheld: bool | None
    status_label: str  # 待处理, 异议成立 or 异议不成立


class NoticeRead(BaseSchema):
    """One line of the public notice (公示): masked name, never a minor."""

    application_id: uuid.UUID
    kind: Kind
    kind_label: str
    region_code: str
    applicant_name: str  # masked
    household_size: int
    notice_ends_at: datetime
    text: str  # the notice board's line, in Chinese


class NoticePage(BaseSchema):
    items: list[NoticeRead]
    next_cursor: str | None


class DecisionReasons(BaseSchema):
    """The applicant's own view of why they were decided so (plaintext, audited)."""

    application_id: uuid.UUID
    outcome: Literal["approved", "rejected"]
    outcome_label: str
    stage: Stage
    stage_label: str
    reasons: list[str]
    decided_at: datetime


PiiField = Literal[
    "name", "id_number", "address", "household", "reason", "attachments", "opinions",
    "objections",
]


class PiiAccessCreate(BaseSchema):
    fields: list[PiiField] = Field(min_length=1, max_length=8)
    reason: Annotated[str, StringConstraints(min_length=4, max_length=500)]


class PiiAccessRead(BaseSchema):
    application_id: uuid.UUID
    values: dict[str, object]


class PiiAuditEntry(BaseSchema):
    id: int
    actor_id: uuid.UUID
    actor_roles: str
    application_id: uuid.UUID
    field: str
    reason: str
    request_id: str | None
    accessed_at: datetime


class PiiAuditPage(BaseSchema):
    items: list[PiiAuditEntry]
    next_cursor: str | None


class DisbursementCreate(BaseSchema):
    application_id: uuid.UUID
    month: Month
    amount_fen: int = Field(gt=0, le=10_000_000)


class ApproveCreate(BaseSchema):
    """Approval may grant the monthly amount the monthly run pays (低保, 特困)."""

    monthly_amount_fen: int | None = Field(None, gt=0, le=10_000_000)


class MonthlyRunCreate(BaseSchema):
    region_code: RegionCode
    month: Month


class MonthlyRunRead(BaseSchema):
    region_code: str
    month: str
    posted: int  # recipients paid by this run (0 when the month was already run)
    amount_fen: int
    amount_yuan: str


class DisbursementRead(BaseSchema):
    """A payment. Answers remembered under an Idempotency-Key before payments carried
    ``kind_label`` replay with it filled in from ``kind``."""

    id: uuid.UUID
    application_id: uuid.UUID
    recipient_user_id: uuid.UUID
    kind: Kind
    kind_label: str
    region_code: str
    month: str
    amount_fen: int
    amount_yuan: str
    posted_at: datetime
    already_posted: bool = False

    @model_validator(mode="before")
    @classmethod
    def _labelled(cls, data: Any) -> Any:
        if isinstance(data, dict) and "kind" in data and not data.get("kind_label"):
            return {**data, "kind_label": messages.kind_label(str(data["kind"]))}
        return data


class TotalsRead(BaseSchema):
    region_code: str
    from_month: str
    to_month: str
    kind: Kind | None
    kind_label: str | None
    amount_fen: int
    amount_yuan: str
    person_times: int
    recipients: int
