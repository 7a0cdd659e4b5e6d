"""The working-day calendar: holidays, make-up workdays (调休), overrides, working windows."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from shared.calendar import SHANGHAI, WorkingCalendar

CAL = WorkingCalendar()


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def test_national_day_is_a_holiday_and_the_make_up_saturday_is_a_workday() -> None:
    assert not CAL.is_workday(date(2026, 10, 1))
    assert not CAL.is_workday(date(2026, 10, 7))
    assert CAL.is_workday(date(2026, 10, 10))  # Saturday, 调休
    assert not CAL.is_workday(date(2026, 10, 17))  # an ordinary Saturday


def test_overrides_win_over_the_library() -> None:
    cal = WorkingCalendar(overrides={date(2026, 10, 10): False, date(2026, 10, 17): True})
    assert not cal.is_workday(date(2026, 10, 10))
    assert cal.is_workday(date(2026, 10, 17))


def test_working_hours_skip_lunch_and_night() -> None:
    assert CAL.add_working_hours(at(2026, 11, 26, 11, 0), 2) == at(2026, 11, 26, 15, 0)
    assert CAL.add_working_hours(at(2026, 11, 26, 17, 0), 1) == at(2026, 11, 27, 9, 0)
    # Reported at night: the clock starts at the next opening.
    assert CAL.add_working_hours(at(2026, 11, 26, 22, 0), 1) == at(2026, 11, 27, 9, 30)


def test_working_hours_jump_the_national_day_week_to_the_make_up_saturday() -> None:
    # Wednesday 30 September 17:00 + 1 h: the holiday runs 1–7 October, work resumes on 8th.
    assert CAL.add_working_hours(at(2026, 9, 30, 17, 0), 1) == at(2026, 10, 8, 9, 0)
    # Friday 9 October 17:00 + 1 h lands on Saturday the 10th (a workday), not Monday.
    assert CAL.add_working_hours(at(2026, 10, 9, 17, 0), 1) == at(2026, 10, 10, 9, 0)


def test_working_days_count_make_up_days_and_skip_holidays() -> None:
    assert CAL.add_working_days(at(2026, 9, 30, 10, 0), 1) == at(2026, 10, 8, 10, 0)
    assert CAL.add_working_days(at(2026, 10, 9, 10, 0), 1) == at(2026, 10, 10, 10, 0)
    assert CAL.add_working_days(at(2026, 10, 9, 10, 0), 2) == at(2026, 10, 12, 10, 0)
    # Outside working time: counted from the next opening.
    assert CAL.add_working_days(at(2026, 11, 27, 20, 0), 1) == at(2026, 12, 1, 8, 30)


def test_working_hours_between_is_the_inverse_of_adding() -> None:
    start = at(2026, 9, 29, 10, 15)
    for hours in (0.5, 3, 7, 11.25, 40):
        end = CAL.add_working_hours(start, hours)
        assert CAL.working_hours_between(start, end) == pytest.approx(hours)
        assert CAL.working_hours_between(end, start) == pytest.approx(-hours)
    assert CAL.working_hours_between(at(2026, 10, 1, 9), at(2026, 10, 7, 17)) == 0


def test_custom_windows_and_utc_input() -> None:
    cal = WorkingCalendar(windows=[(time(9, 0), time(17, 0))])
    assert cal.hours_per_day == 8
    utc_start = datetime.fromisoformat("2026-11-26T01:00:00+00:00")  # 09:00 in Shanghai
    assert cal.add_working_hours(utc_start, 8) == at(2026, 11, 26, 17, 0)


def test_naive_datetimes_and_bad_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        CAL.add_working_hours(datetime(2026, 1, 1, 9), 1)
    with pytest.raises(ValueError, match="overlap"):
        WorkingCalendar(windows=[(time(8), time(12)), (time(11), time(13))])
