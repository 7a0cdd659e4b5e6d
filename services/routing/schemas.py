"""Request and response shapes of the routing API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.validation import StorableText


class BaseSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

Text = StorableText  # what PostgreSQL can store (no NUL)
Urgency = Literal["urgent", "normal", "low"]


class RegionRead(BaseSchema):
    code: str
    name: str
    level: str


class RegionList(BaseSchema):
    items: list[RegionRead]


class RegionUpdate(BaseSchema):
    name: Text = Field(min_length=1, max_length=100)
    active: bool = True


class GridWorkers(BaseSchema):
    grid_code: str
    user_ids: list[uuid.UUID]


class UnitRead(BaseSchema):
    """A unit. ``categories``: the category codes it handles (empty: every category a rule
    sends to its kind). A retired unit (``active`` false) keeps its id and name for the cases
    it held, and is offered for nothing any more."""

    id: uuid.UUID
    name: str
    kind: str
    level: str
    region_code: str
    categories: list[str] = []
    active: bool = True


class UnitList(BaseSchema):
    items: list[UnitRead]
    next_cursor: str | None = None


# A category code as events stores it; a unit kind as rules name it (e.g. police_station).
UnitCategories = list[Annotated[Text, Field(min_length=1, max_length=64)]]


class UnitAuditRead(BaseSchema):
    """One change to a unit: ``action`` created, changed or retired; ``before``/``after``:
    its name, kind, level, region_code, categories and active flag."""

    at: datetime
    actor_id: uuid.UUID | None
    action: str
    before: dict | None
    after: dict | None


class UnitAuditList(BaseSchema):
    items: list[UnitAuditRead]
    next_cursor: str | None = None


class UnitCreate(BaseSchema):
    name: Text = Field(min_length=2, max_length=200)
    kind: Text = Field(min_length=2, max_length=40)
    region_code: Text = Field(min_length=6, max_length=15)
    categories: UnitCategories = Field(default_factory=list, max_length=200)


class UnitUpdate(BaseSchema):
    """What changes (omitted: unchanged): a rename, a move to another region of the unit's
    level, or the categories it handles (replaced as a whole)."""

    name: Text | None = Field(None, min_length=2, max_length=200)
    region_code: Text | None = Field(None, min_length=6, max_length=15)
    categories: UnitCategories | None = Field(None, max_length=200)


class RuleRead(BaseSchema):
    category_code: str
    level: str
    unit_kind: str
    entry: bool


class RuleList(BaseSchema):
    items: list[RuleRead]


class RuleUpdate(BaseSchema):
    unit_kind: Text = Field(min_length=2, max_length=40)
    entry: bool = False
    active: bool = True


class RuleAuditRead(BaseSchema):
    rule_id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None
    before: dict | None
    after: dict | None


class RuleAuditList(BaseSchema):
    items: list[RuleAuditRead]


class PolicyRead(BaseSchema):
    category_code: str
    urgency: str
    accept_hours: float
    resolve_amount: float
    resolve_unit: Literal["hours", "days"]
    auto_escalate: bool


class PolicyList(BaseSchema):
    items: list[PolicyRead]


class PolicyUpdate(BaseSchema):
    accept_hours: float = Field(gt=0, le=1000)
    resolve_amount: float = Field(gt=0, le=1000)
    resolve_unit: Literal["hours", "days"]
    auto_escalate: bool = False


class OverrideUpdate(BaseSchema):
    workday: bool
    note: Text | None = Field(None, max_length=200)


class CalendarDayRead(BaseSchema):
    """``source``: ``official`` (the published schedule) or ``override`` (set by an admin);
    ``holiday``: the official holiday's key (``spring_festival``...), if the day has one."""

    day: date
    workday: bool
    source: Literal["official", "override"]
    holiday: str | None
    note: str | None


class CalendarYear(BaseSchema):
    year: int
    items: list[CalendarDayRead]


class AssignmentRead(BaseSchema):
    event_id: uuid.UUID
    case_no: str
    category_code: str
    urgency: str
    region_code: str
    status: str
    unit_id: uuid.UUID | None
    queue_reason: str | None
    # A returned case: the unit that returned it (the dispatcher may send it back there).
    returned_by_unit_id: uuid.UUID | None = None
    accept_by: datetime | None
    resolve_by: datetime | None
    overdue: bool = False


class AssignmentList(BaseSchema):
    items: list[AssignmentRead]


class DispatchIn(BaseSchema):
    unit_id: uuid.UUID
    note: Text | None = Field(None, max_length=1000)


class TransferIn(BaseSchema):
    unit_id: uuid.UUID
    reason: Text = Field(min_length=2, max_length=1000)


class ReasonIn(BaseSchema):
    reason: Text = Field(min_length=2, max_length=1000)


class ExtensionIn(BaseSchema):
    extra_working_hours: float = Field(gt=0, le=15 * 7)
    reason: Text = Field(min_length=2, max_length=1000)


class ExtensionDecision(BaseSchema):
    approve: bool


class CreatedId(BaseSchema):
    id: uuid.UUID


class CoHandlingIn(BaseSchema):
    unit_ids: list[uuid.UUID] = Field(min_length=1, max_length=10)
    task: Text = Field(min_length=2, max_length=2000)
    due_working_hours: float | None = Field(None, gt=0, le=15 * 7)


class SubtaskIds(BaseSchema):
    subtask_ids: list[uuid.UUID]


