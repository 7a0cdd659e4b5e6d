"""The closed loop's shape without its domain: what the architecture's own mechanisms cost a
report, measured on this machine beside the events bench, as the floor under its CPU figure.

A report in the events bench is three messages between two services, each leaving a
transaction through the outbox and its relay (publisher confirms, a quorum queue), and each
consumed one entering its consumer's transaction through the inbox: the report opens a case
in events (``events.event_reported``), routing decides in its transaction
(``routing.event_assigned``), events records the decision in its own
(``events.event_status_changed``, which nobody here consumes). This bench runs exactly that
and nothing else: the same two services' settings, schemas (the migrations) and the same
shared code (unit of work, outbox relay, batched consumers, RabbitMQ topology), with each
transaction writing one row of a table of its own instead of the domain's statements, and no
HTTP: the reports are opened by this process at the offered rate, in the events service's
unit of work.

Both services run in this one process (one event loop, no process switches between them), so
the figure is a floor: the deployed layout costs at least this. Per rate step: reports
offered and all assigned, report → assigned latency (p50, p99; to routing's decision, as
bench/events times it), CPU ms per report of this process, PostgreSQL and RabbitMQ (as in
bench/events), their total, and its share of issue #21's 4.5 ms budget
(``share_of_budget``), which bench/events spends on top of this on HTTP (the load generator,
the gateway, the services' requests) and on the domain.

``--messages`` runs the shape with fewer of its messages, each in schemas of its own:
1 is routing deciding from the report with no message back (the floor of a design where the
intake learns the decision without the broker), 2 adds the decision's way back to events
without the record step's message. By default the loop as built (3) and 1 run one after the
other, and each step's CPU is printed as a ratio to the same rate's with three messages
(``cpu_ratio_to_three_messages``).

``python -m bench shape [--rates 100,200,400] [--seconds 10] [--messages 3,1]``; results go to
``bench/results/shape.json``; the exit code is 1 only when a report is left pending.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI
from sqlalchemy import text

from bench.events import cpu_budget
from bench.load import percentile, run_on_uvloop
from bench.processes import (
    cpu_ms_per,
    cpu_seconds,
    local_servers_cpu_seconds,
    rabbit_answers,
    reference_loop_ms,
)
from services.events.settings import Settings as EventsSettings
from services.routing.settings import Settings as RoutingSettings
from shared.contracts.platform import (
    ShapeAssigned,
    ShapeMessage,
    ShapeRecorded,
    ShapeReported,
)
from shared.db.database import asyncpg_dsn, normalize_database_url
from shared.db.migrate import schema_name, upgrade
from shared.db.statements import Statement
from shared.db.uow import UnitOfWork
from shared.messaging.consumer import Subscription
from shared.messaging.envelope import Envelope
from shared.messaging.rabbit import delete_prefixed_objects
from shared.web import create_service_app

RESULTS = Path(__file__).resolve().parents[1] / "results" / "shape.json"
SERVICES = ("events", "routing")
CPU_BUDGET_MS = 4.5  # issue #21: all of a report's CPU at 400/s, every process included
IN_FLIGHT_LIMIT = 512  # as the load generator: reports beyond it are not offered
SETTLE_WAIT_SECONDS = 30.0

# One small table per service stands for its domain: the case file, the assignments.
_TABLES = {
    "events": "CREATE TABLE shape_cases (report int PRIMARY KEY,"
              " reported_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
              " assigned_at timestamptz)",
    "routing": "CREATE TABLE shape_assignments (report int PRIMARY KEY,"
               " assigned_at timestamptz NOT NULL DEFAULT clock_timestamp())",
}
_OPEN_CASE = Statement(text("INSERT INTO shape_cases (report) VALUES (:report)"))
_ASSIGN = Statement(text("INSERT INTO shape_assignments (report) VALUES (:report)"))
_RECORD = Statement(text(
    "UPDATE shape_cases SET assigned_at = clock_timestamp() WHERE report = :report"))
# Per step: cases routing has not decided, or (when its message goes back) events has not
# recorded as assigned, and events still in either outbox.
_PENDING = """
SELECT (SELECT count(*) FROM {events}.shape_cases c WHERE NOT EXISTS
          (SELECT 1 FROM {routing}.shape_assignments a WHERE a.report = c.report))
     + (SELECT count(*) FROM {events}.shape_cases WHERE $1 AND assigned_at IS NULL)
     + (SELECT count(*) FROM {events}.outbox WHERE published_at IS NULL)
     + (SELECT count(*) FROM {routing}.outbox WHERE published_at IS NULL)
