"""A failure of our own infrastructure is not a poison message: a delivery whose database is
unreachable, whose pool has no connection free, or whose transaction hit a serialization
failure or deadlock is retried in hand and never counted toward the delivery limit; only a
handler's own error on a healthy database parks a message."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI

from shared.db.faults import Fault, classify
from shared.db.uow import UnitOfWork
from shared.messaging.envelope import Envelope
from shared.messaging.memory import MemoryBroker
from shared.testing.plugin import running, wait_until
from shared.testing.tcpproxy import TcpProxy
from tests.shared.conftest import ProbeSink, ProbeWorld


def _probe(sequence: int, note: str = "") -> Envelope:
    return Envelope(
        event_type="platform.probe", producer="events",
        payload={"sequence": sequence, "note": note},
    )


async def _publish(app: FastAPI, *envelopes: Envelope) -> None:
    broker = app.state.runtime.broker
    for envelope in envelopes:
        await broker.publish(
            envelope.routing_key, envelope.to_bytes(), message_id=str(envelope.event_id)
        )


async def _parked(app: FastAPI) -> list[bytes]:
    runtime = app.state.runtime
    return await runtime.broker.parked(runtime.consumers.specs[0])


async def _seen(world: ProbeWorld) -> int:
    return int(await world.scalar("SELECT count(*) FROM probe_seen"))


def _tried(app: FastAPI) -> int:
    """Attempts that failed so far, whichever way they were treated."""
    consumers = app.state.runtime.consumers
    return consumers.failures_total + getattr(consumers, "infrastructure_retries_total", 0)


async def test_a_message_is_held_not_parked_while_the_database_is_unreachable(
    probe_world: ProbeWorld, amqp_url: str, database_url: str
) -> None:
    proxy = await TcpProxy.to_url(database_url).start()
    proxied = proxy.through(database_url)
    sink = ProbeSink()
    app = probe_world.consumer(
        sink, broker="rabbitmq", amqp_url=amqp_url, database_url=proxied, run_relay=False
    )
    try:
        async with running(app):
            await proxy.cut()
            await _publish(app, *(_probe(i) for i in range(3)))
            await wait_until(lambda: _failed_once(app), within=10)
            # With the delivery limit of 2 and pauses of 0.2, 0.4 and 0.8 s, returning the
            # messages to the queue would have parked them well within this.
            await asyncio.sleep(3.0)
            assert await _parked(app) == []
            assert app.state.runtime.consumers.failures_total == 0

            proxy.restore()
            await wait_until(lambda: _seen_is(probe_world, 3), within=30)
            assert await _parked(app) == []
    finally:
        await proxy.close()
    assert dict(sink.attempts) == {0: 1, 1: 1, 2: 1}


async def test_a_stop_while_the_database_is_unreachable_gives_held_deliveries_back_promptly(
    probe_world: ProbeWorld, amqp_url: str, database_url: str
) -> None:
    proxy = await TcpProxy.to_url(database_url).start()
    proxied = proxy.through(database_url)
    sink = ProbeSink()
    wiring: dict[str, Any] = {
        "broker": "rabbitmq", "amqp_url": amqp_url, "database_url": proxied, "run_relay": False,
    }
    loop = asyncio.get_running_loop()
    try:
        app = probe_world.consumer(sink, **wiring)
        async with running(app):
            await proxy.cut()
            await _publish(app, _probe(4))
            await wait_until(lambda: _failed_once(app), within=10)
            stopping_at = loop.time()
        assert loop.time() - stopping_at < 10  # the held delivery did not keep the stop

        proxy.restore()
        again = probe_world.consumer(sink, **wiring)
        async with running(again):
            await wait_until(lambda: _seen_is(probe_world, 1), within=30)
            assert await _parked(again) == []
    finally:
        await proxy.close()
    assert sink.attempts[4] == 1


async def _failed_once(app: FastAPI) -> bool:
    return _tried(app) >= 1


async def _seen_is(world: ProbeWorld, n: int) -> bool:
    return await _seen(world) == n


async def test_a_message_waiting_for_a_pooled_connection_is_not_parked(
    probe_world: ProbeWorld, amqp_url: str
) -> None:
    """The incident: redeliveries failed in claim_inbox with 'QueuePool limit … timed out'
    until the message was parked."""
    sink = ProbeSink()
    app = probe_world.consumer(
        sink, broker="rabbitmq", amqp_url=amqp_url, run_relay=False,
        db_pool_size=1, db_pool_timeout_seconds=0.3,
    )
    async with running(app):
        engine = app.state.runtime.database.engine
        async with engine.connect():  # takes the pool's only connection
            await _publish(app, _probe(5))
            await wait_until(lambda: _failed_times(app, 3), within=15)
            assert app.state.runtime.consumers.failures_total == 0
            assert await _parked(app) == []
        await wait_until(lambda: _seen_is(probe_world, 1), within=20)
        assert await _parked(app) == []
    assert sink.attempts[5] == 1


async def _failed_times(app: FastAPI, n: int) -> bool:
    return _tried(app) >= n


class _FailsWith:
    """A handler whose transaction fails ``times`` times with ``error``, then succeeds."""

    def __init__(self, error: type[BaseException], times: int) -> None:
        self.error, self.times = error, times
        self.sink = ProbeSink()
        self.calls = 0

    async def handle(self, envelope: Envelope, uow: UnitOfWork) -> None:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error("raised by the test")
        await self.sink.handle(envelope, uow)


@pytest.mark.parametrize(
    "error", [asyncpg.exceptions.SerializationError, asyncpg.exceptions.DeadlockDetectedError]
)
async def test_a_serialization_failure_or_deadlock_is_retried_without_counting_a_delivery(
    probe_world: ProbeWorld, error: type[BaseException]
) -> None:
    broker = MemoryBroker()
    handler = _FailsWith(error, times=3)  # more than the delivery limit of 2
    app = probe_world.consumer(handler, shared_broker=broker, run_relay=False)  # type: ignore[arg-type]
    async with running(app):
        await _publish(app, _probe(8))
        await wait_until(lambda: _seen_is(probe_world, 1), within=15)
        assert await _parked(app) == []
        consumers = app.state.runtime.consumers
        assert (consumers.failures_total, consumers.infrastructure_retries_total) == (0, 3)
    assert handler.calls == 4


class _AlwaysRefused:
    """A handler whose own outbound call keeps failing with a network error."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, envelope: Envelope, uow: UnitOfWork) -> None:
        self.calls += 1
        raise ConnectionRefusedError("the partner's server refused the connection")


