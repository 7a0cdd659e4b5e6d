"""The closed loop's shape without its domain: what the architecture's own mechanisms cost a
report, measured on this machine beside the events bench, as the floor under its CPU figure.

A report in the events bench is three messages between two services, each leaving a
transaction through the outbox and its relay (publisher confirms, a quorum queue), each
consumed ones entering one through the inbox: the report opens a case in events
(``events.event_reported``), routing decides in its transaction (``routing.event_assigned``),
events records the decision in its own (``events.event_status_changed``, which nobody here
consumes). This bench runs exactly that and nothing else: the same two services' settings,
schemas (the migrations) and the same shared code (unit of work, outbox relay, batched
consumers, RabbitMQ topology), with each transaction writing one row of a table of its own
instead of the domain's statements, and no HTTP: the reports are opened by this process at
the offered rate, in the events service's unit of work.

Both services run in this one process (one event loop, no process switches between them), so
the figure is a floor: the deployed layout costs at least this. Per rate step: reports
offered and all assigned, report → assigned latency (p50, p99), CPU ms per report of this
process, PostgreSQL and RabbitMQ (as in bench/events), their total, and its share of issue
#21's 4.5 ms budget (``share_of_budget``), which bench/events spends on top of this on HTTP
(the load generator, the gateway, the services' requests) and on the domain.

``python -m bench shape [--rates 100,200,400] [--seconds 10]``; results go to
``bench/results/shape.json``; the exit code is 1 only when a report is left unassigned.
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
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI
from sqlalchemy import text

from bench.events import cpu_budget
from bench.load import percentile, run_on_uvloop
from bench.processes import (
    cpu_seconds,
    local_servers_cpu_seconds,
    rabbit_answers,
    reference_loop_ms,
)
from services.events.settings import Settings as EventsSettings
from services.routing.settings import Settings as RoutingSettings
from shared.contracts.platform import ShapeAssigned, ShapeRecorded, ShapeReported
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
# Per step: cases not yet recorded as assigned, events still in either outbox, latencies.
_PENDING = """
SELECT (SELECT count(*) FROM {events}.shape_cases WHERE assigned_at IS NULL)
     + (SELECT count(*) FROM {events}.outbox WHERE published_at IS NULL)
     + (SELECT count(*) FROM {routing}.outbox WHERE published_at IS NULL)
"""
_LATENCIES = """
SELECT extract(epoch FROM assigned_at - reported_at) * 1000 AS ms
FROM {events}.shape_cases WHERE report >= $1 AND report < $2
"""


async def open_case(uow: UnitOfWork, report: int) -> None:
    """The intake's transaction: the case's row and the event that announces it."""
    async with uow:
        await uow.execute(_OPEN_CASE, {"report": report})
        await uow.emit("platform.shape_reported", ShapeReported(report=report))


async def decide(envelope: Envelope, uow: UnitOfWork) -> None:
    """Routing's transaction: the assignment's row and the event that announces it."""
    report = envelope.payload_as(ShapeReported).report
    await uow.execute(_ASSIGN, {"report": report})
    await uow.emit("platform.shape_assigned", ShapeAssigned(report=report))


async def record(envelope: Envelope, uow: UnitOfWork) -> None:
    """The case file's transaction: the decision recorded and the step announced."""
    report = envelope.payload_as(ShapeAssigned).report
    await uow.execute(_RECORD, {"report": report})
    await uow.emit("platform.shape_recorded", ShapeRecorded(report=report))


def shape_apps(database_url: str, amqp_url: str, prefix: str) -> dict[str, FastAPI]:
    """The two services with their own settings (the run's schemas and broker objects), with
    the shape's consumers in place of their own."""
    common: dict[str, Any] = {
        "database_url": database_url, "schema_prefix": prefix, "broker": "rabbitmq",
        "amqp_url": amqp_url, "amqp_prefix": prefix, "outbox_poll_seconds": 0.5,
        "log_level": "WARNING"}
    return {
        "events": create_service_app(
            EventsSettings(**common), title="events (shape)",
            subscriptions=[Subscription("platform.shape_assigned", record, purpose="shape")]),
        "routing": create_service_app(
            RoutingSettings(**common), title="routing (shape)",
            subscriptions=[Subscription("platform.shape_reported", decide, purpose="shape")]),
    }