"""
# Report -> assigned as bench/events times it: from the intake to routing's decision.
_LATENCIES = """
SELECT extract(epoch FROM a.assigned_at - c.reported_at) * 1000 AS ms
FROM {events}.shape_cases c JOIN {routing}.shape_assignments a USING (report)
WHERE c.report >= $1 AND c.report < $2
"""


# The loop's messages in order; a shape of N messages sends the first N.
LOOP: tuple[tuple[str, type[ShapeMessage]], ...] = (
    ("platform.shape_reported", ShapeReported),
    ("platform.shape_assigned", ShapeAssigned),
    ("platform.shape_recorded", ShapeRecorded),
)


async def announce(uow: UnitOfWork, position: int, report: int, messages: int) -> None:
    """The loop's message at ``position`` (from 0), if the shape has it."""
    if position < messages:
        event_type, model = LOOP[position]
        await uow.emit(event_type, model(report=report))


async def open_case(uow: UnitOfWork, report: int, messages: int) -> None:
    """The intake's transaction: the case's row and the event that announces it."""
    async with uow:
        await uow.execute(_OPEN_CASE, {"report": report})
        await announce(uow, 0, report, messages)


def consumer(position: int, statement: Statement, messages: int) -> Subscription:
    """A service's transaction on the loop's message at ``position``: its row (routing's
    assignment, the case file's record of it), then the next message if the shape has it."""
    event_type, model = LOOP[position]

    async def handle(envelope: Envelope, uow: UnitOfWork) -> None:
        report = envelope.payload_as(model).report
        await uow.execute(statement, {"report": report})
        await announce(uow, position + 1, report, messages)

    return Subscription(event_type, handle, purpose="shape")


def shape_apps(database_url: str, amqp_url: str, prefix: str, messages: int
               ) -> dict[str, FastAPI]:
    """The two services with their own settings (the run's schemas and broker objects), with
    the shape's consumers in place of their own: events consumes only when routing's decision
    comes back as a message."""
    common: dict[str, Any] = {
        "database_url": database_url, "schema_prefix": prefix, "broker": "rabbitmq",
        "amqp_url": amqp_url, "amqp_prefix": prefix, "outbox_poll_seconds": 0.5,
        "log_level": "WARNING"}
    return {
        "events": create_service_app(
            EventsSettings(**common), title="events (shape)",
            subscriptions=[consumer(1, _RECORD, messages)] if messages >= 2 else []),
        "routing": create_service_app(
            RoutingSettings(**common), title="routing (shape)",
            subscriptions=[consumer(0, _ASSIGN, messages)]),
    }


@contextlib.asynccontextmanager
async def started(apps: dict[str, FastAPI]) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield


@dataclass
class ShapeRun:
    """One shape running: its services, a connection to watch them, their schemas."""

    apps: dict[str, FastAPI]
    conn: asyncpg.Connection
    schemas: dict[str, str]
    messages: int
    cpu_now: Callable[[], dict[str, float]]

    def sql(self, template: str) -> str:
        return template.format(**{name: f'"{schema}"' for name, schema in self.schemas.items()})


async def offer(run: ShapeRun, first: int, rate: int, seconds: float) -> int:
    """Open reports ``first``.. at ``rate`` per second for ``seconds``, whatever the answers
    (at most IN_FLIGHT_LIMIT open at once); how many were opened."""
    count = round(rate * seconds)
    in_flight: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    start, opened = loop.time(), 0
    for number in range(count):
        delay = start + number / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(in_flight) >= IN_FLIGHT_LIMIT:
            continue
        uow = run.apps["events"].state.runtime.uow()
        task = asyncio.create_task(open_case(uow, first + number, run.messages))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        opened += 1
    if in_flight:
        await asyncio.gather(*in_flight)
    return opened


async def settle(run: ShapeRun) -> int:
    """Wait until every case is assigned (and recorded so, when that takes a message) and
    both outboxes are empty; what is still pending."""
    deadline = time.monotonic() + SETTLE_WAIT_SECONDS
    while True:
        pending = int(await run.conn.fetchval(run.sql(_PENDING), run.messages >= 2))
        if pending == 0 or time.monotonic() > deadline:
            return pending
        await asyncio.sleep(0.1)


