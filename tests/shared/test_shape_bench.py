"""bench/shape, the closed loop's three messages without their domain, run small over real
PostgreSQL and RabbitMQ: every report goes the whole way and the run leaves nothing behind."""

from __future__ import annotations

import uuid

import asyncpg

from bench.shape import compare, run_shape
from shared.db.database import asyncpg_dsn


async def test_every_report_of_the_shape_bench_is_assigned_and_its_last_message_sent(
    database_url: str, amqp_url: str, run_prefix: str
) -> None:
    prefix = f"{run_prefix}shape{uuid.uuid4().hex[:4]}"
    [step] = await run_shape(database_url, amqp_url, [40], 1.0, prefix=prefix)
    # Nothing pending: every case recorded as assigned, both outboxes published.
    assert step["messages"] == 3
    assert step["opened"] == 40
    assert step["pending_after_run"] == 0
    assert step["assign_p50_ms"] is not None
    assert step["assign_p99_ms"] >= step["assign_p50_ms"]
    assert step["cpu_ms_per_report"]["shape_services"] > 0
    assert step["share_of_budget"] == round(step["cpu_ms_per_report_total"] / 4.5, 2)
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        left = await conn.fetchval(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE $1", f"%{prefix}%")
    finally:
        await conn.close()
    assert left == 0


async def test_with_one_message_every_report_is_decided_without_a_way_back(
    database_url: str, amqp_url: str, run_prefix: str
) -> None:
    [step] = await run_shape(database_url, amqp_url, [40], 1.0, messages=1,
                             prefix=f"{run_prefix}shape{uuid.uuid4().hex[:4]}")
    assert step["messages"] == 1
    assert step["pending_after_run"] == 0
    assert step["assign_p50_ms"] is not None


def test_each_shape_is_compared_with_three_messages_at_its_rate() -> None:
    steps = [{"messages": m, "rate": r, "cpu_ms_per_report_total": cpu}
             for m, r, cpu in ((3, 200, 8.0), (3, 400, 5.0), (1, 200, 4.0), (1, 400, 2.0))]
    assert compare(steps) == {"200/s, 1 messages": 0.5, "400/s, 1 messages": 0.4}
