"""The March fixture (30 cases, known timings and ratings): scorecards computed by hand
must come out of the read model exactly — delivered once in order, and delivered twice in
shuffled order with ratings arriving before their closures."""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.feedback.scoring import period_bounds, period_named
from services.feedback.service import projection, scorecards
from services.feedback.service.projection import fact_from_envelope
from services.feedback.settings import Settings
from shared.auth.principal import Principal
from shared.db.database import Database
from shared.db.uow import UnitOfWork
from tests.feedback.conftest import COUNTY, TOWN_1, TOWN_2, March, replay

SH = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2026, 4, 30, tzinfo=SH)
ADMIN = Principal(subject=uuid.uuid4(), roles=frozenset({"admin"}), kind="staff")

# By hand, from the table in conftest.march_fixture (see the module docstring of lifecycle):
FIGURES = [
    "cases", "response_due", "responded_on_time", "resolution_due", "resolved_on_time",
    "resolved", "rated", "satisfied", "default_rated", "default_satisfied", "closed_once",
    "closed_loop", "rework_count",
]
EXPECTED_UNITS = {
    #     cases rdue ron  sdue son  res  rated sat  def  defsat once loop rework
    "A": (12,   12,  9,   12,  8,   9,   7,    6,   2,   2,     10,  7,   2),
    "B": (10,   10,  8,   10,  7,   8,   7,    6,   1,   1,     9,   7,   2),
    "C": (7,    7,   6,   7,   6,   7,   5,    5,   1,   1,     7,   6,   0),
}
EXPECTED_HOURS = {"A": 67 / 9, "B": 60 / 8, "C": 46 / 7}
EXPECTED_REGIONS = {
    COUNTY: (30, 29, 23, 29, 21, 24, 19, 17, 4, 4, 26, 20, 4),
    TOWN_1: (19, 18, 14, 18, 13, 15, 12, 11, 3, 3, 16, 13, 2),
    TOWN_2: (11, 11, 9, 11, 8, 9, 7, 6, 1, 1, 10, 7, 2),
}
EXPECTED_REGION_HOURS = {COUNTY: 173 / 24, TOWN_1: 107 / 15, TOWN_2: 66 / 9}


def _figures(row: dict[str, Any]) -> tuple[int, ...]:
    return tuple(row[name] for name in FIGURES)


async def _units(settings: Settings, period: str = "month", day: date = date(2026, 3, 1),
                 **kw: Any) -> list[dict[str, Any]]:
    start, end = period_bounds(period_named(period), day=day, start=None, end=None)
    database = Database(settings)
    try:
        return await scorecards.unit_scorecards(
            uow=UnitOfWork(database, producer="feedback"), principal=kw.pop("principal", ADMIN),
            start=start, end=end, as_of=AS_OF, rank_by=kw.pop("rank_by", "closed_loop_rate"),
            min_sample=kw.pop("min_sample", 8))
    finally:
        await database.dispose()


async def _region(settings: Settings, code: str, period: str = "month",
                  day: date = date(2026, 3, 1)) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    start, end = period_bounds(period_named(period), day=day, start=None, end=None)
    database = Database(settings)
    try:
        return await scorecards.region_scorecard(
            uow=UnitOfWork(database, producer="feedback"), principal=ADMIN, region_code=code,
            start=start, end=end, as_of=AS_OF)
    finally:
        await database.dispose()