async def measure_step(run: ShapeRun, first: int, rate: int, seconds: float) -> dict[str, Any]:
    yardstick = reference_loop_ms()
    cpu_before, started_at = run.cpu_now(), time.monotonic()
    opened = await offer(run, first, rate, seconds)
    pending = await settle(run)
    window = time.monotonic() - started_at
    cpu_after = run.cpu_now()
    rows = await run.conn.fetch(run.sql(_LATENCIES), first, first + round(rate * seconds))
    latencies = [float(row["ms"]) for row in rows]
    cpu_per_report = cpu_ms_per(opened, cpu_before, cpu_after)
    budget = cpu_budget(cpu_per_report, opened, window)
    return {
        "messages": run.messages,
        "rate": rate,
        "opened": opened,
        "pending_after_run": pending,
        "assign_p50_ms": round(percentile(latencies, 0.50), 1) if latencies else None,
        "assign_p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "assign_mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "cpu_ms_per_report": cpu_per_report,
        "window_s": round(window, 1),
        "reference_loop_ms_before": yardstick,
        "share_of_budget": round(budget["cpu_ms_per_report_total"] / CPU_BUDGET_MS, 2),
    } | budget


async def _prepare(database_url: str, dsn: str, prefix: str) -> dict[str, str]:
    schemas = {service: schema_name(service, prefix) for service in SERVICES}
    conn = await asyncpg.connect(dsn)
    try:
        for service, schema in schemas.items():
            await upgrade(database_url, service, schema)
            await conn.execute(f'SET search_path TO "{schema}"')
            await conn.execute(_TABLES[service])
    finally:
        await conn.close()
    return schemas


async def _drop(dsn: str, schemas: dict[str, str]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for schema in schemas.values():
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def run_shape(database_url: str, amqp_url: str, rates: list[int], seconds: float,
                    *, messages: int = 3, prefix: str | None = None) -> list[dict[str, Any]]:
    """The steps of the shape with its first ``messages`` messages, in the schemas and broker
    objects of a fresh prefix (``prefix``, else ``bench<6 hex>``), removed afterwards."""
    dsn = asyncpg_dsn(database_url)
    prefix = prefix or f"bench{uuid.uuid4().hex[:6]}"
    schemas = await _prepare(database_url, dsn, prefix)
    steps: list[dict[str, Any]] = []
    try:
        apps = shape_apps(database_url, amqp_url, prefix, messages)

        def cpu_now() -> dict[str, float]:
            return {"shape_services": cpu_seconds(os.getpid())} | local_servers_cpu_seconds()

        async with started(apps):
            run = ShapeRun(apps, await asyncpg.connect(dsn), schemas, messages, cpu_now)
            try:
                first = 0
                for rate in rates:
                    steps.append(await measure_step(run, first, rate, seconds))
                    first += round(rate * seconds)
                    print(json.dumps(steps[-1]), flush=True)
            finally:
                await run.conn.close()
    finally:
        await _drop(dsn, schemas)
        await delete_prefixed_objects(amqp_url, prefix)
    return steps


def compare(steps: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per rate, the CPU a report costs with each number of messages, as a ratio to the loop
    as built (three), measured in the same run."""
    built = {s["rate"]: s["cpu_ms_per_report_total"] for s in steps if s["messages"] == 3}
    return {
        f"{s['rate']}/s, {s['messages']} messages": round(
            s["cpu_ms_per_report_total"] / built[s["rate"]], 2)
        for s in steps if s["rate"] in built and s["messages"] != 3
    }


async def run_shapes(database_url: str, amqp_url: str, rates: list[int], seconds: float,
                     messages: list[int]) -> dict[str, Any]:
    if not await rabbit_answers(amqp_url):
        raise SystemExit("bench shape measures RabbitMQ's part: AMQP_URL does not answer")
    steps: list[dict[str, Any]] = []
    for count in messages:
        steps += await run_shape(database_url, amqp_url, rates, seconds, messages=count)
    return {"cores": os.cpu_count(), "reference_loop_ms_after": reference_loop_ms(),
            "seconds_per_step": seconds, "cpu_budget_ms": CPU_BUDGET_MS, "steps": steps,
            "cpu_ratio_to_three_messages": compare(steps),
            "complete": all(step["pending_after_run"] == 0 for step in steps)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench shape", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="100,200,400", help="reports/s, one step each")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each step")
    parser.add_argument("--messages", default="3,1",
                        help="shapes to run: the loop's first N messages (1, 2 or 3) each")
    args, _ = parser.parse_known_args(argv)  # `python -m bench` hands every bench all options
    database_url = normalize_database_url(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    amqp_url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    rates = [int(rate) for rate in args.rates.split(",")]
    messages = [int(count) for count in args.messages.split(",")]
    if not set(messages) <= {1, 2, 3}:
        parser.error("--messages takes 1, 2 or 3 (comma-separated)")
    result = run_on_uvloop(run_shapes(database_url, amqp_url, rates, args.seconds, messages))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "steps"}), flush=True)
    print(f"results written to {RESULTS}", flush=True)
    return 0 if result["complete"] else 1
