"""The holiday calendar of a year as admins see it: the official holidays and make-up workdays
(调休) the maintained library publishes, with the override table's corrections laid over them,
so an admin sees what deadlines will count before and after setting a day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from chinese_calendar import constants as official

from services.routing import store
from shared.auth import Principal, Role
from shared.db.uow import UnitOfWork
from shared.problems import RuleViolation

from .directory import OVERRIDE_YEARS

Source = Literal["official", "override"]


@dataclass(frozen=True)
class CalendarDay:
    """A day that is not what Monday-to-Friday would make it, or that an admin set."""

    day: date
    workday: bool
    source: Source
    holiday: str | None  # the official holiday's key (e.g. ``spring_festival``), if any
    note: str | None


def official_days(year: int) -> dict[date, CalendarDay]:
    """The library's holidays (weekends inside a holiday included: they are named) and its
    make-up workdays of ``year``; empty for a year it has not published."""
    days: dict[date, CalendarDay] = {}
    for table, workday in ((official.holidays, False), (official.workdays, True)):
        for day, holiday in table.items():
            if day.year == year:  # the tables hold the holiday's English name: keyed by enum
                key = official.Holiday(holiday).name
                days[day] = CalendarDay(day, workday, "official", key, None)
    return days


async def remove_override(uow: UnitOfWork, *, principal: Principal, day: date) -> None:
    """The day follows the published schedule again (removing one that is not set is a no-op)."""
    principal.require_role(Role.ADMIN)
    async with uow:
        await store.delete_override(uow, day)


async def calendar_year(uow: UnitOfWork, *, year: int) -> list[CalendarDay]:
    """The year's special days, by date (the route lets platform staff read it)."""
    if year not in OVERRIDE_YEARS:
        raise RuleViolation(
            f"the calendar covers {OVERRIDE_YEARS.start} to {OVERRIDE_YEARS.stop - 1}",
            code="day_invalid",
        )
    async with uow:
        rows = await store.overrides_of_year(uow, year)
    days = official_days(year)
    for row in rows:
        holiday = days[row["day"]].holiday if row["day"] in days else None
        days[row["day"]] = CalendarDay(row["day"], row["workday"], "override", holiday,
                                       row["note"])
    return [days[day] for day in sorted(days)]
