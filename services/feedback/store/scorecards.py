"""Scorecard and command-centre queries over ``case_summaries`` (one row per case)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, or_, select

from services.feedback.domain import POSITIVE_RATINGS
from services.feedback.store.tables import case_summaries as cs
from services.feedback.store.tables import units
from shared.db.uow import UnitOfWork

_POSITIVE = sorted(POSITIVE_RATINGS)


def _counts(as_of: datetime) -> list[ColumnElement[Any]]:
    """The raw figures every scorecard row carries; rates are derived from them."""
    return [
        *_additive_counts(as_of),
        func.avg(cs.c.handling_hours).filter(cs.c.is_closed).label("avg_handling_hours"),
    ]


def _additive_counts(as_of: datetime) -> list[ColumnElement[Any]]:
    """The figures that add up across regions (every one but the average handling time)."""
    resident_rated = and_(cs.c.rating.is_not(None), cs.c.rating_default.is_(False))
    return [
        func.count().label("cases"),
        func.count().filter(
            and_(cs.c.accept_by.is_not(None),
                 or_(cs.c.accepted_at.is_not(None), cs.c.accept_by < as_of))
        ).label("response_due"),
        func.count().filter(cs.c.accepted_at <= cs.c.accept_by).label("responded_on_time"),
        func.count().filter(
            and_(cs.c.resolve_by.is_not(None),
                 or_(cs.c.result_at.is_not(None), cs.c.resolve_by < as_of))
        ).label("resolution_due"),
        func.count().filter(cs.c.result_at <= cs.c.resolve_by).label("resolved_on_time"),
        func.count().filter(cs.c.is_closed).label("resolved"),
        func.count().filter(resident_rated).label("rated"),
        func.count().filter(and_(resident_rated, cs.c.rating.in_(_POSITIVE))).label("satisfied"),
        func.count().filter(cs.c.rating_default.is_(True)).label("default_rated"),
        func.count().filter(
            and_(cs.c.rating_default.is_(True), cs.c.rating.in_(_POSITIVE))
        ).label("default_satisfied"),
        func.count().filter(cs.c.closure_count > 0).label("closed_once"),
        func.count().filter(cs.c.closed_loop).label("closed_loop"),
        func.coalesce(func.sum(cs.c.rework_count), 0).label("rework_count"),
    ]


def _in_period(start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(cs.c.reported_at >= start, cs.c.reported_at < end)


async def by_unit(
    uow: UnitOfWork,
    *,
    start: datetime,
    end: datetime,
    as_of: datetime,
    unit_ids: Sequence[uuid.UUID] | None = None,
) -> list[Any]:
    query = (
        select(cs.c.unit_id, units.c.name, units.c.level, units.c.region_code, *_counts(as_of))
        .select_from(cs.outerjoin(units, units.c.unit_id == cs.c.unit_id))
        .where(_in_period(start, end), cs.c.unit_id.is_not(None))
        .group_by(cs.c.unit_id, units.c.name, units.c.level, units.c.region_code)
    )
    if unit_ids is not None:
        query = query.where(cs.c.unit_id.in_(list(unit_ids)))
    return list((await uow.connection.execute(query)).all())


async def by_region(
    uow: UnitOfWork,
    *,
    region_like: str,
    child_length: int | None,
    start: datetime,
    end: datetime,
    as_of: datetime,
) -> tuple[Any, list[Any]]:
    """The region's own row, and one row per child region (the first ``child_length``
    characters of a case's region code name the child it lies in)."""
    within = and_(_in_period(start, end), cs.c.region_code.like(region_like))
    if child_length is None:
        total = (await uow.connection.execute(select(*_counts(as_of)).where(within))).one()
        return total, []
    child: ColumnElement[Any] = func.left(cs.c.region_code, child_length)
    if child_length == 4:  # children of a province are cities: "3506" + "00"
        child = func.left(cs.c.region_code, 4) + literal("00")
    # One scan, grouped by child: a plain GROUP BY, which PostgreSQL can split over parallel
    # workers (a ROLLUP over the cases cannot be; it ran at half the speed). ROLLUP then adds
    # the region's own row (grouping = 1) over the few child rows; the average handling time
    # is rebuilt from its sum and count so the region's own is over its cases, not its children.
    additive = _additive_counts(as_of)
    per_child = (
        select(child.label("region_code"), *additive,
               func.sum(cs.c.handling_hours).filter(cs.c.is_closed).label("hours_sum"),
               func.count(cs.c.handling_hours).filter(cs.c.is_closed).label("hours_count"))
        .where(within)
        .group_by(child)
        .subquery()
    )
    region = per_child.c.region_code
    rows = list((await uow.connection.execute(
        select(region, func.grouping(region).label("is_total"),
               *(func.sum(per_child.c[column.name]).label(column.name) for column in additive),
               (func.sum(per_child.c.hours_sum)
                / func.nullif(func.sum(per_child.c.hours_count), 0)).label("avg_handling_hours"))
        .group_by(func.rollup(region))
        .order_by(region)
    )).all())
    totals = [r for r in rows if r.is_total]
    children = [r for r in rows if not r.is_total]
    if not totals:  # no case at all: ROLLUP yields no rows over an empty input
        return (await uow.connection.execute(select(*_counts(as_of)).where(within))).one(), []
    return totals[0], children
