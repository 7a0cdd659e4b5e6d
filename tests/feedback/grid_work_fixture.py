"""A March of grid work in town 1 (two workers, two grids) and town 2 (one worker), as the
bus carries it: enrolments, reports, completed tasks and verifications, household visits,
patrols, residents entered and verified. The figures each test expects are stated here."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from services.feedback.settings import Settings
from shared.contracts.events import EventReported, ReporterSeal
from shared.contracts.identity import HouseholdVisited, ResidentEntered, UserVerified
from shared.contracts.routing import (
    GridTaskCompleted,
    GridWorkerEnrolled,
    GridWorkerLeft,
    PatrolFinished,
)
from shared.messaging.envelope import Envelope
from tests.feedback.conftest import C1, C3

SH = ZoneInfo("Asia/Shanghai")
G1, G2 = C1 + "001", C1 + "002"  # town 1, community C1
G3 = C3 + "001"  # town 2
W1, W2, W3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
MANAGER = uuid.uuid4()
SEAL = ReporterSeal(Settings.model_fields["reporter_seal_keys"].default)


def at(day: int, hour: int = 10, month: int = 3, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def envelope(event_type: str, payload: BaseModel | dict[str, Any], *,
             occurred_at: datetime | None = None) -> Envelope:
    body = payload if isinstance(payload, dict) else payload.model_dump(mode="json")
    made = Envelope(event_type=event_type, producer=event_type.split(".")[0], payload=body)
    return made if occurred_at is None else made.model_copy(update={"occurred_at": occurred_at})


def enrolled(worker: uuid.UUID, grid: str, name: str) -> Envelope:
    message = GridWorkerEnrolled(user_id=worker, kind="full_time", grid_codes=[grid],
                                 started_on=date(2026, 1, 5), enrolled_by=MANAGER,
                                 at=at(5, month=1))
    # The name rides along when routing sends it (not yet in the contract).
    return envelope("routing.grid_worker_enrolled",
                    {**message.model_dump(mode="json"), "display_name": name})


def report(worker: uuid.UUID | None, region: str, when: datetime, *,
           channel: str = "grid_worker", sensitive: bool = False) -> Envelope:
    event_id = uuid.uuid4()
    sealed = SEAL.seal(event_id, worker) if sensitive and worker else None
    return envelope("events.event_reported", EventReported(
        event_id=event_id, case_no=f"ZZ-{event_id.hex[:8]}", category_code="fire_hazard",
        major_risk="public_safety", urgency="normal", sensitive=sensitive, region_code=region,
        reported_at=when, channel=channel,  # type: ignore[arg-type]  # a Literal
        reporter_id=None if sensitive else worker, reporter_sealed=sealed))


def completed(worker: uuid.UUID, grid: str, kind: str, due: datetime, done: datetime
              ) -> Envelope:
    return envelope("routing.grid_task_completed", GridTaskCompleted(
        task_id=uuid.uuid4(), kind=kind, grid_code=grid,  # type: ignore[arg-type]
        worker_id=worker, due_at=due, completed_at=done, on_time=done <= due,
        event_id=uuid.uuid4() if kind == "verification" else None))


def visit(worker: uuid.UUID, grid: str, when: datetime,
          visit_id: uuid.UUID | None = None) -> Envelope:
    return envelope("identity.household_visited", HouseholdVisited(
        visit_id=visit_id or uuid.uuid4(), worker_id=worker, grid_code=grid,
        registry_person_ids=[uuid.uuid4()], visited_at=when))


def patrol(worker: uuid.UUID, grid: str, start: datetime, hours: float, metres: float
           ) -> Envelope:
    return envelope("routing.patrol_finished", PatrolFinished(
        patrol_id=uuid.uuid4(), worker_id=worker, grid_code=grid, started_at=start,
        ended_at=start + timedelta(hours=hours), distance_m=metres, points=120))


def resident(worker: uuid.UUID, grid: str, when: datetime, *, created: bool = True,
             person: uuid.UUID | None = None, linked: bool = False) -> Envelope:
    return envelope("identity.resident_entered", ResidentEntered(
        registry_person_id=person or uuid.uuid4(), region_code=grid, created=created,
        entered_by=worker, linked_user_id=uuid.uuid4() if linked else None),
        occurred_at=when)


def verified(person: uuid.UUID, when: datetime) -> Envelope:
    return envelope("identity.user_verified", UserVerified(
        user_id=uuid.uuid4(), verified_at=when, registry_person_id=person))


def left(worker: uuid.UUID, grid: str, successor: uuid.UUID, on: date) -> Envelope:
    return envelope("routing.grid_worker_left", GridWorkerLeft(
        user_id=worker, successor_id=successor, grid_codes=[grid], left_on=on,
        moved_task_ids=[], handed_over_by=MANAGER, at=datetime(2026, 4, 2, tzinfo=SH)))


REVISIT = uuid.uuid4()
VERIFIED_PERSON = uuid.uuid4()

# What March (Asia/Shanghai) holds for each worker inside town 1 / community C1.
EXPECTED_W1 = {
    "reports": 3, "verifications": 2, "verifications_on_time": 1, "visits": 3,
    "patrols": 1, "patrol_hours": 2.0, "patrol_km": 3.0, "tasks": 1, "tasks_on_time": 1,
    "residents_entered": 3, "residents_verified": 2,
}
EXPECTED_W2 = {
    "reports": 1, "verifications": 0, "verifications_on_time": 0, "visits": 1,
    "patrols": 1, "patrol_hours": 1.0, "patrol_km": 1.5, "tasks": 1, "tasks_on_time": 0,
    "residents_entered": 0, "residents_verified": 0,
}


def march_grid_work() -> list[Envelope]:
    """W1 in G1: three reports (one a sealed sensitive tip, one in the community rather than
    a grid), two verifications (one late), a task on time, three March visits (one at 23:30
    on the 31st, Shanghai) and one in April (00:30 on 1 April), a 2 h / 3 km patrol, three new
    residents (one verified, its verification arriving first), one already a verified account
    when entered, and an update that is no entry.
    W2 in G2: a report, a visit, a 1 h / 1.5 km patrol, a late task. W3 in town 2: a report
    and a visit. A resident's report in G1 counts for nobody."""
    return [
        enrolled(W1, G1, "张网格"), enrolled(W2, G2, "李网格"), enrolled(W3, G3, "王网格"),
        verified(VERIFIED_PERSON, at(20)),
        report(W1, G1, at(2)), report(W1, G1, at(3), sensitive=True), report(W1, C1, at(4)),
        report(uuid.uuid4(), G1, at(4), channel="resident"),
        completed(W1, G1, "verification", due=at(6), done=at(5)),
        completed(W1, G1, "verification", due=at(6), done=at(7)),
        completed(W1, G1, "assigned", due=at(12), done=at(11)),
        visit(W1, G1, at(9), visit_id=REVISIT), visit(W1, G1, at(10)),
        visit(W1, G1, at(31, hour=23, minute=30)), visit(W1, G1, at(1, hour=0, minute=30,
                                                                    month=4)),
        patrol(W1, G1, at(12, hour=8), hours=2, metres=3000),
        resident(W1, G1, at(14), person=VERIFIED_PERSON), resident(W1, G1, at(15)),
        resident(W1, G1, at(16), created=False), resident(W1, G1, at(17), linked=True),
        report(W2, G2, at(2)), visit(W2, G2, at(3)),
        patrol(W2, G2, at(4, hour=8), hours=1, metres=1500),
        completed(W2, G2, "assigned", due=at(5), done=at(6)),
        report(W3, G3, at(2)), visit(W3, G3, at(3)),
    ]


def republished_visit() -> Envelope:
    """The same visit as ``REVISIT`` under a new message id (a producer's second publish)."""
    return visit(W1, G1, at(9), visit_id=REVISIT)
