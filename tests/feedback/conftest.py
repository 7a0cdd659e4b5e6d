"""Fixtures of the feedback tests: a fresh feedback schema per test, the March fixture of
30 cases, and a replayer that drives the real ConsumerRunner over the in-memory broker."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from services.feedback.domain import Fact
from services.feedback.handlers import SUBSCRIPTIONS
from services.feedback.service import projection
from services.feedback.settings import Settings
from shared.db.database import Database
from shared.db.uow import UnitOfWork
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.envelope import Envelope
from shared.messaging.memory import MemoryBroker
from shared.settings import ServiceSettings
from shared.testing.plugin import Migrator
from tests.feedback.lifecycle import Lifecycle, Spec, Unit, build

COUNTY = "350623"
TOWN_1, TOWN_2 = "350623100", "350623101"
C1, C2, C3 = "350623100001", "350623100002", "350623101001"


@pytest.fixture
async def feedback_settings(
    migrator: Migrator, run_prefix: str, service_settings: Callable[..., ServiceSettings]
) -> AsyncIterator[Settings]:
    """Settings on a feedback schema of this test alone (scorecards count every row). The
    fixture's cases lie in the past, so the app's own default-rating worker is held off
    (tests that exercise it run a worker with their own clock and period)."""
    prefix = f"{run_prefix}{uuid.uuid4().hex[:6]}"
    await migrator.ensure("feedback", prefix=prefix)
    yield service_settings(  # type: ignore[misc]  # built as Settings
        Settings, schema_prefix=prefix, amqp_prefix=prefix, default_rating_after_days=36500,
        sender_poll_seconds=0.1,
    )
    migrator.release(prefix)


@dataclass
class March:
    unit_a: Unit
    unit_b: Unit
    unit_c: Unit
    cases: list[Lifecycle]

    def case(self, name: str) -> Lifecycle:
        return next(c for c in self.cases if c.spec.name == name)

    @property
    def envelopes(self) -> list[Envelope]:
        return [e for c in self.cases for e in c.envelopes]

    @property
    def ratings(self) -> list[Fact]:
        return [f for c in self.cases for f in c.ratings]


def march_fixture() -> March:
    a = Unit(uuid.uuid4(), "漳浦县绥安镇综治中心", TOWN_1)
    b = Unit(uuid.uuid4(), "漳浦县旧镇镇综治中心", TOWN_2)
    c = Unit(uuid.uuid4(), "漳浦县公安局绥安派出所", TOWN_1)

    def d(n: int) -> date:
        return date(2026, 3, n)

    specs = [
        Spec("A1", a, C1, d(2), rating="S"),
        Spec("A2", a, C1, d(2), close_hours=7, rating="S"),
        Spec("A3", a, C1, d(3), result="late", close_hours=9, rating="B"),
        Spec("A4", a, C2, d(3), accept="late", rating="S", default=True),
        Spec("A5", a, C2, d(4), rating="B", musts=False),
        Spec("A6", a, C2, d(4), close_hours=7),
        Spec("A7", a, C1, d(5), result=None, close_hours=None),
        Spec("A8", a, C1, d(9), accept="late", result="late", close_hours=9, rating="D"),
        Spec("A9", a, C2, d(10), rating="S", default=True),
        Spec("A10", a, C2, d(11), accept=None, result=None, close_hours=None),
        Spec("A11", a, C1, d(12), rating="D", rework_final="S"),
        Spec("A12", a, C1, d(16), close_hours=7, rating="B"),
        Spec("B1", b, C3, d(2), rating="S"),
        Spec("B2", b, C3, d(3), rating="S"),
        Spec("B3", b, C3, d(4), accept="late", result="late", close_hours=9, rating="D"),
        Spec("B4", b, C3, d(5), close_hours=7, rating="S", default=True),
        Spec("B5", b, C3, d(9), result="late", close_hours=9, rating="B"),
        Spec("B6", b, C3, d(10), rating="S"),
        Spec("B7", b, C3, d(11), accept="late", result=None, close_hours=None),
        Spec("B8", b, C3, d(12), rating="D", rework_final="B"),
        Spec("B9", b, C3, d(16), rating="S"),
        Spec("B10", b, C3, d(17), close_hours=7),
        Spec("C1", c, C1, d(2), rating="S"),
        Spec("C2", c, C1, d(3), rating="S"),
        Spec("C3", c, C1, d(4), close_hours=7, rating="B"),
        Spec("C4", c, C1, d(5), accept="late", result="late", close_hours=9, rating="S",
             default=True),
        Spec("C5", c, C1, d(9), rating="S"),
        Spec("C6", c, C1, d(10), rating="S"),
        Spec("U1", None, C2, d(18), reported_only=True),
        Spec("U2", c, C3, d(19), routed=False),
        # February: outside every March period.
        Spec("X1", a, C1, date(2026, 2, 24), rating="S"),
        Spec("X2", b, C3, date(2026, 2, 25), rating="D"),
    ]
    return March(a, b, c, [build(s) for s in specs])


@pytest.fixture
def march() -> March:
    return march_fixture()


async def project_facts(settings: Settings, facts: Sequence[Fact]) -> None:
    database = Database(settings)
    try:
        for fact in facts:
            uow = UnitOfWork(database, producer="feedback")
            async with uow:
                await projection.project(uow, [fact])
    finally:
        await database.dispose()


async def replay(
    settings: Settings,
    envelopes: Sequence[Envelope],
    *,
    local_facts: Sequence[Fact] = (),
    seed: int | None = None,
    twice: bool = False,
) -> dict[str, Any]:
    """Deliver ``envelopes`` through the real ConsumerRunner (inbox, unit of work, handlers),
    optionally each twice and in a shuffled order, with ``local_facts`` (ratings) projected
    half-way through — so some ratings arrive before their closure is known."""
    messages = list(envelopes) * (2 if twice else 1)
    if seed is not None:
        random.Random(seed).shuffle(messages)
    database = Database(settings)
    broker = MemoryBroker()
    runner = ConsumerRunner(service="feedback", database=database, broker=broker,
                            subscriptions=SUBSCRIPTIONS, prefetch=16)
    await runner.start()
    try:
        half = len(messages) // 2
        for envelope in messages[:half]:
            await broker.publish(envelope.routing_key, envelope.to_bytes(),
                                 message_id=str(envelope.event_id))
        await broker.drain()
        await project_facts(settings, local_facts)
        for envelope in messages[half:]:
            await broker.publish(envelope.routing_key, envelope.to_bytes(),
                                 message_id=str(envelope.event_id))
        await broker.drain()
    finally:
        await runner.stop()
        await broker.close()
        await database.dispose()
    return {"handled": runner.handled_total, "duplicates": runner.duplicates_total,
            "failures": runner.failures_total}
