"""Pure rules of the feedback service: a case's summary from the facts learnt about it, and
who may rate which closure.

Why recompute from facts: the bus redelivers and reorders (a case can be seen closed before
it is seen assigned, rated before closed). A summary that is a pure function of the *set* of
facts — never of their arrival order — is exact under both. Ties are broken by a fixed key,
so the same set always yields the same summary.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.calendar import WorkingCalendar
from shared.problems import Conflict, Forbidden, NotFound

SATISFIED = "satisfied"
BASICALLY_SATISFIED = "basically_satisfied"
DISSATISFIED = "dissatisfied"
RATINGS = (SATISFIED, BASICALLY_SATISFIED, DISSATISFIED)
POSITIVE_RATINGS = frozenset({SATISFIED, BASICALLY_SATISFIED})

# Fact kinds, one per message type the projection learns from.
REPORTED, STATUS, CLOSED, ASSIGNED, DEADLINE, RATED, REWORK = (
    "reported",
    "status",
    "closed",
    "assigned",
    "deadline",
    "rated",
    "rework",
)
_STATIC_SOURCES = (REPORTED, CLOSED, STATUS)  # priority order for the case's own fields
_STATIC_FIELDS = ("case_no", "category_code", "major_risk", "urgency", "region_code")


@dataclass(frozen=True)
class Fact:
    message_id: uuid.UUID
    event_id: uuid.UUID
    kind: str
    at: datetime
    data: Mapping[str, Any]

    @property
    def order_key(self) -> tuple[datetime, str]:
        return (self.at, str(self.message_id))


@dataclass
class CaseSummary:
    """One row of ``case_summaries``: everything a scorecard needs about one case."""

    event_id: uuid.UUID
    status: str = "reported"
    case_no: str | None = None
    category_code: str | None = None
    major_risk: str | None = None
    urgency: str | None = None
    region_code: str | None = None
    sensitive: bool = False
    reporter_id: uuid.UUID | None = None
    reported_at: datetime | None = None
    unit_id: uuid.UUID | None = None
    accept_by: datetime | None = None
    accepted_at: datetime | None = None
    resolve_by: datetime | None = None
    result_at: datetime | None = None
    closed_at: datetime | None = None
    closure_count: int = 0
    is_closed: bool = False
    rating: str | None = None
    rating_default: bool | None = None
    rated_at: datetime | None = None
    closed_loop: bool = False
    rework_count: int = 0
    handling_hours: float | None = None
    closures: list[datetime] = field(default_factory=list, repr=False)

    def closure_seq(self, closed_at: datetime) -> int:
        """1-based ordinal of the closure that ended at ``closed_at``."""
        return sorted(self.closures).index(closed_at) + 1

    def as_row(self) -> dict[str, Any]:
        row = {k: v for k, v in self.__dict__.items() if k != "closures"}
        return row


def _dt(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(value)


def _dt_of(value: Any) -> datetime:
    """A moment a fact's payload must carry (``_dt`` of a required field)."""
    moment = _dt(value)
    if moment is None:
        raise ValueError("a required moment is missing from the fact")
    return moment


def summarize(
    event_id: uuid.UUID, facts: Iterable[Fact], calendar: WorkingCalendar
) -> CaseSummary:
    """The summary of a case from the set of its facts (order of the iterable is irrelevant)."""
    by_kind = _by_kind(facts)
    status_facts = by_kind.get(STATUS, [])
    s = CaseSummary(event_id=event_id)
    _apply_static_fields(s, by_kind)
    latest_close = _apply_closures(s, by_kind.get(CLOSED, []))
    _apply_assignment(s, by_kind, latest_close, status_facts)
    _apply_result(s, latest_close, status_facts)
    _apply_reworks(s, by_kind.get(REWORK, []), status_facts)
    _apply_rating(s, by_kind.get(RATED, []), latest_close)
    if s.is_closed and s.reported_at is not None and s.closed_at is not None:
        s.handling_hours = round(calendar.working_hours_between(s.reported_at, s.closed_at), 6)
    s.status = _status(s, status_facts, by_kind.get(REWORK, []))
    return s


