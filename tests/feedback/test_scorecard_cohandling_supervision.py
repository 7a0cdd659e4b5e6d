"""A unit's scorecard counts its work beyond its own cases: the co-handling sub-tasks asked
of it (answered on time, late, timed out) and the supervisions (督办) issued to it (replied on
time, late, gone overdue) — exactly, when every message arrives twice and shuffled, with the
March cases' own figures unchanged beside them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from services.feedback.handlers import SUBSCRIPTIONS
from services.feedback.scoring import Figures, period_bounds, period_named
from services.feedback.service import scorecards
from services.feedback.settings import Settings
from shared.auth.principal import Principal
from shared.contracts.routing import (
    CoHandlingStarted,
    SubtaskClosed,
    SubtaskRef,
    SupervisionIssued,
    SupervisionOverdue,
    SupervisionReplied,
    UnitRef,
)
from shared.db.database import Database
from shared.db.uow import UnitOfWork
from shared.messaging.envelope import Envelope
from tests.feedback.conftest import COUNTY, TOWN_1, TOWN_2, March, replay

SH = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2026, 4, 30, tzinfo=SH)
ADMIN = Principal(subject=uuid.uuid4(), roles=frozenset({"admin"}), kind="staff")
SUPERVISOR = uuid.uuid4()
WORK = Figures.unit_work()


def _at(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SH)


def _env(event_type: str, model: BaseModel) -> Envelope:
    return Envelope(event_type=event_type, producer="routing",
                    payload=model.model_dump(mode="json"))


def _unit(name: str, kind: str, region: str) -> UnitRef:
    return UnitRef(unit_id=uuid.uuid4(), name=name, kind=kind, level="town", region_code=region)


POLICE = _unit("铜陵派出所", "police", TOWN_1)
MARKET = _unit("东山县市场监督管理局", "market_regulation", TOWN_2)


def _co_handling(lead: uuid.UUID, asked: datetime,
                 answers: list[tuple[UnitRef, datetime, str, datetime]]) -> list[Envelope]:
    """One co-handling request; ``answers``: (unit, due, outcome, closed at) per sub-task."""
    event_id = uuid.uuid4()
    refs = [SubtaskRef(subtask_id=uuid.uuid4(), unit=unit, due_at=due)
            for unit, due, _, _ in answers]
    out = [_env("routing.co_handling_started", CoHandlingStarted(
        event_id=event_id, lead_unit_id=lead, subtasks=refs, at=asked))]
    for ref, (unit, _, outcome, closed) in zip(refs, answers, strict=True):
        out.append(_env("routing.subtask_closed", SubtaskClosed(
            event_id=event_id, subtask_id=ref.subtask_id, unit_id=unit.unit_id,
            outcome=outcome, at=closed)))  # type: ignore[arg-type]  # a Literal, from the table
    return out


def _supervision(unit_id: uuid.UUID, issued: datetime, reply_by: datetime, *,
                 replied: datetime | None = None, overdue: bool = False) -> list[Envelope]:
    ids = {"supervision_id": uuid.uuid4(), "event_id": uuid.uuid4(), "unit_id": unit_id}
    out = [_env("routing.supervision_issued", SupervisionIssued(
        **ids, case_no="PA20260301abcdef", region_code=TOWN_1, level="supervision",
        instruction="请尽快处理", reply_by=reply_by, issued_by=SUPERVISOR, at=issued))]
    if overdue:
        out.append(_env("routing.supervision_overdue", SupervisionOverdue(
            **ids, level="supervision", reply_by=reply_by, supervisor_region_code=COUNTY,
            at=reply_by)))
    if replied is not None:
        out.append(_env("routing.supervision_replied", SupervisionReplied(
            **ids, level="supervision", issued_by=SUPERVISOR, late=replied > reply_by,
            at=replied)))
    return out


def unit_work(lead: uuid.UUID) -> list[Envelope]:
    """March: the police answer once on time and time out once; the market regulator answers
    once late and once on time; the lead unit receives three supervisions (one replied on
    time, one overdue then replied late, one overdue unanswered); the police one (on time).
    April's work lies outside March."""
    return [
        *_co_handling(lead, _at(5), [(POLICE, _at(7), "answered", _at(6)),
                                     (MARKET, _at(7), "answered", _at(8))]),
        *_co_handling(lead, _at(10), [(POLICE, _at(12), "timed_out", _at(12)),
                                      (MARKET, _at(12), "answered", _at(12))]),
        *_co_handling(lead, _at(2, month=4), [(POLICE, _at(4, month=4), "answered",
                                               _at(3, month=4))]),
        *_supervision(lead, _at(3), _at(5), replied=_at(4)),
        *_supervision(lead, _at(6), _at(8), replied=_at(9), overdue=True),
        *_supervision(lead, _at(10), _at(12), overdue=True),
        *_supervision(POLICE.unit_id, _at(15), _at(17), replied=_at(16)),
        *_supervision(lead, _at(2, month=4), _at(4, month=4), overdue=True),
    ]


