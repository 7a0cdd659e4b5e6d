"""Pure scorecard rules: periods, rates from counts, rankings with a minimum sample.

Definitions (over the cases *reported* in the period, attributed to the unit of their latest
assignment and to the region they were reported in):
- response rate: accepted by the accept-by deadline, over cases whose accept deadline has
  passed or that were accepted;
- on-time resolution rate: result submitted by the (latest) resolve-by deadline, over cases
  whose resolve deadline has passed or that have a result;
- resolution rate: closed (and not reopened by a rework) over all cases;
- satisfaction rate: satisfied + basically satisfied over the reporters' own ratings of the
  latest closure; default ratings are counted apart (and in a second rate that includes them);
- closed-loop rate: four musts met (classified, dispatch trail, result recorded, rated
  satisfied or basically satisfied) over cases closed at least once;
- rework count: dissatisfied ratings that sent a case back;
- average handling time: working hours from report to (latest) closure, over closed cases.

A unit's row also counts its work beyond its own cases (None on a region's row): the
co-handling sub-tasks asked of it in the period (answered by their due time, answered after
it, or timed out unanswered) and the supervisions (督办) issued to it in the period (replied
by the reply-by time, replied after it, or gone overdue unanswered; one that went overdue
and was then answered counts in both).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, cast, get_args
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

SHANGHAI = ZoneInfo("Asia/Shanghai")
Period = Literal["day", "week", "month", "range"]
RANKABLE = (
    "response_rate",
    "on_time_resolution_rate",
    "resolution_rate",
    "satisfaction_rate",
    "closed_loop_rate",
    "avg_handling_hours",
)


class PeriodInvalid(ValueError):
    pass


def period_named(name: str) -> Period:
    """The period called ``name``; :class:`PeriodInvalid` for any other name."""
    for period in get_args(Period):
        if period == name:
            return cast(Period, period)  # a member of the Literal, just compared
    raise PeriodInvalid(f"no period is called {name!r}")


# Dates a period may name: the calendar's own ends have no next day (9999-12-31) or no UTC
# instant for their Shanghai midnight (0001-01-01), and would crash instead of answering.
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(9998, 12, 31)


def period_bounds(
    period: Period, *, day: date | None, start: date | None, end: date | None
) -> tuple[datetime, datetime]:
    """[start, end) in Asia/Shanghai: the day, ISO week (Monday first) or calendar month
    holding ``day``, or the inclusive date range ``start``..``end``."""
    for given in (day, start, end):
        if given is not None and not EARLIEST_DAY <= given <= LATEST_DAY:
            raise PeriodInvalid(f"dates must lie between {EARLIEST_DAY} and {LATEST_DAY}")
    if period == "range":
        if start is None or end is None:
            raise PeriodInvalid("a range needs both 'from' and 'to'")
        if end < start:
            raise PeriodInvalid("'to' is before 'from'")
        if (end - start).days > 366 * 3:
            raise PeriodInvalid("a range may span at most three years")
        first, after = start, end + timedelta(days=1)
    else:
        if day is None:
            raise PeriodInvalid(f"a {period} needs 'date'")
        if period == "day":
            first, after = day, day + timedelta(days=1)
        elif period == "week":
            first = day - timedelta(days=day.weekday())
            after = first + timedelta(days=7)
        else:
            first = day.replace(day=1)
            after = (first + timedelta(days=32)).replace(day=1)
    return (
        datetime.combine(first, time.min, SHANGHAI),
        datetime.combine(after, time.min, SHANGHAI),
    )


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


_PER_UNIT = "a unit's work beyond its own cases, in the period; None on a region's row"


class Figures(BaseModel):
    """The raw figures of a scorecard row: the one declaration of their names (the API's
    scorecard schemas extend it); rates are derived from them (:meth:`rates`)."""

    model_config = ConfigDict(frozen=True)

    cases: int
    response_due: int
    responded_on_time: int
    resolution_due: int
    resolved_on_time: int
    resolved: int
    rated: int
    satisfied: int
    default_rated: int
    default_satisfied: int
    closed_once: int
    closed_loop: int
    rework_count: int
    avg_handling_hours: float | None = Field(description="working hours, report to closure")
    subtasks_asked: int | None = Field(None, description=_PER_UNIT)
    subtasks_answered_on_time: int | None = Field(None, description=_PER_UNIT)
    subtasks_answered_late: int | None = Field(None, description=_PER_UNIT)
    subtasks_timed_out: int | None = Field(None, description=_PER_UNIT)
    supervisions_received: int | None = Field(None, description=_PER_UNIT)
    supervisions_replied_on_time: int | None = Field(None, description=_PER_UNIT)
    supervisions_replied_late: int | None = Field(None, description=_PER_UNIT)
    supervisions_overdue: int | None = Field(None, description=_PER_UNIT)

    @classmethod
    def unit_work(cls) -> list[str]:
        """The names of the per-unit counts of sub-tasks and supervisions."""
        return [name for name in cls.model_fields
                if name.startswith(("subtasks_", "supervisions_"))]

    @classmethod
    def counts(cls) -> list[str]:
        """The names of the case counts (every figure but the average and the unit work)."""
        work = cls.unit_work()
        return [name for name in cls.model_fields
                if name != "avg_handling_hours" and name not in work]

    @classmethod
    def from_row(
        cls, row: Mapping[str, Any], unit_work: Mapping[str, int] | None = None
    ) -> Figures:
        """From a query row (its mapping) naming every case figure; a NULL count is 0.
        ``unit_work`` (a unit's row): its sub-task and supervision counts, absent ones 0."""
        average = row["avg_handling_hours"]
        work = ({} if unit_work is None
                else {name: int(unit_work.get(name, 0)) for name in cls.unit_work()})
        return cls(
            **{name: int(row[name] or 0) for name in Figures.counts()},
            avg_handling_hours=None if average is None else float(average),
            **work,
        )

    def rates(self) -> dict[str, float | None]:
        return {
            "response_rate": _rate(self.responded_on_time, self.response_due),
            "on_time_resolution_rate": _rate(self.resolved_on_time, self.resolution_due),
            "resolution_rate": _rate(self.resolved, self.cases),
            "satisfaction_rate": _rate(self.satisfied, self.rated),
            "satisfaction_rate_with_defaults": _rate(
                self.satisfied + self.default_satisfied, self.rated + self.default_rated
            ),
            "closed_loop_rate": _rate(self.closed_loop, self.closed_once),
        }


def rank(
    rows: list[dict[str, Any]], *, by: str, min_sample: int
) -> list[dict[str, Any]]:
    """Rows with ``rank`` set: ranked by ``by`` (best first: highest rate, lowest handling
    time) among rows with at least ``min_sample`` cases and a value; others get rank None
    and follow, so a unit with three cases cannot top a table of hundreds."""
    if by not in RANKABLE:
        raise ValueError(f"cannot rank by {by!r}")
    lower_is_better = by == "avg_handling_hours"
    eligible = [r for r in rows if r["cases"] >= min_sample and r[by] is not None]
    others = [r for r in rows if r not in eligible]
    eligible.sort(key=lambda r: (r[by] if lower_is_better else -r[by], str(r["key"])))
    ranked: list[dict[str, Any]] = []
    previous: Any = object()
    position = 0
    for index, row in enumerate(eligible, start=1):
        if row[by] != previous:
            position, previous = index, row[by]
        ranked.append({**row, "rank": position})
    others.sort(key=lambda r: str(r["key"]))
    return ranked + [{**r, "rank": None} for r in others]


def child_prefix_length(level: str) -> int | None:
    """How many leading characters of a case's region code name the child of a region of
    ``level`` it lies in (None below grids)."""
    return {"province": 4, "city": 6, "county": 9, "town": 12, "community": 15}.get(level)