def _by_kind(facts: Iterable[Fact]) -> dict[str, list[Fact]]:
    """The facts by kind, each kind's in a fixed order; a fact is its message, so a
    duplicate counts once."""
    by_kind: dict[str, list[Fact]] = {}
    unique = {f.message_id: f for f in facts}
    for fact in sorted(unique.values(), key=lambda f: f.order_key):
        by_kind.setdefault(fact.kind, []).append(fact)
    return by_kind


def _first_given(by_kind: dict[str, list[Fact]], name: str) -> Any:
    """The first non-empty value of ``name``, sources in a fixed priority (None: none)."""
    for kind in _STATIC_SOURCES:
        value = next((f.data.get(name) for f in by_kind.get(kind, ()) if f.data.get(name)),
                     None)
        if value is not None:
            return value
    return None


def _apply_static_fields(s: CaseSummary, by_kind: dict[str, list[Fact]]) -> None:
    """The case's own fields, when it was reported and by whom."""
    for name in _STATIC_FIELDS:
        value = _first_given(by_kind, name)
        if value is not None:
            setattr(s, name, value)
    reported, closed = by_kind.get(REPORTED, []), by_kind.get(CLOSED, [])
    if reported:
        s.sensitive = bool(reported[0].data.get("sensitive"))
        s.reported_at = _dt(reported[0].data["reported_at"])
    elif closed:
        s.reported_at = _dt(closed[0].data["reported_at"])
    reporter = _first_given(by_kind, "reporter_id")
    if reporter:
        s.reporter_id = _uuid(reporter)


def _apply_closures(s: CaseSummary, closed_facts: list[Fact]) -> Fact | None:
    """Each events.event_closed is one closure; the latest one is the one that counts now.
    Returns the latest closure's fact."""
    s.closures = sorted({_dt_of(f.data["closed_at"]) for f in closed_facts})
    s.closure_count = len(s.closures)
    if not closed_facts:
        return None
    latest_close = max(closed_facts, key=lambda f: _dt_of(f.data["closed_at"]))
    s.closed_at = _dt(latest_close.data["closed_at"])
    return latest_close


def _apply_result(s: CaseSummary, latest_close: Fact | None, status_facts: list[Fact]) -> None:
    results = [f.at for f in status_facts if f.data.get("action") == "submit_result"]
    if latest_close and latest_close.data.get("result_submitted_at"):
        results.append(_dt_of(latest_close.data["result_submitted_at"]))
    s.result_at = max(results) if results else None


def _apply_reworks(s: CaseSummary, rework_facts: list[Fact], status_facts: list[Fact]) -> None:
    """Reopened: a rework (requested here or done by events) after the latest closure."""
    reworks = [f.at for f in rework_facts]
    reworks += [f.at for f in status_facts if f.data.get("action") == "rework"]
    s.rework_count = len(rework_facts)
    closed_at = s.closed_at
    s.is_closed = closed_at is not None and not any(r > closed_at for r in reworks)


def _apply_rating(s: CaseSummary, rated_facts: list[Fact], latest_close: Fact | None) -> None:
    """The rating of the latest closure, and whether the loop is closed: the four musts
    (classified, dispatch trail, result recorded, rated positively) met."""
    rating = None
    if s.closed_at is not None:
        rating = next((f for f in rated_facts
                       if _dt(f.data["closure_closed_at"]) == s.closed_at), None)
    if rating is not None:
        s.rating = rating.data["rating"]
        s.rating_default = bool(rating.data["default_applied"])
        s.rated_at = rating.at
    s.closed_loop = bool(
        latest_close is not None
        and s.is_closed
        and latest_close.data.get("classified")
        and latest_close.data.get("dispatch_trail_recorded")
        and latest_close.data.get("result_recorded")
        and s.rating in POSITIVE_RATINGS
    )


