"""/readyz tells the truth quickly: a consumer backlog neither starves requests of connections
nor delays the answer, and a broker that is away is reported as such (and back when it is)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from shared.db.uow import UnitOfWork
from shared.messaging.envelope import Envelope
from shared.testing.plugin import running, wait_until
from shared.testing.tcpproxy import TcpProxy
from tests.shared.conftest import ProbeSink, ProbeWorld


class _SlowHandler:
    """Holds its transaction (and so a pooled connection) a while; records how many run."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.running = 0
        self.most_at_once = 0
        self.sink = ProbeSink()

    async def handle(self, envelope: Envelope, uow: UnitOfWork) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await uow.connection.execute(text("SELECT 1"))
            await asyncio.sleep(self.seconds)  # "idle in transaction", as under a backlog
            await self.sink.handle(envelope, uow)
        finally:
            self.running -= 1


async def _timed_get(client: httpx.AsyncClient, path: str) -> tuple[float, httpx.Response]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await client.get(path)
    return loop.time() - started, response


async def test_a_consumer_backlog_leaves_connections_for_requests_and_readiness_answers(
    probe_world: ProbeWorld, amqp_url: str
) -> None:
    handler = _SlowHandler(0.4)
    app = probe_world.consumer(
        handler, broker="rabbitmq", amqp_url=amqp_url, run_relay=False,  # type: ignore[arg-type]
        db_pool_size=4, consumer_prefetch=50,
    )
    async with running(app) as client:
        runtime = app.state.runtime
        for i in range(30):
            envelope = Envelope(
                event_type="platform.probe", producer="events",
                payload={"sequence": i, "note": ""},
            )
            await runtime.broker.publish(
                envelope.routing_key, envelope.to_bytes(), message_id=str(envelope.event_id)
            )
        await wait_until(lambda: _busy(handler), within=10)

        elapsed, ready = await _timed_get(client, "/readyz")
        assert ready.status_code == 200, ready.text
        assert elapsed < 2.5
        # A request's unit of work finds a pooled connection at once despite the backlog.
        async with asyncio.timeout(1.0), runtime.uow() as uow:
            assert await uow.connection.scalar(text("SELECT 1")) == 1

        await wait_until(lambda: _seen_is(probe_world, 30), within=60)
    assert handler.most_at_once == 2  # half the pool of 4


async def _busy(handler: _SlowHandler) -> bool:
    return handler.running >= 1


async def _seen_is(world: ProbeWorld, n: int) -> bool:
    return int(await world.scalar("SELECT count(*) FROM probe_seen")) == n


async def _checks(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/readyz")
    body = response.json()
    return response.status_code, body.get("checks", {})


async def test_readiness_reports_a_broker_that_is_away_and_recovers_with_it(
    probe_world: ProbeWorld, amqp_url: str
) -> None:
    proxy = await TcpProxy.to_url(amqp_url).start()
    app: FastAPI = probe_world.producer(
        broker="rabbitmq", amqp_url=proxy.through(amqp_url),
        publish_timeout_seconds=1.0,
    )
    try:
        async with running(app) as client:
            assert await _checks(client) == (
                200, {"database": "ok", "broker": "ok", "accepting": "ok"}
            )
            await proxy.cut()

            async def broker_reported_away() -> bool:
                status, checks = await _checks(client)
                return status == 503 and checks.get("broker") == "failed"

            await wait_until(broker_reported_away, within=5)
            proxy.restore()

            async def ready_again() -> bool:
                return (await _checks(client))[0] == 200

            await wait_until(ready_again, within=20)
    finally:
        await proxy.close()
