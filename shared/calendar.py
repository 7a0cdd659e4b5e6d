"""Working-day calendar of the Chinese mainland (Asia/Shanghai): official holidays and make-up
workdays (调休) from the maintained ``chinese_calendar`` library, corrected by an override table
(date → workday or holiday) for what the library does not know yet (a newly published year, a
local day off). Infrastructure only: which deadlines count in hours or days is the callers' rule.

Working time is a list of daily windows (default 08:30–12:00 and 14:00–17:30, 7 h a day).
All functions take and return timezone-aware datetimes; naive ones are refused.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shown_time(moment: datetime) -> str:
    """A moment as people in Zhangzhou read it: local date and minute."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")

DEFAULT_WINDOWS: tuple[tuple[time, time], ...] = (
    (time(8, 30), time(12, 0)),
    (time(14, 0), time(17, 30)),
)


def _seconds(window: tuple[time, time]) -> float:
    start, end = window
    return (
        datetime.combine(date.min, end) - datetime.combine(date.min, start)
    ).total_seconds()


@functools.lru_cache(maxsize=8192)
def _official_workday(day: date) -> bool:
    """The library's answer, remembered: deadlines ask about the same few weeks thousands of
    times a minute, and each library call validates and searches its tables afresh."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the library has no official schedule for
        return day.weekday() < 5


@functools.lru_cache(maxsize=4096)
def _day_windows(
    day: date, windows: tuple[tuple[time, time], ...], tz: ZoneInfo
) -> tuple[tuple[datetime, datetime], ...]:
    """A workday's windows as moments (every deadline computation walks the same few days,
    and a calendar is built per decision)."""
    return tuple((datetime.combine(day, s, tz), datetime.combine(day, e, tz)) for s, e in windows)


@dataclass(frozen=True)
class WorkingCalendar:
    """``overrides`` maps a date to True (workday) or False (holiday); it wins over the library.
    Dates the library does not cover (beyond its published years) fall back to Mon–Fri."""

    overrides: Mapping[date, bool] = field(default_factory=dict)
    windows: Sequence[tuple[time, time]] = DEFAULT_WINDOWS
    tz: ZoneInfo = SHANGHAI

    def __post_init__(self) -> None:
        for start, end in self.windows:
            if not start < end:
                raise ValueError("a working window must end after it starts")
        ordered = sorted(self.windows)
        for (_, end), (start, _) in itertools.pairwise(ordered):
            if start < end:
                raise ValueError("working windows must not overlap")
        object.__setattr__(self, "windows", tuple((start, end) for start, end in ordered))

    @property
    def hours_per_day(self) -> float:
        return sum(_seconds(w) for w in self.windows) / 3600

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        return _official_workday(day)

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware one")
        return moment.astimezone(self.tz)

    def _windows_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        if not self.is_workday(day):
            return ()
        return _day_windows(day, tuple(self.windows), self.tz)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` of working time after ``start`` (skipping nights, lunch
        breaks, weekends and holidays; make-up workdays count)."""
        if hours < 0:
            raise ValueError("hours must not be negative")
        remaining = hours * 3600
        cursor = self._local(start)
        day = cursor.date()
        for _ in range(3660):  # ten years of days: a bound, never reached in practice
            for win_start, win_end in self._windows_on(day):
                begin = max(cursor, win_start)
                if begin >= win_end:
                    continue
                available = (win_end - begin).total_seconds()
                if remaining <= available:
                    return begin + timedelta(seconds=remaining)
                remaining -= available
            day += timedelta(days=1)
            cursor = datetime.combine(day, time.min, self.tz)
        raise ValueError("no working time found within ten years")

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same time of day ``days`` workdays later (a start outside working time counts
        from the next working moment); the end of that day's last window if the time of day
        lies after it. Zero days: ``start`` itself."""
        if days < 0:
            raise ValueError("days must not be negative")
        local = self._local(start)
        if days == 0:
            return local
        # A report at 20:00 counts from the next morning's opening.
        anchor = self.add_working_hours(local, 0)
        day = anchor.date()
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_workday(day):
                counted += 1
        last_close = datetime.combine(day, self.windows[-1][1], self.tz)
        same_time = datetime.combine(day, anchor.time(), self.tz)
        return min(same_time, last_close)

    def working_hours_between(self, a: datetime, b: datetime) -> float:
        """Working hours from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
        a_local, b_local = self._local(a), self._local(b)
        if b_local < a_local:
            return -self.working_hours_between(b_local, a_local)
        total = 0.0
        day = a_local.date()
        while day <= b_local.date():
            for win_start, win_end in self._windows_on(day):
                begin, end = max(a_local, win_start), min(b_local, win_end)
                if end > begin:
                    total += (end - begin).total_seconds()
            day += timedelta(days=1)
        return total / 3600
