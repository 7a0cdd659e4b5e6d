"""Pure rules of the grid workers' monthly scorecard (#19): months, figures, weights, score.

Figures, per worker and per grid, in one Asia/Shanghai calendar month (the month of the
moment named in brackets):
- ``reports``: cases the worker reported through the grid-worker channel (reported);
- ``verifications`` / ``verifications_on_time``: on-site verifications (核查) completed, and
  of those, completed by their due time (completed);
- ``visits``: household visits (入户走访) (visited);
- ``patrols``, ``patrol_hours``, ``patrol_km``: patrols finished, their duration and length
  (started);
- ``tasks`` / ``tasks_on_time``: tasks from above completed, and of those by their deadline
  (completed);
- ``residents_entered`` / ``residents_verified``: residents newly entered into the registry
  by the worker, and of those, how many have since passed real-name verification (entered).

The score (0..100, higher is better) is the weighted mean of one sub-score per weight::

    score = 100 × Σ w_f · s_f / Σ w_f        (over the weights that apply to the row)

- a *volume* weight (``reports``, ``visits``, ``patrol_hours``, ``patrol_km``,
  ``residents_entered``): s = the row's figure / the best figure of that name on the same
  scorecard (the month's best worker, or grid, in the region asked for); 0 when nobody on it
  has any, so one busy worker sets the bar for their peers, not a fixed quota;
- a *rate* weight (``verifications_on_time_rate``, ``tasks_on_time_rate``,
  ``residents_verified_rate``): s = the rate itself (on time / done, verified / entered). A
  rate with nothing to count (no verification was done) leaves its weight out of that row's
  mean: nobody is rewarded or punished for work they were never given.

The score is None when no weight applies (every weight zero, or only rates with nothing to
count). Weights are set by an admin: each non-negative, at least one above zero;
:data:`DEFAULT_WEIGHTS` until then (volume 70, timeliness 25, registry quality 5).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

SHANGHAI = ZoneInfo("Asia/Shanghai")
_MONTH = re.compile(r"(?P<year>[0-9]{4})-(?P<month>0[1-9]|1[0-2])")

# Kinds of grid_work_items rows.
REPORT = "report"
VERIFICATION = "verification"
TASK = "task"
VISIT = "visit"
PATROL = "patrol"


class MonthInvalid(ValueError):
    pass


def month_of(moment: datetime) -> str:
    """``YYYY-MM`` of the Asia/Shanghai month holding ``moment``."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of the Asia/Shanghai month ``YYYY-MM``; :class:`MonthInvalid` otherwise."""
    found = _MONTH.fullmatch(month)
    if found is None or not 1970 <= int(found["year"]) <= 9998:
        raise MonthInvalid("a month is YYYY-MM, from 1970-01 to 9998-12")
    year, number = int(found["year"]), int(found["month"])
    first = date(year, number, 1)
    after = date(year + number // 12, number % 12 + 1, 1)
    return (datetime.combine(first, time.min, SHANGHAI),
            datetime.combine(after, time.min, SHANGHAI))


class GridFigures(BaseModel):
    """A row's raw figures (the API's schemas extend it)."""

    model_config = ConfigDict(frozen=True)

    reports: int = 0
    verifications: int = 0
    verifications_on_time: int = 0
    visits: int = 0
    patrols: int = 0
    patrol_hours: float = 0.0
    patrol_km: float = 0.0
    tasks: int = 0
    tasks_on_time: int = 0
    residents_entered: int = 0
    residents_verified: int = 0

    def rates(self) -> dict[str, float | None]:
        return {
            "verifications_on_time_rate": _rate(self.verifications_on_time,
                                                self.verifications),
            "tasks_on_time_rate": _rate(self.tasks_on_time, self.tasks),
            "residents_verified_rate": _rate(self.residents_verified, self.residents_entered),
        }


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


VOLUME_WEIGHTS = ("reports", "visits", "patrol_hours", "patrol_km", "residents_entered")
RATE_WEIGHTS = ("verifications_on_time_rate", "tasks_on_time_rate", "residents_verified_rate")
_WEIGHT = Field(ge=0, le=1000)


class GridWeights(BaseModel):
    """One weight per scored figure (see the module's docstring); non-negative."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reports: float = _WEIGHT
    visits: float = _WEIGHT
    patrol_hours: float = _WEIGHT
    patrol_km: float = _WEIGHT
    residents_entered: float = _WEIGHT
    verifications_on_time_rate: float = _WEIGHT
    tasks_on_time_rate: float = _WEIGHT
    residents_verified_rate: float = _WEIGHT

    @property
    def total(self) -> float:
        return float(sum(self.model_dump().values()))


DEFAULT_WEIGHTS = GridWeights(
    reports=20, visits=20, patrol_hours=10, patrol_km=10, residents_entered=10,
    verifications_on_time_rate=10, tasks_on_time_rate=15, residents_verified_rate=5,
)


def best_of(rows: Sequence[GridFigures]) -> dict[str, float]:
    """The best value of each volume figure on one scorecard (0 when nobody has any)."""
    return {name: max((float(getattr(r, name)) for r in rows), default=0.0)
            for name in VOLUME_WEIGHTS}


def score(figures: GridFigures, best: Mapping[str, float], weights: GridWeights
          ) -> float | None:
    """The row's score, 0..100 rounded to one decimal (see the module's docstring)."""
    rates = figures.rates()
    weighted = 0.0
    applied = 0.0
    for name, weight in weights.model_dump().items():
        if weight <= 0:
            continue
        if name in RATE_WEIGHTS:
            sub = rates[name]
            if sub is None:
                continue
        else:
            top = best.get(name, 0.0)
            sub = float(getattr(figures, name)) / top if top > 0 else 0.0
        weighted += weight * sub
        applied += weight
    return None if applied == 0 else round(100 * weighted / applied, 1)


def scored(rows: Sequence[tuple[Any, GridFigures]], weights: GridWeights
           ) -> list[tuple[Any, GridFigures, float | None]]:
    """Each (key, figures) with its score against the best of these rows."""
    best = best_of([figures for _, figures in rows])
    return [(key, figures, score(figures, best, weights)) for key, figures in rows]
