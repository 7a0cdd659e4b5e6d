"""Feedback read model: replay 1,000,000 lifecycle events through the projection, then time
a city-wide monthly scorecard query on the result.

A month (March 2026) of synthetic cases across one city (11 counties, 110 towns, 1,100
communities, one office per town and one police station per county) is generated with a
fixed seed: reported, assigned, dispatched, accepted (most), result, verified, closed (most),
rated by the reporter (most closed cases; some dissatisfied, sent back and closed again).
Every message is built in its contract's JSON shape (the first case is checked against the
contract models). Messages are replayed in time order, in batches, through
``projection.project_batch`` — the replay path: facts COPYed in, each touched case
summarised once per batch — against PostgreSQL at ``DATABASE_URL`` in a schema of its own
(dropped afterwards unless ``--keep``). Generation time is excluded from events/s.

Then ``scorecards.region_scorecard`` for the city and the month (the city's own figures and
one row per county) is run ``--queries`` times; the median and the worst are reported.

``python -m bench.feedback [--events 1000000] [--batch 50000] [--queries 7] [--keep]``;
results go to ``bench/results/feedback.json``. Targets: >= 5,000 events/s; <= 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.feedback import domain
from services.feedback.domain import Fact
from services.feedback.service import projection, scorecards
from services.feedback.settings import Settings
from shared import contracts
from shared.auth.principal import Principal
from shared.db.database import Database, normalize_database_url
from shared.db.migrate import schema_name, upgrade
from shared.db.uow import UnitOfWork

RESULTS = Path(__file__).resolve().parents[1] / "results" / "feedback.json"
SH = ZoneInfo("Asia/Shanghai")
CITY = "350600"
COUNTIES = ["350602", "350603", "350622", "350623", "350624", "350625", "350626", "350627",
            "350628", "350629", "350681"]
CATEGORIES = [("dispute.neighbour", "social_conflict"), ("dispute.property", "social_conflict"),
              ("dispute.labour", "social_conflict"), ("order.illegal_business", "public_order"),
              ("safety.fire", "public_safety"), ("safety.road", "public_safety"),
              ("fraud.telecom", "public_order"), ("env.noise", "public_health")]
TARGET_EVENTS_PER_S, TARGET_QUERY_MS = 5000.0, 200.0
MONTH_START = datetime(2026, 3, 1, tzinfo=SH)


class City:
    def __init__(self, rng: random.Random) -> None:
        self.towns = [f"{c}{100 + t}" for c in COUNTIES for t in range(10)]
        self.communities = [f"{t}{1 + k:03d}" for t in self.towns for k in range(10)]
        self.offices = {t: self._unit(f"{t} 综治中心", "town_office", "town", t)
                        for t in self.towns}
        self.police = {c: self._unit(f"{c} 公安局", "police", "county", c) for c in COUNTIES}
        self.rng = rng

    @staticmethod
    def _unit(name: str, kind: str, level: str, region: str) -> dict[str, Any]:
        return {"unit_id": str(uuid.uuid4()), "name": name, "kind": kind, "level": level,
                "region_code": region}


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def case_messages(city: City, rng: random.Random) -> list[tuple[datetime, str, dict[str, Any]]]:
    """One case's lifecycle as (moment, fact kind, payload in the contract's JSON shape)."""
    eid, reporter = str(uuid.uuid4()), str(uuid.uuid4())
    community = rng.choice(city.communities)
    category, risk = rng.choice(CATEGORIES)
    unit = city.police[community[:6]] if category.startswith(("fraud", "order")) \
        else city.offices[community[:9]]
    reported = MONTH_START + timedelta(days=rng.randrange(31), hours=rng.uniform(8, 20))
    case_no = f"PA{reported:%Y%m%d}{eid[:6]}"
    base = {"event_id": eid, "case_no": case_no, "category_code": category,
            "region_code": community}
    out: list[tuple[datetime, str, dict[str, Any]]] = [(reported, domain.REPORTED, {
        **base, "major_risk": risk, "urgency": "normal", "sensitive": False,
        "reported_at": _iso(reported), "channel": "resident", "reporter_id": reporter,
        "possible_duplicate_of": None})]
    assigned = reported + timedelta(minutes=rng.uniform(1, 30))
    accept_by, resolve_by = assigned + timedelta(hours=2), assigned + timedelta(days=3)
    out.append((assigned, domain.ASSIGNED, {
        "event_id": eid, "seq": 1, "unit": unit, "reason": "initial",
        "previous_unit_id": None, "accept_by": _iso(accept_by), "resolve_by": _iso(resolve_by),
        "assigned_at": _iso(assigned), "actor_role": "system", "actor_unit_id": None,
        "note": None, "automatic": True}))

    def status(action: str, frm: str, to: str, moment: datetime) -> None:
        out.append((moment, domain.STATUS, {
            **base, "from_status": frm, "to_status": to, "action": action,
            "actor_role": "dept_staff", "actor_unit_id": unit["unit_id"], "at": _iso(moment),
            "reason": None, "passed": True if action == "verify" else None,
            "reporter_id": reporter}))

    status("assign", "reported", "dispatched", assigned)
    if rng.random() > 0.92:
        return out
    accepted = assigned + timedelta(hours=rng.expovariate(1 / 1.5))
    status("accept", "dispatched", "accepted", accepted)
    if rng.random() > 0.9:
        return out
    result = accepted + timedelta(hours=rng.expovariate(1 / 30))
    status("submit_result", "accepted", "result_submitted", result)
    closures = 0

    def close(at_result: datetime) -> datetime:
        nonlocal closures
        closures += 1
        verified = at_result + timedelta(hours=rng.uniform(0.2, 8))
        closed = verified + timedelta(minutes=rng.uniform(1, 60))
        status("verify", "result_submitted", "verified", verified)
        status("close", "verified", "closed", closed)
        out.append((closed, domain.CLOSED, {
            **base, "major_risk": risk, "urgency": "normal", "lead_unit_id": unit["unit_id"],
            "handling_unit_ids": [unit["unit_id"]], "reported_at": _iso(reported),
            "first_dispatched_at": _iso(assigned), "accepted_at": _iso(accepted),
            "result_submitted_at": _iso(at_result), "closed_at": _iso(closed),
            "accept_by": _iso(accept_by), "resolve_by": _iso(resolve_by),
            "accepted_on_time": accepted <= accept_by, "resolved_on_time": at_result <= resolve_by,
            "escalation_count": 0, "return_count": 0, "rework_count": closures - 1,
            "classified": True, "dispatch_trail_recorded": True, "result_recorded": True,
            "reporter_id": reporter}))
        return closed

    closed = close(result)
    if rng.random() > 0.75:
        return out
    rated_at = closed + timedelta(hours=rng.uniform(0.5, 48))
    rating = rng.choices(["satisfied", "basically_satisfied", "dissatisfied"], [80, 16, 4])[0]
    out.append((rated_at, domain.RATED, {"rating": rating, "default_applied": False,
                                         "closure_closed_at": _iso(closed)}))
    if rating == "dissatisfied":
        out.append((rated_at, domain.REWORK, {"unit_id": unit["unit_id"],
                                              "closure_closed_at": _iso(closed)}))
        reopened = rated_at + timedelta(hours=rng.uniform(1, 12))
        status("rework", "rated", "in_progress", reopened)
        second = reopened + timedelta(hours=rng.expovariate(1 / 20))
        status("submit_result", "in_progress", "result_submitted", second)
        closed = close(second)
        out.append((closed + timedelta(hours=2), domain.RATED, {
            "rating": "basically_satisfied", "default_applied": False,
            "closure_closed_at": _iso(closed)}))
    return out


def _check_shapes(sample: list[tuple[datetime, str, dict[str, Any]]]) -> None:
    """The generated payloads are what the producers publish (validated by the contracts)."""
    by_kind = {domain.REPORTED: "events.event_reported", domain.ASSIGNED:
               "routing.event_assigned", domain.STATUS: "events.event_status_changed",
               domain.CLOSED: "events.event_closed"}
    for _, kind, payload in sample:
        if kind in by_kind:
            contracts.validate_payload(by_kind[kind], None, payload)


def generate(events: int, seed: int) -> tuple[list[tuple[float, int, int]], list[list[Any]]]:
    """All cases (their messages) and a time-ordered index (moment, case, step) of exactly
    ``events`` messages."""
    rng = random.Random(seed)
    city = City(rng)
    lifecycles: list[list[Any]] = []
    index: list[tuple[float, int, int]] = []
    while len(index) < events:
        messages = case_messages(city, rng)
        if not lifecycles:
            _check_shapes(messages)
        case_no = len(lifecycles)
        lifecycles.append(messages)
        index.extend((m[0].timestamp(), case_no, step) for step, m in enumerate(messages))
    index.sort()
    return index[:events], lifecycles


def batches(index: list[tuple[float, int, int]], lifecycles: list[list[Any]], size: int
            ) -> Iterator[list[Fact]]:
    for start in range(0, len(index), size):
        facts = []
        for _, case_no, step in index[start:start + size]:
            moment, kind, payload = lifecycles[case_no][step]
            event_id = uuid.UUID(lifecycles[case_no][0][2]["event_id"])
            facts.append(Fact(message_id=uuid.uuid5(event_id, str(step)), event_id=event_id,
                              kind=kind, at=moment, data=payload))
        yield facts


async def run(args: argparse.Namespace) -> dict[str, Any]:
    database_url = normalize_database_url(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    schema = schema_name("feedback", prefix)
    await upgrade(database_url, "feedback", schema)
    settings = Settings(database_url=database_url, schema_prefix=prefix, broker="memory",
                        environment="test", log_level="WARNING", db_pool_size=2)
    database = Database(settings)
    try:
        started = time.perf_counter()
        index, lifecycles = generate(args.events, args.seed)
        generation_s = time.perf_counter() - started
        print(f"generated {len(index):,} messages of {len(lifecycles):,} cases "
              f"in {generation_s:.1f}s", flush=True)
        projecting = 0.0
        summarised = 0
        for number, facts in enumerate(batches(index, lifecycles, args.batch), start=1):
            began = time.perf_counter()
            uow = UnitOfWork(database, producer="feedback")
            async with uow:
                summarised += await projection.project_batch(uow, facts)
            projecting += time.perf_counter() - began
            if number % 5 == 0:
                done = min(number * args.batch, len(index))
                print(f"  {done:,} events, {done / projecting:,.0f}/s", flush=True)
        events_per_s = len(index) / projecting
        async with database.engine.connect() as conn:
            await conn.execute(text("ANALYZE case_summaries"))
            await conn.commit()
            cases = (await conn.execute(text("SELECT count(*) FROM case_summaries"))).scalar()

        admin = Principal(subject=uuid.uuid4(), roles=frozenset({"admin"}), kind="staff")
        start, end = MONTH_START, datetime(2026, 4, 1, tzinfo=SH)
        timings, answer = [], None
        for _ in range(args.queries):
            began = time.perf_counter()
            answer = await scorecards.region_scorecard(
                uow=UnitOfWork(database, producer="feedback"), principal=admin,
                region_code=CITY, start=start, end=end, as_of=datetime(2026, 5, 1, tzinfo=SH))
            timings.append((time.perf_counter() - began) * 1000)
        assert answer is not None
        own, counties = answer
        return {
            "events": len(index),
            "cases": cases,
            "batch_size": args.batch,
            "generation_s": round(generation_s, 1),
            "projection_s": round(projecting, 1),
            "case_summaries_written": summarised,
            "events_per_s": round(events_per_s),
            "city_month_query_ms": {"median": round(statistics.median(timings), 1),
                                    "max": round(max(timings), 1), "runs": len(timings)},
            "city_month": {k: own[k] for k in ("cases", "resolution_rate", "response_rate",
                                               "satisfaction_rate", "closed_loop_rate",
                                               "rework_count", "avg_handling_hours")},
            "counties_in_answer": len(counties),
            "targets": {"events_per_s": TARGET_EVENTS_PER_S, "query_ms": TARGET_QUERY_MS},
            "target_met": events_per_s >= TARGET_EVENTS_PER_S
            and statistics.median(timings) <= TARGET_QUERY_MS,
            "date": date.today().isoformat(),
        }
    finally:
        await database.dispose()
        if not args.keep:
            engine = create_async_engine(database_url)
            async with engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await engine.dispose()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.feedback")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=7)
    parser.add_argument("--seed", type=int, default=20260301)
    parser.add_argument("--keep", action="store_true", help="keep the bench schema")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if result["target_met"] else 1