class AnswerIn(BaseSchema):
    """``attachment_ids``: photos or videos uploaded to events
    (``POST /api/v1/events/attachments``) that the answer points at."""

    answer: Text = Field(min_length=2, max_length=4000)
    attachment_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10)


class SupervisionRead(BaseSchema):
    id: uuid.UUID
    event_id: uuid.UUID
    unit_id: uuid.UUID
    kind: str
    deadline: datetime
    supervisor_region_code: str
    auto_escalated: bool
    created_at: datetime


class SupervisionList(BaseSchema):
    items: list[SupervisionRead]


class OriginalNote(BaseSchema):
    """The note typed with assignment ``seq`` (``reason``: initial, redispatch, transfer,
    escalated)."""

    seq: int
    reason: str
    at: datetime
    note: str


class OriginalExtension(BaseSchema):
    request_id: uuid.UUID
    at: datetime
    reason: str


class OriginalSubtask(BaseSchema):
    """None: that text had no number masked (it reads as stored)."""

    subtask_id: uuid.UUID
    unit_id: uuid.UUID
    task: str | None
    answer: str | None


class OriginalTexts(BaseSchema):
    """A case's routing texts as typed, phone and ID numbers unmasked: only those that had a
    number masked (everywhere else they are stored and published masked)."""

    event_id: uuid.UUID
    notes: list[OriginalNote]
    extensions: list[OriginalExtension]
    subtasks: list[OriginalSubtask]
    audit_recorded: bool = True


# -- manual supervision (人工督办) -------------------------------------------------------------

SupervisionLevel = Literal["reminder", "supervision", "listed"]  # 提醒 / 督办 / 挂牌督办
SupervisionState = Literal["open", "overdue", "replied", "lapsed"]


class SupervisionOrderCreate(BaseSchema):
    """``reply_by``: an aware time in the future by which the unit answers."""

    level: SupervisionLevel
    instruction: Text = Field(min_length=2, max_length=2000)
    reply_by: AwareDatetime


class SupervisionReplyIn(BaseSchema):
    reply: Text = Field(min_length=2, max_length=4000)


class SupervisionOrderRead(BaseSchema):
    """A supervisor's order to the unit holding a case. ``status``: open (awaiting the reply),
    overdue (reply-by passed; raised to ``escalated_region_code``'s supervisors), replied, or
    lapsed (the case was closed, rated or rejected before the unit replied: no longer awaited
    nor chased; ``overdue_at`` stays set when it had gone overdue first).
    Instruction and reply read with phone and ID numbers masked."""

    id: uuid.UUID
    event_id: uuid.UUID
    case_no: str
    region_code: str
    unit_id: uuid.UUID
    level: SupervisionLevel
    instruction: str
    reply_by: datetime
    status: SupervisionState
    issued_by: uuid.UUID
    created_at: datetime
    reply: str | None = None
    replied_by: uuid.UUID | None = None
    replied_at: datetime | None = None
    overdue_at: datetime | None = None
    escalated_region_code: str | None = None
    lapsed_at: datetime | None = None


class SupervisionOrderList(BaseSchema):
    items: list[SupervisionOrderRead]
    next_cursor: str | None = None


class SupervisionCountRead(BaseSchema):
    """A unit's supervision orders issued in the range: at each level, answered by the
    reply-by (``replied_on_time``) or after it, ever overdue, and still awaiting a reply."""

    unit_id: uuid.UUID
    unit_name: str | None
    unit_level: str | None
    unit_region_code: str | None
    issued: int
    reminder: int
    supervision: int
    listed: int
    replied_on_time: int
    replied_late: int
    went_overdue: int
    awaiting_reply: int


class SupervisionCountList(BaseSchema):
    items: list[SupervisionCountRead]


# -- co-handling (部门协同): the assisting unit's queue and the answers -------------------------

SubtaskFilter = Literal["open", "answered", "overdue"]


class SubtaskRead(BaseSchema):
    """A sub-task the lead unit asked of an assisting unit. ``status``: open, answered,
    timed_out (due passed unanswered) or lapsed (the case moved on); ``overdue``: past due
    unanswered. Task and answer read with phone and ID numbers masked; ``answered_by``,
    ``closed_at`` and ``answer_attachment_ids`` say who answered, when, with what."""

    id: uuid.UUID
    event_id: uuid.UUID
    case_no: str | None
    lead_unit_id: uuid.UUID
    lead_unit_name: str | None
    unit_id: uuid.UUID
    unit_name: str | None
    task: str
    due_at: datetime
    status: str
    overdue: bool
    created_at: datetime
    answer: str | None = None
    answered_by: uuid.UUID | None = None
    closed_at: datetime | None = None
    answer_attachment_ids: list[uuid.UUID] = Field(default_factory=list)


class SubtaskList(BaseSchema):
    items: list[SubtaskRead]
    next_cursor: str | None = None


class CoHandlingCountRead(BaseSchema):
    """A unit's assisting work on sub-tasks asked of it in the range: answered by the due time
    or after it, timed out unanswered, lapsed, still open (``open_overdue``: past due)."""

    unit_id: uuid.UUID
    unit_name: str | None
    unit_level: str | None
    unit_region_code: str | None
    asked: int
    answered_on_time: int
    answered_late: int
    timed_out: int
    lapsed: int
    open: int
    open_overdue: int


class CoHandlingCountList(BaseSchema):
    items: list[CoHandlingCountRead]
