"""Scorecards per unit (department) and per region, within the caller's scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.feedback import scoring
from services.feedback.scoring import Figures
from services.feedback.store import scorecards as store
from services.feedback.store import unit_work
from shared.auth.principal import Principal, Role
from shared.db.uow import UnitOfWork
from shared.regions import covers, is_region_code, region_level

SCORECARD_ROLES = (
    Role.ADMIN,
    Role.SUPERVISOR,
    Role.DISPATCHER,
    Role.DEPT_ADMIN,
    Role.DEPT_STAFF,
)


def _row(key: str, figures: Figures, **labels: Any) -> dict[str, Any]:
    return {
        "key": key,
        **labels,
        **figures.model_dump(),
        **figures.rates(),
    }


def _sees_unit(principal: Principal, unit_id: Any, unit_region: str | None) -> bool:
    """A unit's scorecard is visible to its own staff and to staff whose region scope holds
    the unit's region."""
    if principal.in_department(unit_id):
        return True
    return unit_region is not None and principal.covers_region(unit_region)


async def unit_scorecards(
    *,
    uow: UnitOfWork,
    principal: Principal,
    start: datetime,
    end: datetime,
    as_of: datetime,
    rank_by: str,
    min_sample: int,
) -> list[dict[str, Any]]:
    """Each unit with cases, sub-tasks or supervisions in the period (an assisting unit may
    hold no case of its own and still have a scorecard)."""
    async with uow:
        rows = await store.by_unit(uow, start=start, end=end, as_of=as_of)
        work = await _unit_work(uow, start=start, end=end)
        case_units = {r.unit_id for r in rows}
        labels = await unit_work.unit_labels(uow, [u for u in work if u not in case_units])
    visible = [
        _unit_row(r.unit_id, Figures.from_row(r._mapping, work.get(r.unit_id, {})), r)
        for r in rows
        if _sees_unit(principal, r.unit_id, r.region_code)
    ]
    for unit_id, counts in work.items():
        label = labels.get(unit_id)
        region = None if label is None else label.region_code
        if unit_id not in case_units and _sees_unit(principal, unit_id, region):
            visible.append(_unit_row(unit_id, Figures.from_row(_NO_CASES, counts), label))
    return scoring.rank(visible, by=rank_by, min_sample=min_sample)


# The case figures of a unit that held no case in the period.
_NO_CASES = {"avg_handling_hours": None, **{name: 0 for name in Figures.counts()}}


def _unit_row(unit_id: Any, figures: Figures, label: Any) -> dict[str, Any]:
    return _row(
        str(unit_id),
        figures,
        unit_id=unit_id,
        unit_name=None if label is None else label.name,
        unit_level=None if label is None else label.level,
        unit_region_code=None if label is None else label.region_code,
    )


async def _unit_work(
    uow: UnitOfWork, *, start: datetime, end: datetime
) -> dict[Any, dict[str, int]]:
    """Per unit, its sub-task and supervision counts in the period."""
    subtasks = await unit_work.subtasks_by_unit(uow, start=start, end=end)
    supervisions = await unit_work.supervisions_by_unit(uow, start=start, end=end)
    return {
        unit_id: {**subtasks.get(unit_id, {}), **supervisions.get(unit_id, {})}
        for unit_id in subtasks.keys() | supervisions.keys()
    }


async def region_scorecard(
    *,
    uow: UnitOfWork,
    principal: Principal,
    region_code: str,
    start: datetime,
    end: datetime,
    as_of: datetime,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The region's own figures and its children's (rolled up from every case below)."""
    principal.require_region(region_code)
    level = region_level(region_code)
    async with uow:
        total, children = await store.by_region(
            uow,
            region_like=region_like(region_code),
            child_length=scoring.child_prefix_length(level),
            start=start,
            end=end,
            as_of=as_of,
        )
    own = _row(region_code, Figures.from_row(total._mapping), region_code=region_code, level=level)
    rows = [
        _row(c.region_code, Figures.from_row(c._mapping), region_code=c.region_code,
             level=region_level(c.region_code) if is_region_code(c.region_code) else None)
        for c in children
        if c.region_code != region_code and covers(region_code, c.region_code)
    ]
    return own, rows


def region_like(code: str) -> str:
    """LIKE pattern of the codes inside ``code`` (a city's counties share its 4 digits)."""
    level = region_level(code)
    if level == "province":
        return code[:2] + "%"
    if level == "city":
        return code[:4] + "%"
    return code + "%"
