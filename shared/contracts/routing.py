"""Integration events published by the routing service. Consumers depend on these shapes only.

Routing owns who handles a case and by when: the organisation directory, rules, deadlines,
timers, supervision (督办), escalation and co-handling. Every assignment carries the unit,
its region and level and both deadlines, so feedback can score on-time rates without asking.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

from shared.contracts import contract

AssignReason = Literal["initial", "redispatch", "transfer", "escalated"]
UnitLevel = Literal["grid", "community", "town", "county", "city"]
DeadlineKind = Literal["accept", "resolve"]
QueueReason = Literal["no_rule", "returned", "no_unit_at_next_level"]


class UnitRef(BaseModel):
    unit_id: uuid.UUID
    name: str
    kind: str  # community, town_office, police, market_regulation, judicial_office, ...
    level: UnitLevel
    region_code: str


@contract("routing.event_assigned")
class EventAssigned(BaseModel):
    """The case now belongs to ``unit``. ``seq`` grows with every (re)assignment of the case,
    so a consumer can ignore a stale one delivered late."""

    event_id: uuid.UUID
    seq: int
    unit: UnitRef
    reason: AssignReason
    previous_unit_id: uuid.UUID | None = None
    accept_by: datetime
    resolve_by: datetime
    assigned_at: datetime
    actor_role: str  # "system" for rules and timers (the platform)
    # The unit the actor acted for: the unit whose staff escalated or transferred the case;
    # None when no unit acted (the platform, a dispatcher or a supervisor over the region).
    actor_unit_id: uuid.UUID | None = None
    # What the dispatcher or unit typed (dispatch note, transfer or escalation reason), with
    # phone and ID numbers masked; the original stays in routing (audited reveal).
    note: str | None = None
    automatic: bool = False
    # Added later (absent from older producers): the staff member who assigned, transferred or
    # escalated (None for the platform), and the name of ``actor_unit_id``.
    actor_id: uuid.UUID | None = None
    actor_unit_name: str | None = None


@contract("routing.event_queued")
class EventQueued(BaseModel):
    """No unit could be chosen (no rule, a return, a missing unit): the dispatcher decides."""

    event_id: uuid.UUID
    reason: QueueReason
    region_code: str
    queued_at: datetime


@contract("routing.deadline_warning")
class DeadlineWarning(BaseModel):
    event_id: uuid.UUID
    unit_id: uuid.UUID
    kind: DeadlineKind
    deadline: datetime
    fraction: float  # share of the allowed time already used
    at: datetime


@contract("routing.event_overdue")
class EventOverdue(BaseModel):
    """A deadline passed: a supervision (督办) record exists; the supervisors of
    ``supervisor_region_code`` are to be notified."""

    event_id: uuid.UUID
    unit_id: uuid.UUID
    unit_level: UnitLevel
    kind: DeadlineKind
    deadline: datetime
    supervision_id: uuid.UUID
    supervisor_region_code: str
    at: datetime


@contract("routing.event_escalated")
class EventEscalated(BaseModel):
    event_id: uuid.UUID
    from_unit_id: uuid.UUID
    to_unit_id: uuid.UUID
    from_level: UnitLevel
    to_level: UnitLevel
    automatic: bool
    at: datetime
    # Added later (absent from older producers): who escalated ("system" for a timer) and,
    # when a unit's staff did, the unit they acted for (``from_unit_id``).
    actor_role: str | None = None
    actor_id: uuid.UUID | None = None
    actor_unit_id: uuid.UUID | None = None


@contract("routing.deadline_changed")
class DeadlineChanged(BaseModel):
    event_id: uuid.UUID
    unit_id: uuid.UUID
    accept_by: datetime
    resolve_by: datetime
    reason: Literal["extension", "rework"]
    at: datetime


@contract("routing.extension_requested")
class ExtensionRequested(BaseModel):
    event_id: uuid.UUID
    request_id: uuid.UUID
    unit_id: uuid.UUID
    extra_working_hours: float
    at: datetime


@contract("routing.extension_decided")
class ExtensionDecided(BaseModel):
    event_id: uuid.UUID
    request_id: uuid.UUID
    unit_id: uuid.UUID
    approved: bool
    resolve_by: datetime
    at: datetime


class SubtaskRef(BaseModel):
    subtask_id: uuid.UUID
    unit: UnitRef
    due_at: datetime


@contract("routing.co_handling_started")
class CoHandlingStarted(BaseModel):
    """The lead unit asked assisting units for sub-tasks; it submits the joint result once
    each has answered or timed out."""

    event_id: uuid.UUID
    lead_unit_id: uuid.UUID
    subtasks: list[SubtaskRef]
    at: datetime


@contract("routing.subtask_closed")
class SubtaskClosed(BaseModel):
    event_id: uuid.UUID
    subtask_id: uuid.UUID
    unit_id: uuid.UUID
    outcome: Literal["answered", "timed_out"]
    at: datetime
    # Added later (absent from older producers and from a time-out): the staff member who
    # answered, the assisting unit's name, and the attachments (events' ids) the answer names.
    answered_by: uuid.UUID | None = None
    unit_name: str | None = None
    attachment_ids: list[uuid.UUID] = []


@contract("routing.region_changed")
class RegionChanged(BaseModel):
    """A region was added, renamed or retired in the directory."""

    code: str
    name: str
    level: UnitLevel
    parent_code: str | None
    active: bool


# -- manual supervision (人工督办) -------------------------------------------------------------

SupervisionLevel = Literal["reminder", "supervision", "listed"]  # 提醒 / 督办 / 挂牌督办


@contract("routing.supervision_issued")
class SupervisionIssued(BaseModel):
    """A supervisor told ``unit_id`` (the unit holding the case) what to do by ``reply_by``.
    ``instruction`` has phone and ID numbers masked; the original stays in routing."""

    supervision_id: uuid.UUID
    event_id: uuid.UUID
    case_no: str
    region_code: str
    unit_id: uuid.UUID
    level: SupervisionLevel
    instruction: str
    reply_by: datetime
    issued_by: uuid.UUID
    at: datetime
    # Added later (absent from older producers): the supervised unit's name, and who the
    # supervisor acted for (their unit's name, else the name of their region over the case),
    # for the case's timeline.
    unit_name: str | None = None
    issued_for: str | None = None


@contract("routing.supervision_replied")
class SupervisionReplied(BaseModel):
    """The supervised unit answered; ``late``: after the reply-by time had passed."""

    supervision_id: uuid.UUID
    event_id: uuid.UUID
    unit_id: uuid.UUID
    level: SupervisionLevel
    issued_by: uuid.UUID
    late: bool
    at: datetime
    # Added later (absent from older producers): the staff member who replied, the unit's
    # name and the reply (phone and ID numbers masked; the original stays in routing).
    replied_by: uuid.UUID | None = None
    unit_name: str | None = None
    reply: str | None = None


@contract("routing.supervision_overdue")
class SupervisionOverdue(BaseModel):
    """No reply by ``reply_by``: the supervisors of ``supervisor_region_code`` (one level above
    the unit's own supervisors) are to be told, as for an overdue case."""

    supervision_id: uuid.UUID
    event_id: uuid.UUID
    unit_id: uuid.UUID
    level: SupervisionLevel
    reply_by: datetime
    supervisor_region_code: str
    at: datetime


@contract("routing.supervision_lapsed")
class SupervisionLapsed(BaseModel):
    """The case reached a final state (``case_status``: closed, rated or rejected) before the
    unit replied: the order is no longer awaited, and no longer chased as overdue.
    ``was_overdue``: its reply-by had already passed (and it was raised a level)."""

    supervision_id: uuid.UUID
    event_id: uuid.UUID
    unit_id: uuid.UUID
    level: SupervisionLevel
    case_status: str
    was_overdue: bool
    at: datetime


# Grid workers over their working life (网格员全周期管理): routing owns the organisation and
# duty, so enrolment, leaving, tasks from above, verification duties and patrols are its facts.
GridWorkerKind = Literal["full_time", "part_time"]  # 网格员 | 网格协管员
GridTaskKind = Literal["assigned", "verification"]  # from a manager | a case's on-site 核查


@contract("routing.grid_worker_enrolled")
class GridWorkerEnrolled(BaseModel):
    """A manager enrolled (or changed the grids of) a grid worker."""

    user_id: uuid.UUID
    kind: GridWorkerKind
    grid_codes: list[str]
    started_on: date
    enrolled_by: uuid.UUID
    at: datetime
    display_name: str | None = None  # the name managers and scorecards show


@contract("routing.grid_worker_left")
class GridWorkerLeft(BaseModel):
    """A grid worker left; every open task and verification of theirs moved to ``successor_id``
    in the same step (``moved_task_ids``)."""

    user_id: uuid.UUID
    successor_id: uuid.UUID
    grid_codes: list[str]
    left_on: date
    moved_task_ids: list[uuid.UUID]
    handed_over_by: uuid.UUID
    at: datetime


@contract("routing.grid_task_assigned")
class GridTaskAssigned(BaseModel):
    """A task now belongs to ``worker_id`` (a new task, or one handed over: ``reason``).
    ``event_id`` is the case to verify on site, for a verification."""

    task_id: uuid.UUID
    kind: GridTaskKind
    title: str
    grid_code: str
    worker_id: uuid.UUID
    due_at: datetime
    reason: Literal["new", "handover", "reassigned"]
    event_id: uuid.UUID | None = None
    assigned_by: uuid.UUID | None = None  # None: the platform (a verification duty)
    at: datetime


@contract("routing.grid_task_completed")
class GridTaskCompleted(BaseModel):
    """A task or verification was done by ``worker_id``; ``on_time``: by ``due_at``."""

    task_id: uuid.UUID
    kind: GridTaskKind
    grid_code: str
    worker_id: uuid.UUID
    due_at: datetime
    completed_at: datetime
    on_time: bool
    event_id: uuid.UUID | None = None


@contract("routing.patrol_finished")
class PatrolFinished(BaseModel):
    """A patrol's track is complete: its length and duration, for the worker's figures."""

    patrol_id: uuid.UUID
    worker_id: uuid.UUID
    grid_code: str
    started_at: datetime
    ended_at: datetime
    distance_m: float
    points: int