async def _assert_march_scorecards(settings: Settings, march: March) -> None:
    by_unit = {row["unit_id"]: row for row in await _units(settings)}
    names = {march.unit_a.unit_id: "A", march.unit_b.unit_id: "B", march.unit_c.unit_id: "C"}
    assert {names[k] for k in by_unit} == {"A", "B", "C"}
    for unit_id, row in by_unit.items():
        name = names[unit_id]
        assert _figures(row) == EXPECTED_UNITS[name], name
        assert row["avg_handling_hours"] == pytest.approx(EXPECTED_HOURS[name], abs=1e-9)
    a = by_unit[march.unit_a.unit_id]
    assert a["response_rate"] == 9 / 12
    assert a["on_time_resolution_rate"] == 8 / 12
    assert a["resolution_rate"] == 9 / 12
    assert a["satisfaction_rate"] == 6 / 7
    assert a["satisfaction_rate_with_defaults"] == 8 / 9
    assert a["closed_loop_rate"] == 7 / 10
    assert a["unit_name"] == march.unit_a.name

    county, towns = await _region(settings, COUNTY)
    assert _figures(county) == EXPECTED_REGIONS[COUNTY]
    assert county["avg_handling_hours"] == pytest.approx(EXPECTED_REGION_HOURS[COUNTY])
    assert [t["region_code"] for t in towns] == [TOWN_1, TOWN_2]
    for town in towns:
        code = town["region_code"]
        assert _figures(town) == EXPECTED_REGIONS[code], code
        assert town["avg_handling_hours"] == pytest.approx(EXPECTED_REGION_HOURS[code])
    # The city rolls the county up unchanged.
    city, counties = await _region(settings, "350600")
    assert _figures(city) == EXPECTED_REGIONS[COUNTY]
    assert [c["region_code"] for c in counties] == [COUNTY]


async def test_march_scorecards_match_the_hand_computed_figures(
    feedback_settings: Settings, march: March
) -> None:
    stats = await replay(feedback_settings, march.envelopes, local_facts=[])
    await replay(feedback_settings, [], local_facts=march.ratings)
    assert stats["failures"] == 0
    await _assert_march_scorecards(feedback_settings, march)


async def test_scorecards_are_exact_when_every_event_arrives_twice_and_shuffled(
    feedback_settings: Settings, march: March
) -> None:
    stats = await replay(feedback_settings, march.envelopes, local_facts=march.ratings,
                         seed=20260301, twice=True)
    assert stats["failures"] == 0
    assert stats["duplicates"] == len(march.envelopes)
    await _assert_march_scorecards(feedback_settings, march)


async def test_day_week_scorecards_and_rankings_with_a_minimum_sample(
    feedback_settings: Settings, march: March
) -> None:
    await replay(feedback_settings, march.envelopes, local_facts=march.ratings, seed=7)
    day, _ = await _region(feedback_settings, COUNTY, "day", date(2026, 3, 2))
    assert (day["cases"], day["resolved"]) == (4, 4)  # A1, A2, B1, C1
    assert day["avg_handling_hours"] == pytest.approx((6 + 7 + 6 + 6) / 4)
    week, _ = await _region(feedback_settings, COUNTY, "week", date(2026, 3, 11))
    assert (week["cases"], week["resolved"]) == (10, 7)  # 9-15 March

    # Units with fewer cases than the minimum sample are listed but not ranked (C has 7).
    rows = await _units(feedback_settings, rank_by="closed_loop_rate", min_sample=8)
    ranks = [(r["unit_id"], r["rank"]) for r in rows]
    assert ranks == [(march.unit_b.unit_id, 1), (march.unit_a.unit_id, 2),
                     (march.unit_c.unit_id, None)]
    rows = await _units(feedback_settings, rank_by="avg_handling_hours", min_sample=7)
    assert [(r["unit_id"], r["rank"]) for r in rows] == [
        (march.unit_c.unit_id, 1), (march.unit_a.unit_id, 2), (march.unit_b.unit_id, 3)]


async def test_a_batched_replay_gives_the_same_scorecards(
    feedback_settings: Settings, march: March
) -> None:
    """The replay path (COPY, one summary per case per batch) used by bench/feedback."""
    facts = [fact_from_envelope(e) for e in march.envelopes] + march.ratings
    facts = facts + facts[: len(facts) // 3]  # some facts seen again in a later batch
    random.Random(3).shuffle(facts)
    database = Database(feedback_settings)
    try:
        for start in range(0, len(facts), 97):
            uow = UnitOfWork(database, producer="feedback")
            async with uow:
                await projection.project_batch(uow, facts[start:start + 97])
    finally:
        await database.dispose()
    await _assert_march_scorecards(feedback_settings, march)
