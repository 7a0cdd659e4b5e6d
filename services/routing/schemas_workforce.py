"""Request and response shapes of the grid workers' routes (网格员): profiles, trainings,
leaving, tasks and their completion."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from services.routing.schemas import BaseSchema, Text

GridWorkerKind = Literal["full_time", "part_time"]  # 网格员 | 网格协管员
WorkerStatus = Literal["active", "left"]
TrainingResult = Literal["passed", "failed", "attended"]
TaskKind = Literal["assigned", "verification"]
TaskStatus = Literal["open", "done", "cancelled"]
# Shape only; whether it is a grid the caller covers is the service's to say.
GridCode = Annotated[Text, Field(min_length=1, max_length=15)]
Phone = Annotated[str, Field(min_length=5, max_length=20, pattern=r"^\+?[0-9][0-9 -]*$")]
Name = Annotated[Text, Field(min_length=1, max_length=100)]


class Location(BaseSchema):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class TrainingCreate(BaseSchema):
    course: Text = Field(min_length=1, max_length=200)
    held_on: date
    result: TrainingResult
    hours: float | None = Field(None, ge=0, le=1000)
    note: Text | None = Field(None, max_length=2000)


class TrainingRead(BaseSchema):
    """A course taken; ``note`` with phone and ID numbers masked."""

    id: uuid.UUID
    course: str
    held_on: date
    result: TrainingResult
    hours: float | None = None
    note: str | None = None
    recorded_by: uuid.UUID
    recorded_at: datetime


class GridWorkerCreate(BaseSchema):
    """Enrol a staff account (made by identity with role grid_worker) in grids."""

    user_id: uuid.UUID
    display_name: Name
    kind: GridWorkerKind = "full_time"
    grid_codes: list[GridCode] = Field(min_length=1, max_length=20)
    started_on: date
    phone: Phone | None = None


class GridWorkerUpdate(BaseSchema):
    """What changes (omitted: unchanged); ``grid_codes`` replaces the grids as a whole."""

    display_name: Name | None = None
    kind: GridWorkerKind | None = None
    grid_codes: list[GridCode] | None = Field(None, min_length=1, max_length=20)
    phone: Phone | None = None


class GridWorkerRead(BaseSchema):
    """A grid worker: ``phone_masked`` only (the number is kept encrypted); ``successor_id``:
    who took over their open work when they left."""

    user_id: uuid.UUID
    display_name: str
    kind: GridWorkerKind
    grid_codes: list[str]
    started_on: date
    phone_masked: str | None = None
    status: WorkerStatus
    left_on: date | None = None
    successor_id: uuid.UUID | None = None
    trainings: list[TrainingRead] = Field(default_factory=list)


class GridWorkerPage(BaseSchema):
    items: list[GridWorkerRead]
    next_cursor: str | None = None


class LeaveIn(BaseSchema):
    successor_id: uuid.UUID | None = None
    left_on: date
    reason: Text | None = Field(None, max_length=500)


class LeaveRead(BaseSchema):
    user_id: uuid.UUID
    successor_id: uuid.UUID | None
    moved_task_ids: list[uuid.UUID]
    left_on: date


class GridTaskCreate(BaseSchema):
    """A task from above: to one worker of the grid, or (no ``worker_id``) to each of them,
    done when any of them completes it."""

    title: Text = Field(min_length=1, max_length=200)
    detail: Text | None = Field(None, max_length=2000)
    grid_code: GridCode
    worker_id: uuid.UUID | None = None
    due_at: AwareDatetime


class Evidence(BaseSchema):
    note: str | None = None
    attachment_ids: list[uuid.UUID] = Field(default_factory=list)
    location: Location | None = None


class TrailEntry(BaseSchema):
    """``action``: created, handover, completed or cancelled; ``actor_id`` None: the
    platform."""

    at: datetime
    action: str
    actor_id: uuid.UUID | None = None
    from_worker_id: uuid.UUID | None = None
    to_worker_id: uuid.UUID | None = None
    note: str | None = None


class GridTaskRead(BaseSchema):
    id: uuid.UUID
    kind: TaskKind
    title: str
    detail: str | None = None
    grid_code: str
    worker_id: uuid.UUID | None = None
    event_id: uuid.UUID | None = None
    case_no: str | None = None
    due_at: datetime
    status: TaskStatus
    completed_at: datetime | None = None
    completed_by: uuid.UUID | None = None
    on_time: bool | None = None
    evidence: Evidence | None = None
    trail: list[TrailEntry] = Field(default_factory=list)


class GridTaskPage(BaseSchema):
    items: list[GridTaskRead]
    next_cursor: str | None = None


class CompletionIn(BaseSchema):
    """``completed_at``: when it was done on the device (a report queued offline), not in
    the future; now when omitted."""

    note: Text = Field(min_length=1, max_length=2000)
    attachment_ids: list[uuid.UUID] = Field(default_factory=list, max_length=20)
    location: Location | None = None
    completed_at: AwareDatetime | None = None