async def _units(settings: Settings, principal: Principal = ADMIN,
                 month: int = 3) -> dict[uuid.UUID, dict[str, Any]]:
    start, end = period_bounds(period_named("month"), day=date(2026, month, 1), start=None,
                               end=None)
    database = Database(settings)
    try:
        rows = await scorecards.unit_scorecards(
            uow=UnitOfWork(database, producer="feedback"), principal=principal, start=start,
            end=end, as_of=AS_OF, rank_by="closed_loop_rate", min_sample=8)
    finally:
        await database.dispose()
    return {row["unit_id"]: row for row in rows}


def _work(row: dict[str, Any]) -> tuple[int, ...]:
    return tuple(row[name] for name in WORK)


#            asked ontime late timeout | received ontime late overdue
EXPECTED = {
    "lead":   (0,    0,     0,   0,        3,       1,     1,   2),
    "police": (2,    1,     0,   1,        1,       1,     0,   0),
    "market": (2,    1,     1,   0,        0,       0,     0,   0),
}


async def test_assisting_and_supervised_units_are_counted_exactly_when_messages_repeat(
    feedback_settings: Settings, march: March
) -> None:
    lead = march.unit_a.unit_id
    messages = march.envelopes + unit_work(lead)
    stats = await replay(feedback_settings, messages, local_facts=march.ratings,
                         seed=20260317, twice=True)
    assert stats["failures"] == 0
    # Each second delivery is skipped once per queue that takes it (notices and cases).
    queues = [sum(s.event_type == m.event_type for s in SUBSCRIPTIONS) for m in messages]
    assert stats["duplicates"] == sum(queues)
    rows = await _units(feedback_settings)
    assert _work(rows[lead]) == EXPECTED["lead"]
    assert _work(rows[POLICE.unit_id]) == EXPECTED["police"]
    assert _work(rows[MARKET.unit_id]) == EXPECTED["market"]
    # The lead unit's own case figures are the March ones, unchanged by its extra work.
    assert (rows[lead]["cases"], rows[lead]["resolved"], rows[lead]["closed_loop"]) == (
        12, 9, 7)
    # Units without cases: named from the co-handling request, no case figures, not ranked.
    police = rows[POLICE.unit_id]
    assert (police["unit_name"], police["unit_region_code"]) == (POLICE.name, TOWN_1)
    assert (police["cases"], police["avg_handling_hours"], police["rank"]) == (0, None, None)
    # A unit with cases but no extra work counts zeros, not nothing.
    assert _work(rows[march.unit_b.unit_id]) == (0,) * len(WORK)
    april = await _units(feedback_settings, month=4)
    assert _work(april[POLICE.unit_id]) == (1, 1, 0, 0, 0, 0, 0, 0)
    assert _work(april[lead])[4:] == (1, 0, 0, 1)


async def test_a_unit_sees_its_own_extra_work_and_a_town_supervisor_only_its_towns(
    feedback_settings: Settings, march: March
) -> None:
    await replay(feedback_settings, unit_work(march.unit_a.unit_id), seed=5)
    police_clerk = Principal(subject=uuid.uuid4(), roles=frozenset({"dept_staff"}),
                             departments=(POLICE.unit_id,), kind="staff")
    assert set(await _units(feedback_settings, police_clerk)) == {POLICE.unit_id}
    town_2 = Principal(subject=uuid.uuid4(), roles=frozenset({"supervisor"}),
                       regions=(TOWN_2,), kind="staff")
    # The lead unit is not known here (no assignment seen): only the market regulator's
    # region is covered by the town-2 supervisor.
    assert set(await _units(feedback_settings, town_2)) == {MARKET.unit_id}
    assert _work((await _units(feedback_settings, town_2))[MARKET.unit_id]) == (
        EXPECTED["market"])


async def test_region_scorecards_leave_unit_work_unset(
    feedback_settings: Settings, march: March
) -> None:
    await replay(feedback_settings, march.envelopes + unit_work(march.unit_a.unit_id), seed=9)
    start, end = period_bounds(period_named("month"), day=date(2026, 3, 1), start=None,
                               end=None)
    database = Database(feedback_settings)
    try:
        own, _ = await scorecards.region_scorecard(
            uow=UnitOfWork(database, producer="feedback"), principal=ADMIN,
            region_code=COUNTY, start=start, end=end, as_of=AS_OF)
    finally:
        await database.dispose()
    assert own["cases"] == 30
    assert all(own[name] is None for name in WORK)
