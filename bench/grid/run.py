"""One run of the patrol bench: schema, COPY baseline, the API phase, the checks (see the
package's docstring)."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.grid.upload import Plan, RawConnection, Send, Tally, Worker, run_workers, walk
from bench.load import percentile
from bench.processes import (
    cpu_seconds,
    free_ports,
    local_servers_cpu_seconds,
    platform_env,
    spawn,
    stop,
    wait_ready,
)
from shared.auth.tokens import SigningKey, TokenSigner, TokenVerifier, generate_signing_key
from shared.db.database import asyncpg_dsn, normalize_database_url
from shared.db.migrate import schema_name, upgrade

TARGET_RATIO, TARGET_P99_MS = 0.25, 200.0
ISSUER, AUDIENCE = "ehome-identity", "ehome"
HOST = "127.0.0.1"
COPY_CHUNK_ROWS = 100_000
SIMULATED_MINUTES = 10.0
COLUMNS = ["patrol_id", "batch_seq", "idx", "lat", "lng", "at", "accuracy_m"]


@dataclass(frozen=True)
class Options:
    workers: int = 5000
    points: int = 500
    batch: int = 50
    concurrency: int = 32
    resend: float = 0.02
    layout: str = "process"
    server_workers: int = 1
    keep: bool = False
    database_url: str | None = None  # default: DATABASE_URL


def grid_of(number: int) -> str:
    """Workers spread over 999 communities x 100 grids of one town (铜陵镇)."""
    return f"350626106{number // 100 % 999 + 1:03d}{number % 100 + 1:03d}"


def make_workers(signer: TokenSigner, count: int) -> list[Worker]:
    workers = []
    for number in range(count):
        grid = grid_of(number)
        token = signer.access_token(subject=uuid.uuid4(), roles=["grid_worker"], kind="staff",
                                    regions=[grid], ttl_seconds=4 * 3600)
        workers.append(Worker(token=token, grid_code=grid))
    return workers


async def copy_baseline(conn: asyncpg.Connection, plan: Plan, workers: int) -> float:
    """Seconds spent COPYing every worker's points (one new patrol id each); making the rows
    is not counted. The table is emptied afterwards."""
    spent, rows = 0.0, list[tuple[Any, ...]]()

    async def flush() -> float:
        started = time.perf_counter()
        await conn.copy_records_to_table("patrol_points", records=rows, columns=COLUMNS)
        return time.perf_counter() - started

    for number in range(workers):
        patrol_id = uuid.uuid4()
        for index, (lat, lng, at) in enumerate(walk(plan, number)):
            rows.append((patrol_id, index // plan.batch, index % plan.batch, lat, lng,
                         datetime.fromisoformat(at), 10.0))
        if len(rows) >= COPY_CHUNK_ROWS:
            spent += await flush()
            rows = []
    if rows:
        spent += await flush()
    await conn.execute("TRUNCATE patrol_points")
    return spent


async def database_checks(conn: asyncpg.Connection, expected: int, workers: int
                          ) -> dict[str, Any]:
    points = await conn.fetchrow(
        "SELECT count(*) AS rows, count(DISTINCT (patrol_id, batch_seq, idx)) AS keys, "
        "count(DISTINCT (patrol_id, at)) AS moments FROM patrol_points")
    patrols = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'finished') AS finished, "
        "coalesce(sum(points), 0) AS points FROM patrols")
    assert points is not None
    assert patrols is not None
    announced = await conn.fetchval(
        "SELECT count(*) FROM outbox WHERE event_type = 'routing.patrol_finished'")
    checks = {
        "points_stored": points["rows"], "points_expected": expected,
        "distinct_keys": points["keys"], "distinct_patrol_moments": points["moments"],
        "patrols_finished": patrols["finished"], "points_in_finished_patrols": patrols["points"],
        "patrol_finished_events": announced,
    }
    checks["none_lost_or_duplicated"] = (
        points["rows"] == points["keys"] == points["moments"] == expected
        == patrols["points"] and patrols["finished"] == announced == workers)
    return checks


@asynccontextmanager
async def senders(options: Options, database_url: str, prefix: str, key: SigningKey
                  ) -> AsyncIterator[tuple[list[Send], dict[str, int]]]:
    """One sender per connection, and the pids whose CPU the run reports."""
    if options.layout == "inprocess":
        async with _in_process(database_url, prefix, key) as send:
            yield [send] * options.concurrency, {}
        return
    port = free_ports(1)[0]
    env = platform_env(
        database_url=database_url, prefix=prefix, rabbit=False, public_key=key.public_key,
        amqp_url=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        EHOME_JWT_ISSUER=ISSUER, EHOME_JWT_AUDIENCE=AUDIENCE,
        EHOME_ROUTING_RUN_TIMER_SCANNER="false",
        EHOME_DB_POOL_SIZE=str(max(10, options.concurrency // options.server_workers + 2)))
    process = spawn("services.routing.app:create_app", port, env, options.server_workers)
    connections = [RawConnection(HOST, port) for _ in range(options.concurrency)]
    try:
        wait_ready(f"http://{HOST}:{port}", process=process)
        yield [c.send for c in connections], {"routing": process.pid}
    finally:
        for connection in connections:
            connection.close()
        stop([process])


@asynccontextmanager
async def _in_process(database_url: str, prefix: str, key: SigningKey) -> AsyncIterator[Send]:
    from services.routing.app import create_app
    from services.routing.settings import Settings

    settings = Settings(database_url=database_url, schema_prefix=prefix, broker="memory",
                        run_timer_scanner=False, log_level="WARNING")
    app = create_app(settings, verifier=TokenVerifier([key.public_key], issuer=ISSUER,
                                                      audience=AUDIENCE))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def send(token: str, path: str, body: bytes) -> tuple[int, bytes]:
                answer = await client.post(path, content=body, headers={
                    "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                return answer.status_code, answer.content

            yield send


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (uvicorn's workers with ``--server-workers`` > 1)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _cpu(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by the service (its workers included), this generator, and
    the local PostgreSQL and RabbitMQ servers."""
    used = {name: sum(cpu_seconds(p) for p in [pid, *_children(pid)])
            for name, pid in pids.items()}
    return used | {"load_generator": cpu_seconds(os.getpid())} | local_servers_cpu_seconds()