async def test_a_handlers_own_network_error_on_a_healthy_database_still_parks_the_message(
    probe_world: ProbeWorld,
) -> None:
    broker = MemoryBroker()
    handler = _AlwaysRefused()
    app = probe_world.consumer(handler, shared_broker=broker, run_relay=False)  # type: ignore[arg-type]
    async with running(app):
        await _publish(app, _probe(9))

        async def parked() -> bool:
            return len(await _parked(app)) == 1

        await wait_until(parked, within=15)
        consumers = app.state.runtime.consumers
        assert getattr(consumers, "infrastructure_retries_total", 0) == 0
    assert handler.calls == 3  # the first delivery and two more: the delivery limit


def _wrapped(exc: BaseException) -> BaseException:
    """``exc`` as SQLAlchemy raises it from its asyncpg dialect: cause of a wrapper."""
    try:
        try:
            raise exc
        except BaseException as inner:
            raise RuntimeError("wrapper") from inner
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    ("exc", "fault"),
    [
        (asyncpg.exceptions.ConnectionDoesNotExistError("lost"), Fault.UNREACHABLE),
        (asyncpg.exceptions.CannotConnectNowError("starting up"), Fault.UNREACHABLE),
        (asyncpg.exceptions.AdminShutdownError("terminating"), Fault.UNREACHABLE),
        (asyncpg.InterfaceError("connection is closed"), Fault.UNREACHABLE),
        (asyncpg.exceptions.SerializationError("conflict"), Fault.BUSY),
        (asyncpg.exceptions.DeadlockDetectedError("deadlock"), Fault.BUSY),
        (asyncpg.exceptions.TooManyConnectionsError("full"), Fault.BUSY),
        (ConnectionRefusedError("refused"), Fault.SUSPECT),
        (TimeoutError(), Fault.SUSPECT),
        (asyncpg.exceptions.UniqueViolationError("dup"), None),
        (ValueError("the handler's own"), None),
    ],
)
def test_infrastructure_faults_are_told_from_a_handlers_own_errors(
    exc: BaseException, fault: Fault | None
) -> None:
    assert classify(exc) is fault
    assert classify(_wrapped(exc)) is fault


def test_a_pool_timeout_is_the_database_being_busy() -> None:
    import sqlalchemy.exc

    error: Any = sqlalchemy.exc.TimeoutError("QueuePool limit of size 1 overflow 0 reached")
    assert classify(error) is Fault.BUSY