def _apply_assignment(
    s: CaseSummary,
    by_kind: dict[str, list[Fact]],
    latest_close: Fact | None,
    status_facts: list[Fact],
) -> None:
    """The responsible unit is the one of the latest assignment (highest ``seq``); its accept
    deadline judges the response, its latest resolve deadline (extensions, rework) the
    resolution. Without any routing fact, the closing record's own figures stand in."""
    assignments = by_kind.get(ASSIGNED, [])
    if assignments:
        latest = max(assignments, key=lambda f: (int(f.data["seq"]), str(f.message_id)))
        s.unit_id = _uuid(latest.data["unit"]["unit_id"])
        assigned_at = _dt(latest.data["assigned_at"])
        s.accept_by = _dt(latest.data["accept_by"])
        s.resolve_by = _dt(latest.data["resolve_by"])
        changes = [
            f for f in by_kind.get(DEADLINE, [])
            if _uuid(f.data["unit_id"]) == s.unit_id and assigned_at is not None
            and f.at >= assigned_at
        ]
        if changes:
            s.resolve_by = _dt(max(changes, key=lambda f: f.order_key).data["resolve_by"])
        accepts = [f.at for f in status_facts
                   if f.data.get("action") == "accept" and assigned_at is not None
                   and f.at >= assigned_at]
        s.accepted_at = min(accepts) if accepts else None
    elif latest_close is not None:
        data = latest_close.data
        s.unit_id = _uuid(data.get("lead_unit_id"))
        s.accept_by, s.resolve_by = _dt(data.get("accept_by")), _dt(data.get("resolve_by"))
        s.accepted_at = _dt(data.get("accepted_at"))
    if s.accepted_at is None:
        accepts = [f.at for f in status_facts if f.data.get("action") == "accept"]
        if accepts and not assignments:
            s.accepted_at = min(accepts)
    if s.unit_id is None and latest_close is not None:
        s.unit_id = _uuid(latest_close.data.get("lead_unit_id"))


def _status(s: CaseSummary, status_facts: list[Fact], reworks: list[Fact]) -> str:
    candidates: list[tuple[datetime, int, str]] = [
        (f.at, 0, str(f.data["to_status"])) for f in status_facts
    ]
    if s.reported_at is not None:
        candidates.append((s.reported_at, -1, "reported"))
    if s.closed_at is not None:
        candidates.append((s.closed_at, 1, "closed"))
    if s.rated_at is not None and s.is_closed:
        candidates.append((s.rated_at, 2, "rated"))
    for f in reworks:
        candidates.append((f.at, 3, "rework_requested"))
    if not candidates:
        return "unknown"
    return max(candidates)[2]


# -- ratings ---------------------------------------------------------------------------------


def check_can_rate(summary: CaseSummary | None, rater_id: uuid.UUID) -> datetime:
    """The closure ``rater_id`` may rate now, or why not. Only the reporter rates; only a
    closed case (not reopened since) can be rated; once per closure is enforced by the store."""
    if summary is None or (summary.reported_at is None and summary.closed_at is None):
        raise NotFound("no such case", code="event_not_found")
    if summary.reporter_id is None:
        # Only cases reported before sealed reporters existed (or seen without any message
        # naming the reporter yet): feedback cannot tell who reported.
        raise Forbidden("only the reporter can rate this case", code="reporter_unknown")
    if summary.reporter_id != rater_id:
        raise Forbidden("only the reporter can rate this case", code="not_reporter")
    if summary.closed_at is not None and summary.rating is not None:
        # Also after a dissatisfied rating: that closure is judged; the next one may be rated.
        raise Conflict("this closure is already rated", code="already_rated")
    if not summary.is_closed or summary.closed_at is None:
        raise Conflict("the case is not closed", code="not_closed")
    return summary.closed_at
