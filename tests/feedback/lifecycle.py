"""Builds the bus messages of case lifecycles with known timings (Asia/Shanghai, March 2026:
Mondays to Thursdays, so every "next day" is a working day).

Each case is reported at 09:00 and assigned at 09:05 with accept-by 10:00 and resolve-by
16:00. Accepted at 09:30 (on time) or 10:30 (late); result at 15:00 (on time) or 16:30
(late); closed after 6 working hours (17:00), 7 (next day 09:00) or 9 (next day 11:00).
A reworked case is closed at 17:00, rated dissatisfied at 17:10, reopened the next morning
at 08:40 with resolve-by the day after at 12:00, and closed again at 17:00 the next day
(13 working hours after the report).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from services.feedback import domain
from services.feedback.domain import Fact
from shared.contracts.events import EventClosed, EventReported, EventStatusChanged
from shared.contracts.routing import DeadlineChanged, EventAssigned, UnitRef
from shared.messaging.envelope import Envelope

SH = ZoneInfo("Asia/Shanghai")
RATING_NAMES = {"S": "satisfied", "B": "basically_satisfied", "D": "dissatisfied"}


def at(day: date, hh: int, mm: int = 0, *, plus_days: int = 0) -> datetime:
    return datetime.combine(day + timedelta(days=plus_days), time(hh, mm), SH)


@dataclass
class Unit:
    unit_id: uuid.UUID
    name: str
    region_code: str

    def ref(self) -> UnitRef:
        return UnitRef(unit_id=self.unit_id, name=self.name, kind="town_office",
                       level="town", region_code=self.region_code)


@dataclass
class Spec:
    name: str
    unit: Unit | None
    region: str
    day: date
    accept: str | None = "on"  # on | late | None (never accepted)
    result: str | None = "on"  # on | late | None (no result yet)
    close_hours: int | None = 6  # 6 | 7 | 9 | None (not closed)
    rating: str | None = None  # S | B | D, of the (first) closure
    default: bool = False
    musts: bool = True
    rework_final: str | None = None  # rating after the rework's second closure
    routed: bool = True  # False: routing's messages never arrive (closing record only)
    reported_only: bool = False
    category: str = "dispute.neighbour"
    reporter_id: uuid.UUID = field(default_factory=uuid.uuid4)
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass
class Lifecycle:
    spec: Spec
    envelopes: list[Envelope]
    ratings: list[Fact]  # as the ratings use case records them (for replay tests)
    closures: list[datetime]


def _envelope(event_type: str, model: BaseModel) -> Envelope:
    return Envelope(event_type=event_type, producer=event_type.split(".")[0],
                    payload=model.model_dump(mode="json"))


def _close_time(day: date, hours: int) -> datetime:
    return {6: at(day, 17), 7: at(day, 9, plus_days=1), 9: at(day, 11, plus_days=1)}[hours]


def build(spec: Spec) -> Lifecycle:
    d, eid = spec.day, spec.event_id
    case_no = f"PA{d:%Y%m%d}{str(eid)[:6]}"
    common = {"event_id": eid, "case_no": case_no, "category_code": spec.category,
              "region_code": spec.region}
    out: list[Envelope] = [
        _envelope("events.event_reported", EventReported(
            **common, major_risk="social_conflict", urgency="normal", sensitive=False,
            reported_at=at(d, 9), channel="resident", reporter_id=spec.reporter_id))
    ]
    if spec.reported_only:
        return Lifecycle(spec, out, [], [])
    unit = spec.unit
    assert unit is not None

    def status(action: str, frm: str, to: str, moment: datetime) -> None:
        out.append(_envelope("events.event_status_changed", EventStatusChanged(
            **common, from_status=frm, to_status=to, action=action, actor_role="dept_staff",
            actor_unit_id=unit.unit_id, at=moment, reporter_id=spec.reporter_id)))

    accept_by, resolve_by = at(d, 10), at(d, 16)
    if spec.routed:
        out.append(_envelope("routing.event_assigned", EventAssigned(
            event_id=eid, seq=1, unit=unit.ref(), reason="initial", accept_by=accept_by,
            resolve_by=resolve_by, assigned_at=at(d, 9, 5), actor_role="system")))
    status("assign", "reported", "dispatched", at(d, 9, 5))
    accepted_at = {"on": at(d, 9, 30), "late": at(d, 10, 30), None: None}[spec.accept]
    if accepted_at:
        status("accept", "dispatched", "accepted", accepted_at)
    result_at = {"on": at(d, 15), "late": at(d, 16, 30), None: None}[spec.result]
    if result_at:
        status("submit_result", "accepted", "result_submitted", result_at)
    ratings: list[Fact] = []
    closures: list[datetime] = []
    if spec.close_hours is None:
        return Lifecycle(spec, out, ratings, closures)

    def close(closed_at: datetime, result: datetime, rework_count: int) -> None:
        status("verify", "result_submitted", "verified", closed_at - timedelta(minutes=10))
        status("close", "verified", "closed", closed_at)
        out.append(_envelope("events.event_closed", EventClosed(
            **common, major_risk="social_conflict", urgency="normal",
            lead_unit_id=unit.unit_id, handling_unit_ids=[unit.unit_id],
            reported_at=at(d, 9), first_dispatched_at=at(d, 9, 5), accepted_at=accepted_at,
            result_submitted_at=result, closed_at=closed_at, accept_by=accept_by,
            resolve_by=resolve_by, accepted_on_time=None, resolved_on_time=None,
            escalation_count=0, return_count=0, rework_count=rework_count,
            classified=spec.musts, dispatch_trail_recorded=True, result_recorded=True,
            reporter_id=spec.reporter_id)))
        closures.append(closed_at)

    def rate(letter: str, closed_at: datetime, rated_at: datetime, default: bool) -> None:
        closure = closed_at.isoformat()
        ratings.append(Fact(uuid.uuid4(), eid, domain.RATED, rated_at, {
            "rating": RATING_NAMES[letter], "default_applied": default,
            "closure_closed_at": closure}))
        if letter == "D":
            ratings.append(Fact(uuid.uuid4(), eid, domain.REWORK, rated_at, {
                "unit_id": str(unit.unit_id), "closure_closed_at": closure}))

    first_close = _close_time(d, spec.close_hours)
    close(first_close, result_at or first_close, 0)
    if spec.rating:
        rated_at = first_close + (timedelta(days=7, hours=1) if spec.default
                                  else timedelta(minutes=10))
        rate(spec.rating, first_close, rated_at, spec.default)
    if spec.rework_final:
        reopen = at(d, 8, 40, plus_days=1)
        status("rework", "rated", "in_progress", reopen)
        out.append(_envelope("routing.deadline_changed", DeadlineChanged(
            event_id=eid, unit_id=unit.unit_id, accept_by=at(d, 10, plus_days=1),
            resolve_by=at(d, 12, plus_days=2), reason="rework", at=reopen)))
        second_result = at(d, 15, plus_days=1)
        status("submit_result", "in_progress", "result_submitted", second_result)
        second_close = at(d, 17, plus_days=1)
        close(second_close, second_result, 1)
        rate(spec.rework_final, second_close, second_close + timedelta(minutes=30), False)
    return Lifecycle(spec, out, ratings, closures)


def payload(envelope: Envelope) -> dict[str, Any]:
    return envelope.payload
