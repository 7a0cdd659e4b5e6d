"""Routing's pure rules: which level and kind of unit owns a case, the next level up,
deadlines and reminder times on the working calendar, and who may take which routing action.
No I/O here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.calendar import WorkingCalendar
from shared.problems import Conflict
from shared.regions import parent, region_level

Level = Literal["grid", "community", "town", "county", "city"]
LEVEL_DIGITS = {"county": 6, "town": 9, "community": 12, "grid": 15}
NEXT_LEVEL: dict[str, str] = {"grid": "community", "community": "town", "town": "county"}
DEFAULT_UNIT_KIND = {"community": "community", "town": "town_office", "county": "pingan_office"}
DISPATCHER = "dispatcher"  # a rule's unit kind meaning "the dispatcher triages it"
HANDLING = frozenset({"dispatched", "accepted", "in_progress"})


@dataclass(frozen=True)
class Rule:
    category_code: str
    level: str
    unit_kind: str
    entry: bool


@dataclass(frozen=True)
class Policy:
    accept_hours: float
    resolve_amount: float
    resolve_unit: Literal["hours", "days"]
    auto_escalate: bool


@dataclass(frozen=True)
class Target:
    level: str
    unit_kind: str

    @property
    def to_dispatcher(self) -> bool:
        return self.unit_kind == DISPATCHER


def region_at(code: str, level: str) -> str | None:
    """The ancestor of ``code`` at ``level`` (None when ``code`` is above that level)."""
    digits = LEVEL_DIGITS[level]
    return code[:digits] if len(code) >= digits else None


def _rule_for(rules: Iterable[Rule], categories: Sequence[str], level: str | None,
              entry: bool | None) -> Rule | None:
    rules = list(rules)
    for category in categories:  # the most specific category first
        for rule in rules:
            if rule.category_code != category:
                continue
            if level is not None and rule.level != level:
                continue
            if entry is not None and rule.entry != entry:
                continue
            return rule
    return None


def entry_target(rules: Iterable[Rule], category_code: str, major_risk: str) -> Target:
    """Where a new report lands: an entry rule's unit, else the community of the location."""
    rule = _rule_for(rules, [category_code, major_risk], None, True)
    if rule is not None:
        return Target(rule.level, rule.unit_kind)
    return Target("community", DEFAULT_UNIT_KIND["community"])


def escalation_target(rules: Iterable[Rule], category_code: str, major_risk: str,
                      current_level: str) -> Target:
    """One level up (community → town → county): that level's rule, else its default unit."""
    level = NEXT_LEVEL.get(current_level)
    if level is None:
        raise Conflict("county departments are the top of the escalation ladder",
                       code="escalation_ceiling")
    rule = _rule_for(rules, [category_code, major_risk], level, None)
    if rule is not None and rule.unit_kind != DISPATCHER:
        return Target(level, rule.unit_kind)
    return Target(level, DEFAULT_UNIT_KIND[level])


def supervisor_region(unit_region_code: str) -> str:
    """Supervision (督办) goes to the level above the unit; county units to their county."""
    level = region_level(unit_region_code)
    if level in ("community", "town", "grid"):
        return parent(unit_region_code) or unit_region_code
    return unit_region_code


@dataclass(frozen=True)
class Deadlines:
    accept_by: datetime
    resolve_by: datetime


def resolve_deadline(calendar: WorkingCalendar, policy: Policy, start: datetime) -> datetime:
    if policy.resolve_unit == "days":
        return calendar.add_working_days(start, int(policy.resolve_amount))
    return calendar.add_working_hours(start, policy.resolve_amount)


def deadlines(calendar: WorkingCalendar, policy: Policy, start: datetime) -> Deadlines:
    return Deadlines(
        accept_by=calendar.add_working_hours(start, policy.accept_hours),
        resolve_by=resolve_deadline(calendar, policy, start),
    )


def reminder_times(calendar: WorkingCalendar, start: datetime, deadline: datetime,
                   fractions: Iterable[float]) -> list[tuple[float, datetime]]:
    """(fraction, when) for each reminder, measured in working time, and (1.0, deadline)."""
    total = max(calendar.working_hours_between(start, deadline), 0.0)
    times = [
        (f, calendar.add_working_hours(start, total * f)) for f in sorted(set(fractions))
        if 0 < f < 1
    ]
    return [*times, (1.0, deadline)]
