"""What per-unit counts (co-handling, supervision) share: the span of Shanghai days they
cover, and which units' rows a caller may read."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from shared.auth import Principal, Role
from shared.calendar import SHANGHAI
from shared.problems import RuleViolation

COUNT_ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.DISPATCHER, Role.DEPT_ADMIN, Role.DEPT_STAFF)
_LONGEST_SPAN_DAYS = 366 * 3


def day_span(first: date, last: date) -> tuple[datetime, datetime]:
    """``first`` to ``last`` (Shanghai days, inclusive) as a half-open span of moments."""
    if last < first or (last - first).days > _LONGEST_SPAN_DAYS:
        raise RuleViolation("the range ends before it starts or spans over three years",
                            code="date_range_invalid")
    start = datetime.combine(first, time.min, SHANGHAI)
    return start, datetime.combine(last + timedelta(days=1), time.min, SHANGHAI)


def readable_by(principal: Principal, rows: Iterable[Any]) -> list[Any]:
    """The rows of units the caller belongs to, or whose region the caller's scope holds."""
    return [r for r in rows if principal.in_department(r["unit_id"])
            or (r["unit_region_code"] is not None
                and principal.covers_region(r["unit_region_code"]))]
