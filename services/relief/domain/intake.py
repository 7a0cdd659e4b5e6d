"""Intake rules of relief applications: ID check digit, age (minors), months, money."""

from __future__ import annotations

from datetime import date

ADULT_AGE = 18

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number_valid(value: str) -> bool:
    """GB 11643 check digit over an 18-character resident ID (birth date not checked here)."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17].upper()


def age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def is_minor(birth_date: date, today: date) -> bool:
    return age_on(birth_date, today) < ADULT_AGE


def month_start(value: str) -> date:
    """``"2026-11"`` → 2026-11-01; raises ValueError on anything else."""
    year, sep, month = value.partition("-")
    if not sep or len(year) != 4 or len(month) != 2:
        raise ValueError("a month is written YYYY-MM")
    return date(int(year), int(month), 1)


def yuan(fen: int) -> str:
    """Fen as a decimal yuan string, exact (no floats): 739800000 → "7398000.00"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"
