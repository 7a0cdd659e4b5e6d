"""Request and response shapes of grid duty (网格员值守): areas, rosters, check-ins, patrols,
coverage and daily logs (民情日志)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, field_validator

from services.routing.schemas import BaseSchema, Text

Lat = Annotated[float, Field(ge=-90, le=90)]
Lng = Annotated[float, Field(ge=-180, le=180)]
Accuracy = Annotated[float, Field(ge=0, le=100_000)]
GridCode = Annotated[str, Field(pattern=r"^\d{15}$")]
ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
FlagReason = Literal["far_outside_grid", "no_area"]
_EARLIEST, _LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def _plausible(moment: datetime) -> datetime:
    """A device's or a filter's time this century: what PostgreSQL stores and compares
    (year 1 east of Greenwich has no UTC instant at all)."""
    if not _EARLIEST <= moment <= _LATEST:
        raise ValueError("the time must lie between 2000 and 2100")
    return moment


# An aware time as devices and filters send it.
Moment = Annotated[AwareDatetime, AfterValidator(_plausible)]


class AreaIn(BaseSchema):
    """The grid's boundary, as ``[lat, lng]`` vertices in order (closed implicitly)."""

    polygon: list[tuple[Lat, Lng]] = Field(min_length=3, max_length=1000)


class AreaRead(BaseSchema):
    grid_code: str
    polygon: list[tuple[float, float]]
    centre: tuple[float, float]


class RosterIn(BaseSchema):
    """Who is on duty in the grid that day (an empty list: nobody), and the shift's hours
    (Asia/Shanghai, ``HH:MM``)."""

    worker_ids: list[uuid.UUID] = Field(max_length=100)
    starts: ClockTime | None = "08:30"
    ends: ClockTime | None = "17:30"


class RosterRead(BaseSchema):
    grid_code: str
    day: date
    worker_ids: list[uuid.UUID]
    starts: str | None
    ends: str | None


class RosterList(BaseSchema):
    items: list[RosterRead]


class CheckInCreate(BaseSchema):
    """``at`` is the device's time of the check (a queued offline check arrives later)."""

    id: uuid.UUID | None = None
    kind: Literal["in", "out"]
    grid_code: GridCode
    lat: Lat
    lng: Lng
    accuracy_m: Accuracy | None = None
    at: Moment


class CheckInRead(BaseSchema):
    id: uuid.UUID
    worker_id: uuid.UUID
    kind: str
    grid_code: str
    at: datetime
    lat: float
    lng: float
    accuracy_m: float | None = None
    distance_m: float | None
    flagged: bool
    flag_reason: FlagReason | None
    recorded_at: datetime


class CheckInList(BaseSchema):
    items: list[CheckInRead]
    next_cursor: str | None = None


class Shift(BaseSchema):
    grid_code: str
    grid_name: str | None
    starts: str | None
    ends: str | None


class TodayDuty(BaseSchema):
    """Today (Asia/Shanghai): the caller's shifts, and their check-in when on duty now (the
    last check of the day was an ``in``)."""

    day: date
    shifts: list[Shift]
    checked_in: CheckInRead | None


class PatrolCreate(BaseSchema):
    id: uuid.UUID
    grid_code: GridCode
    started_at: Moment


class PatrolRead(BaseSchema):
    id: uuid.UUID
    worker_id: uuid.UUID
    grid_code: str
    started_at: datetime
    ended_at: datetime | None
    points: int
    distance_m: float
    status: Literal["recording", "finished"]


class PatrolList(BaseSchema):
    items: list[PatrolRead]
    next_cursor: str | None = None


class TrackPoint(BaseSchema):
    lat: Lat
    lng: Lng
    at: Moment
    accuracy_m: Accuracy | None = None


class PointBatch(BaseSchema):
    """Points in the order recorded; ``batch_seq`` numbers the patrol's batches from 0, and a
    batch sent again under the same number is accepted once."""

    batch_seq: int = Field(ge=0, le=1_000_000)
    points: list[TrackPoint] = Field(min_length=1, max_length=200)


class BatchAccepted(BaseSchema):
    patrol_id: uuid.UUID
    batch_seq: int
    accepted: int
    duplicate: bool


class PatrolFinish(BaseSchema):
    ended_at: Moment


class Track(BaseSchema):
    """``points``: ``[lat, lng, at]`` in the order recorded."""

    patrol_id: uuid.UUID
    points: list[tuple[float, float, datetime]]


class CoverageCell(BaseSchema):
    lat: float
    lng: float
    visits: int


class Coverage(BaseSchema):
    """Cells of ``cell_m`` metres patrols passed through (``visits``: how many patrols), and
    the share of the grid's area they cover (null without an area)."""

    grid_code: str
    cell_m: float
    cells: list[CoverageCell]
    covered_ratio: float | None


class LogCreate(BaseSchema):
    id: uuid.UUID | None = None
    day: date
    grid_code: GridCode
    text: Text = Field(min_length=1, max_length=4000)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the log is empty")
        return value


class LogRead(BaseSchema):
    id: uuid.UUID
    worker_id: uuid.UUID
    grid_code: str
    day: date
    text: str
    recorded_at: datetime


class LogList(BaseSchema):
    items: list[LogRead]
    next_cursor: str | None = None
