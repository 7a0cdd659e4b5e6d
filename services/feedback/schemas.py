"""Request and answer shapes of the feedback API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.feedback import grid_scoring, scoring
from shared.contracts.feedback import Rating
from shared.validation import StorableText

RatingValue = Rating


class BaseSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RatingCreate(BaseSchema):
    event_id: uuid.UUID
    rating: RatingValue
    comment: StorableText | None = Field(None, max_length=500)


class RatingRead(BaseSchema):
    event_id: uuid.UUID
    rating: RatingValue
    default_applied: bool
    rated_at: datetime
    closure_seq: int
    rework_requested: bool


class NotificationRead(BaseSchema):
    id: uuid.UUID
    kind: str
    title: str
    body: str
    event_id: uuid.UUID | None
    created_at: datetime
    read_at: datetime | None
    wechat_status: str


class NotificationPage(BaseSchema):
    items: list[NotificationRead]
    next_cursor: str | None


class StaffNoticeRead(BaseSchema):
    """A notice for staff: to a role over a region (supervision, supervision_overdue,
    escalation, returned, queued) or to a unit's staff (assigned, deadline_warning,
    supervision_issued, co_handling) or to one staff member by name (grid_task: a grid task
    given to a grid worker)."""

    id: uuid.UUID
    kind: str
    region_code: str | None = Field(description="the region it is addressed to or concerns")
    addressed_unit_id: uuid.UUID | None = Field(
        None, description="set: addressed to this unit's staff")
    event_id: uuid.UUID | None = Field(
        description="the case concerned; None for a grid task that concerns no case")
    grid_task_id: uuid.UUID | None = Field(None, description="set: the grid task concerned")
    case_no: str | None
    unit_id: uuid.UUID | None
    title: str
    body: str
    occurred_at: datetime
    created_at: datetime
    read_at: datetime | None = Field(description="when the caller read it")


class StaffNoticePage(BaseSchema):
    items: list[StaffNoticeRead]
    next_cursor: str | None


class StaffNoticeUnread(BaseSchema):
    unread: int


class StaffNoticesMarked(BaseSchema):
    marked: int = Field(description="notices newly marked read")


class Figures(BaseSchema, scoring.Figures):
    """A scorecard row's figures (declared once, in scoring) and the rates derived from them."""

    response_rate: float | None
    on_time_resolution_rate: float | None
    resolution_rate: float | None
    satisfaction_rate: float | None = Field(description="reporters' own ratings only")
    satisfaction_rate_with_defaults: float | None
    closed_loop_rate: float | None


class UnitScorecardRead(Figures):
    unit_id: uuid.UUID
    unit_name: str | None
    unit_level: str | None
    unit_region_code: str | None
    rank: int | None = Field(description="None below the minimum sample size")


class RegionScorecardRead(Figures):
    region_code: str
    level: str | None


class PeriodRead(BaseSchema):
    start: datetime
    end: datetime
    as_of: datetime


class UnitScorecardPage(BaseSchema):
    period: PeriodRead
    rank_by: str
    min_sample_size: int
    items: list[UnitScorecardRead]


class RegionScorecardAnswer(BaseSchema):
    period: PeriodRead
    region: RegionScorecardRead
    children: list[RegionScorecardRead]


class CountsRead(BaseSchema):
    period: PeriodRead
    region_code: str
    by_status: dict[str, int]
    by_category: dict[str, int]
    by_major_risk: dict[str, int]
    by_region: dict[str, int] = Field(description="per child region")


class TrendDay(BaseSchema):
    date: date
    reported: int
    closed: int


class TrendRead(BaseSchema):
    region_code: str
    items: list[TrendDay]


class OverdueRead(BaseSchema):
    event_id: uuid.UUID
    case_no: str | None
    category_code: str | None
    region_code: str | None
    status: str
    unit_id: uuid.UUID | None
    missed: Literal["accept", "resolve"]
    missed_deadline: datetime
    reported_at: datetime | None


class OverduePage(BaseSchema):
    items: list[OverdueRead]
    next_cursor: str | None


class HotspotRead(BaseSchema):
    id: uuid.UUID
    region_code: str
    category_code: str
    report_count: int
    window_start: datetime
    flagged_at: datetime


class HotspotList(BaseSchema):
    items: list[HotspotRead]


# -- grid workers' scorecards (#19; figures and score defined in grid_scoring) ---------------


class GridFiguresRead(BaseSchema, grid_scoring.GridFigures):
    """A worker's or a grid's figures in the month and the rates derived from them."""

    verifications_on_time_rate: float | None
    tasks_on_time_rate: float | None
    residents_verified_rate: float | None


class GridWeightsBody(BaseSchema, grid_scoring.GridWeights):
    """Every weight of the grid scorecard: each 0..1000, at least one above zero."""


class GridWorkerScoreRead(BaseSchema):
    worker_id: uuid.UUID
    display_name: str | None
    grid_codes: list[str]
    status: str | None = Field(description="active or left; None when not enrolled here")
    figures: GridFiguresRead
    score: float | None = Field(description="0..100; None when no weight applies")


class GridScoreRead(BaseSchema):
    grid_code: str
    figures: GridFiguresRead
    score: float | None


class GridScorecardRead(BaseSchema):
    month: str
    region_code: str
    weights: GridWeightsBody
    workers: list[GridWorkerScoreRead] = Field(description="best score first")
    grids: list[GridScoreRead] = Field(description="best score first")


class GridScorecardMine(BaseSchema):
    month: str
    weights: GridWeightsBody
    worker: GridWorkerScoreRead
