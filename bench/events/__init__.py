"""Event intake at rising rates through the gateway: reports per second sustained, and
report → assigned latency (p50, p99), with zero cases left unassigned after the run.

Everything runs in one process: the gateway with the events and routing apps in-process
(the embedded mode's wiring), over RabbitMQ when ``AMQP_URL`` answers (else the in-memory
broker, and the result says so), against PostgreSQL at ``DATABASE_URL``. Reports are sent
open-loop on a fixed schedule per step, each by a different resident, so the gateway's
per-caller rate limit does not shape the load.

Latency "report → assigned" is measured per case from the moment the report was committed
(``reported_at``) to the moment routing committed its assignment (the ``dispatch`` step's
time), both written by the services' own clocks in this one process.

``python -m bench.events [--rates 50,100,200] [--seconds 10] [--keep]``; results go to
``bench/results/events.json``. Target at 200 reports/s: p99 <= 300 ms, nothing unassigned.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aio_pika
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.app import create_gateway_app
from gateway.settings import GatewaySettings
from gateway.upstreams import AsgiUpstream
from services.events.app import create_app as create_events
from services.events.settings import Settings as EventsSettings
from services.routing.app import create_app as create_routing
from services.routing.settings import Settings as RoutingSettings
from shared.auth.tokens import TokenSigner, TokenVerifier, generate_signing_key
from shared.db.database import normalize_database_url
from shared.db.migrate import schema_name, upgrade
from shared.messaging.memory import MemoryBroker
from shared.messaging.rabbit import delete_prefixed_objects

RESULTS = Path(__file__).resolve().parents[1] / "results" / "events.json"
GRIDS = ["350626106001001", "350626106001002", "350626106002001", "350623100001001",
         "350602001001001"]
TARGET_RATE, TARGET_P99_MS = 200, 300.0
ISSUER, AUDIENCE = "ehome-identity", "ehome"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _rabbit(url: str) -> bool:
    try:
        connection = await aio_pika.connect(url, timeout=5)
    except Exception:  # any failure means "not usable for this run"; we say so in the result
        return False
    await connection.close()
    return True


async def _step(client: httpx.AsyncClient, tokens: list[str], rate: int, seconds: float
                ) -> dict[str, Any]:
    """Send ``rate`` reports a second for ``seconds``, open loop; time each POST."""
    total = int(rate * seconds)
    posted: list[float] = []
    failures = 0
    codes: dict[str, int] = {}
    ids: list[str] = []
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def one(i: int) -> None:
        nonlocal failures
        body = {"category_code": "dispute_neighbour", "description": f"噪音扰民 bench {i}",
                "region_code": GRIDS[i % len(GRIDS)]}
        t0 = time.perf_counter()
        response = await client.post("/api/v1/events", json=body,
                                     headers={"Authorization": f"Bearer {tokens[i]}"})
        posted.append((time.perf_counter() - t0) * 1000)
        if response.status_code == 201:
            ids.append(response.json()["id"])
        else:
            failures += 1
            codes[f"{response.status_code} {response.headers.get('content-type', '')[:20]}"
                  f" {response.text[:80]}"] = codes.get(str(response.status_code), 0) + 1

    tasks = []
    for i in range(total):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    return {"rate": rate, "sent": total, "accepted": len(ids), "failures": failures,
            "achieved_per_s": len(ids) / elapsed, "post_p50_ms": _pct(posted, 0.5),
            "post_p99_ms": _pct(posted, 0.99), "failure_kinds": dict(list(codes.items())[:3]),
            "ids": ids}


async def _latencies(engine: Any, schema: str, ids: list[str], wait_s: float
                     ) -> tuple[list[float], int]:
    """Per-case report → assigned latencies (ms) and how many are still unassigned."""
    deadline = time.monotonic() + wait_s
    while True:
        async with engine.connect() as conn:
            await conn.execute(text(f'SET search_path TO "{schema}"'))
            rows = (await conn.execute(text(
                "SELECT c.id::text, c.status, c.reported_at, "
                "(SELECT min(t.at) FROM timeline t WHERE t.event_id = c.id "
                " AND t.action = 'dispatch') AS assigned_at "
                "FROM cases c WHERE c.id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids})).all()
        unassigned = sum(1 for r in rows if r.assigned_at is None)
        if unassigned == 0 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    latencies = [(r.assigned_at - r.reported_at).total_seconds() * 1000 for r in rows
                 if r.assigned_at is not None]
    return latencies, unassigned + (len(ids) - len(rows))


async def run(rates: list[int], seconds: float, keep: bool) -> dict[str, Any]:
    database_url = normalize_database_url(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    amqp_url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    use_rabbit = await _rabbit(amqp_url)
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    for service in ("events", "routing"):
        await upgrade(database_url, service, schema_name(service, prefix))
    key = generate_signing_key()
    signer = TokenSigner(key, issuer=ISSUER, audience=AUDIENCE)
    verifier = TokenVerifier([key.public_key], issuer=ISSUER, audience=AUDIENCE)
    common: dict[str, Any] = {
        "database_url": database_url, "schema_prefix": prefix, "amqp_prefix": prefix,
        "environment": "test", "log_level": "WARNING", "db_pool_size": 10,
        "outbox_poll_seconds": 0.5,
    }
    wiring: dict[str, Any] = {"verifier": verifier}
    if use_rabbit:
        common |= {"broker": "rabbitmq", "amqp_url": amqp_url}
    else:
        common |= {"broker": "memory"}
        wiring["broker"] = MemoryBroker()
    apps = {
        "events": create_events(EventsSettings(**common, attachment_dir="/tmp/bench-events"),
                                **wiring),
        "routing": create_routing(RoutingSettings(**common), **wiring),
    }
    gateway_settings = GatewaySettings(rate_limit_per_second=1000, rate_limit_burst=1000)
    gateway = create_gateway_app(
        gateway_settings,
        upstreams={n: AsgiUpstream(n, a, gateway_settings.upstream_timeout_seconds)
                   for n, a in apps.items()},
        verifier=verifier, mounted_apps=list(apps.values()),
    )
    engine = create_async_engine(database_url)
    steps = []
    try:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(gateway.lifespan())
            client = await stack.enter_async_context(httpx.AsyncClient(
                transport=httpx.ASGITransport(app=gateway), base_url="http://gateway",
                timeout=30))
            for rate in rates:
                tokens = [signer.access_token(subject=uuid.uuid4(), roles=["resident"],
                                              kind="resident", verified=True)
                          for _ in range(int(rate * seconds))]
                step = await _step(client, tokens, rate, seconds)
                latencies, unassigned = await _latencies(engine, schema_name("events", prefix),
                                                         step.pop("ids"), wait_s=15)
                step |= {"assign_p50_ms": _pct(latencies, 0.5),
                         "assign_p99_ms": _pct(latencies, 0.99),
                         "assign_mean_ms": statistics.fmean(latencies) if latencies else None,
                         "unassigned_after_run": unassigned}
                steps.append(step)
                print(json.dumps(step), flush=True)
    finally:
        if not keep:
            async with engine.begin() as conn:
                for service in ("events", "routing"):
                    await conn.execute(text(
                        f'DROP SCHEMA IF EXISTS "{schema_name(service, prefix)}" CASCADE'))
            if use_rabbit:
                await delete_prefixed_objects(amqp_url, prefix)
        await engine.dispose()
    target = next((s for s in steps if s["rate"] == TARGET_RATE), None)
    met = bool(target and target["assign_p99_ms"] <= TARGET_P99_MS
               and target["unassigned_after_run"] == 0
               and target["achieved_per_s"] >= 0.95 * TARGET_RATE)
    return {"broker": "rabbitmq" if use_rabbit else "memory (RabbitMQ unreachable)",
            "seconds_per_step": seconds, "steps": steps, "target_met": met}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.events")
    parser.add_argument("--rates", default="50,100,200")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true")
    args, _ = parser.parse_known_args(argv)
    result = asyncio.run(run([int(r) for r in args.rates.split(",")], args.seconds, args.keep))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "steps"}), flush=True)
    return 0 if result["target_met"] else 1