@contextlib.asynccontextmanager
async def started(apps: dict[str, FastAPI]) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield


async def offer(events: FastAPI, first: int, rate: int, seconds: float) -> int:
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
        task = asyncio.create_task(open_case(events.state.runtime.uow(), first + number))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        opened += 1
    if in_flight:
        await asyncio.gather(*in_flight)
    return opened


async def settle(conn: asyncpg.Connection, schemas: dict[str, str]) -> int:
    """Wait until every case is assigned and both outboxes are empty; what is still pending."""
    query = _PENDING.format(**{name: f'"{schema}"' for name, schema in schemas.items()})
    deadline = time.monotonic() + SETTLE_WAIT_SECONDS
    while True:
        pending = int(await conn.fetchval(query))
        if pending == 0 or time.monotonic() > deadline:
            return pending
        await asyncio.sleep(0.1)


async def measure_step(
    apps: dict[str, FastAPI], conn: asyncpg.Connection, schemas: dict[str, str],
    first: int, rate: int, seconds: float, cpu_now: Callable[[], dict[str, float]],
) -> dict[str, Any]:
    yardstick = reference_loop_ms()
    cpu_before, started_at = cpu_now(), time.monotonic()
    opened = await offer(apps["events"], first, rate, seconds)
    pending = await settle(conn, schemas)
    window = time.monotonic() - started_at
    cpu_after = cpu_now()
    rows = await conn.fetch(_LATENCIES.format(events=f'"{schemas["events"]}"'),
                            first, first + round(rate * seconds))
    latencies = [float(row["ms"]) for row in rows if row["ms"] is not None]
    cpu_per_report = {
        name: round((cpu_after[name] - cpu_before.get(name, 0.0)) * 1000 / max(opened, 1), 2)
        for name in cpu_after
    }
    budget = cpu_budget(cpu_per_report, opened, window)
    return {
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
                    *, prefix: str | None = None) -> dict[str, Any]:
    """Every step in the schemas and broker objects of a fresh prefix (``prefix``, else
    ``bench<6 hex>``), removed afterwards."""
    dsn = asyncpg_dsn(database_url)
    if not await rabbit_answers(amqp_url):
        raise SystemExit("bench shape measures RabbitMQ's part: AMQP_URL does not answer")
    prefix = prefix or f"bench{uuid.uuid4().hex[:6]}"
    schemas = await _prepare(database_url, dsn, prefix)
    steps: list[dict[str, Any]] = []
    try:
        apps = shape_apps(database_url, amqp_url, prefix)

        def cpu_now() -> dict[str, float]:
            return {"shape_services": cpu_seconds(os.getpid())} | local_servers_cpu_seconds()

        async with started(apps):
            conn = await asyncpg.connect(dsn)
            try:
                first = 0
                for rate in rates:
                    step = await measure_step(apps, conn, schemas, first, rate, seconds, cpu_now)
                    first += round(rate * seconds)
                    steps.append(step)
                    print(json.dumps(step), flush=True)
            finally:
                await conn.close()
    finally:
        await _drop(dsn, schemas)
        await delete_prefixed_objects(amqp_url, prefix)
    return {"cores": os.cpu_count(), "reference_loop_ms_after": reference_loop_ms(),
            "seconds_per_step": seconds, "cpu_budget_ms": CPU_BUDGET_MS, "steps": steps,
            "complete": all(step["pending_after_run"] == 0 for step in steps)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench shape", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="100,200,400", help="reports/s, one step each")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each step")
    args, _ = parser.parse_known_args(argv)  # `python -m bench` hands every bench all options
    database_url = normalize_database_url(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    amqp_url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    rates = [int(rate) for rate in args.rates.split(",")]
    result = run_on_uvloop(run_shape(database_url, amqp_url, rates, args.seconds))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "steps"}), flush=True)
    print(f"results written to {RESULTS}", flush=True)
    return 0 if result["complete"] else 1