def _spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float | None]:
    """Seconds each spent in between; None where a negative difference says processes that
    worked in between have exited (PostgreSQL backends take their share with them)."""
    spent = {name: round(after[name] - before.get(name, 0.0), 1) for name in after}
    return {name: value if value >= 0 else None for name, value in spent.items()}


def figures(options: Options, tally: Tally, api_seconds: float, copy_seconds: float,
            expected: int) -> dict[str, Any]:
    api_rate = tally.accepted / api_seconds if api_seconds > 0 else 0.0
    copy_rate = expected / copy_seconds if copy_seconds > 0 else 0.0
    return {
        "api_rows_per_s": round(api_rate), "copy_rows_per_s": round(copy_rate),
        "ratio": round(api_rate / copy_rate, 3) if copy_rate else None,
        "api_seconds": round(api_seconds, 2), "copy_seconds": round(copy_seconds, 2),
        "batches": len(tally.batch_ms),
        "batches_per_s": round(len(tally.batch_ms) / api_seconds, 1) if api_seconds else None,
        "batch_p50_ms": round(percentile(tally.batch_ms, 0.50), 1),
        "batch_p99_ms": round(percentile(tally.batch_ms, 0.99), 1),
        "batch_max_ms": round(max(tally.batch_ms, default=0.0), 1),
        "points_accepted": tally.accepted, "batches_resent": tally.resent,
        "resends_answered_duplicate": tally.duplicates, "failures": tally.failures,
    }


async def run(options: Options) -> dict[str, Any]:
    database_url = normalize_database_url(options.database_url or os.environ.get(
        "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    schema = schema_name("routing", prefix)
    print(f"schema {schema}; {options.workers} workers x {options.points} points, "
          f"batches of {options.batch}, {options.concurrency} at once, {options.layout}",
          flush=True)
    await upgrade(database_url, "routing", schema)
    key = generate_signing_key()
    workers = make_workers(TokenSigner(key, issuer=ISSUER, audience=AUDIENCE), options.workers)
    now = datetime.now(UTC)
    plan = Plan(points=options.points, batch=options.batch, minutes=SIMULATED_MINUTES,
                start=now - timedelta(minutes=SIMULATED_MINUTES + 5), resend=options.resend)
    expected = options.workers * options.points
    conn = await asyncpg.connect(asyncpg_dsn(database_url),
                                 server_settings={"search_path": schema})
    try:
        copy_seconds = await copy_baseline(conn, plan, options.workers)
        print(f"COPY baseline: {expected} rows in {copy_seconds:.2f} s", flush=True)
        async with senders(options, database_url, prefix, key) as (sends, pids):
            cpu_before, started = _cpu(pids), time.perf_counter()
            tally = await run_workers(sends, workers, plan)
            api_seconds = time.perf_counter() - started
            cpu_after = _cpu(pids)
        checks = await database_checks(conn, expected, options.workers)
    finally:
        if not options.keep:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
    result = figures(options, tally, api_seconds, copy_seconds, expected)
    result["cpu_seconds"] = _spent(cpu_before, cpu_after)
    targets = {"ratio": (result["ratio"] or 0) >= TARGET_RATIO,
               "batch_p99": result["batch_p99_ms"] <= TARGET_P99_MS,
               "none_lost_or_duplicated": checks["none_lost_or_duplicated"],
               "no_failures": not tally.failures}
    with contextlib.suppress(OSError):
        result["load_average_after"] = round(os.getloadavg()[0], 2)
    shown = asdict(options) | {"database_url": None}  # never print a password
    return {"options": shown, "cores": os.cpu_count(), **result, "checks": checks,
            "targets": {"ratio_min": TARGET_RATIO, "batch_p99_ms_max": TARGET_P99_MS,
                        "met": targets}, "target_met": all(targets.values())}
