"""Batch consumption over real RabbitMQ and PostgreSQL: messages that wait while a queue's
batch runs are handled together in one transaction, and a batch never costs a healthy message
its place or applies one twice.

Each test holds the first message's handler until the messages behind it are all in hand,
with one batch in flight per queue, so what follows is one batch by construction."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from shared.contracts.platform import Probe
from shared.db.uow import UnitOfWork
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.envelope import Envelope
from shared.testing.plugin import running, wait_until
from shared.testing.tcpproxy import TcpProxy
from tests.shared.conftest import ProbeSink, ProbeWorld

BATCHED = {"consumer_batch_size": 32, "consumer_batches_in_flight": 1}


@dataclass
class HeldSink(ProbeSink):
    """A probe sink whose ``hold`` messages wait for ``release`` (``hold_again`` for
    ``release_again``) inside their transaction; ``started`` counts handler starts and
    ``order`` lists first starts."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    release_again: asyncio.Event = field(default_factory=asyncio.Event)
    started: Counter[int] = field(default_factory=Counter)
    order: list[int] = field(default_factory=list)

    async def handle(self, envelope: Envelope, uow: UnitOfWork) -> None:
        probe = envelope.payload_as(Probe)
        if not self.started[probe.sequence]:
            self.order.append(probe.sequence)
        self.started[probe.sequence] += 1
        if probe.note == "hold":
            await self.release.wait()
        elif probe.note == "hold_again":
            await self.release_again.wait()
        await super().handle(envelope, uow)

    def let_go(self) -> None:
        """Release every held handler (a failed test must not leave its app unable to stop)."""
        self.release.set()
        self.release_again.set()


@contextlib.asynccontextmanager
async def _released(sink: HeldSink) -> AsyncIterator[None]:
    try:
        yield
    finally:
        sink.let_go()


def _runner(app: FastAPI) -> ConsumerRunner:
    consumers: ConsumerRunner = app.state.runtime.consumers
    return consumers


async def _publish(app: FastAPI, sequence: int, note: str = "") -> None:
    envelope = Envelope(event_type="platform.probe", producer="events",
                        payload={"sequence": sequence, "note": note})
    await app.state.runtime.broker.publish(envelope.routing_key, envelope.to_bytes(),
                                           message_id=str(envelope.event_id))


async def _held_then_queued(app: FastAPI, sink: HeldSink, notes: dict[int, str],
                            count: int) -> None:
    """Message 0 held in its handler, then 1..count published and all of them in hand."""
    await _publish(app, 0, "hold")
    await wait_until(lambda: _true(sink.started[0] == 1), within=10)
    for sequence in range(1, count + 1):
        await _publish(app, sequence, notes.get(sequence, ""))
    await wait_until(lambda: _true(_runner(app).in_hand == count + 1), within=10)


async def _true(value: bool) -> bool:
    return value



async def test_a_poison_message_in_a_batch_is_parked_alone_and_the_others_are_handled(
    probe_world: ProbeWorld, amqp_url: str
) -> None:
    sink = HeldSink()
    app = probe_world.consumer(sink, broker="rabbitmq", amqp_url=amqp_url, **BATCHED)
    async with running(app), _released(sink):
        await _held_then_queued(app, sink, {4: "always_fail"}, count=10)
        sink.release.set()
        spec = _runner(app).specs[0]

        async def parked() -> bool:
            return len(await app.state.runtime.broker.parked(spec)) == 1

        await wait_until(parked, within=30)
        await wait_until(lambda: probe_world.seen_is(10), within=10)
        bodies = await app.state.runtime.broker.parked(spec)
        runner = _runner(app)
        assert runner.batches_taken_apart_total >= 1

    assert [Envelope.from_bytes(body).payload["sequence"] for body in bodies] == [4]
    seen = await probe_world.scalar("SELECT array_agg(sequence ORDER BY sequence) FROM probe_seen")
    assert seen == [n for n in range(11) if n != 4]
    assert await probe_world.scalar("SELECT count(*) FROM inbox") == 10



async def test_messages_that_wait_together_commit_as_one_batch_in_delivery_order(
    probe_world: ProbeWorld, amqp_url: str
) -> None:
    sink = HeldSink()
    app = probe_world.consumer(sink, broker="rabbitmq", amqp_url=amqp_url, **BATCHED)
    async with running(app), _released(sink):
        await _held_then_queued(app, sink, {}, count=20)
        sink.release.set()
        await wait_until(lambda: probe_world.seen_is(21), within=20)
        runner = _runner(app)
        # The rows are visible at the commit; the batch is counted once its acks are sent.
        await wait_until(lambda: _true(runner.handled_total == 21), within=10)
        counts: dict[str, Any] = {
            "batches": runner.batches_total, "in_batches": runner.batched_messages_total,
            "taken_apart": runner.batches_taken_apart_total, "handled": runner.handled_total}

    assert counts == {"batches": 1, "in_batches": 20, "taken_apart": 0, "handled": 21}
    assert sink.order == list(range(21))
    assert set(sink.attempts.values()) == {1}
    # One transaction: every row of the batch was written at the same transaction time.
    assert await probe_world.scalar(
        "SELECT count(DISTINCT received_at) FROM inbox WHERE event_id IN "
        "(SELECT event_id FROM probe_seen WHERE sequence > 0)") == 1


async def test_one_message_at_a_time_keeps_publication_order(
    probe_world: ProbeWorld, amqp_url: str
) -> None:
    """A queue read with prefetch 1 (the partner changes feed) is handled strictly in
    publication order, batches or not."""
    sink = HeldSink()
    app = probe_world.consumer(sink, broker="rabbitmq", amqp_url=amqp_url,
                               consumer_prefetch=1, consumer_batch_size=32)
    async with running(app):
        for sequence in range(15):
            await _publish(app, sequence)
        await wait_until(lambda: probe_world.seen_is(15), within=20)

    assert sink.order == list(range(15))


async def test_a_connection_lost_mid_batch_redelivers_the_batch_and_nothing_is_applied_twice(
    probe_world: ProbeWorld, amqp_url: str
) -> None:
    proxy = await TcpProxy.to_url(amqp_url).start()
    sink = HeldSink()
    app = probe_world.consumer(sink, broker="rabbitmq", amqp_url=proxy.through(amqp_url),
                               **BATCHED)
    try:
        async with running(app), _released(sink):
            await _held_then_queued(app, sink, {5: "hold_again"}, count=10)
            sink.release.set()  # the batch of 1..10 starts; message 5 waits inside it
            await wait_until(lambda: _true(sink.started[5] == 1), within=10)
            await proxy.cut()  # the channel dies with the batch's transaction open
            sink.release_again.set()  # the batch commits; its acks cannot be sent
            await asyncio.sleep(0.5)
            proxy.restore()  # the broker delivers 1..10 again; the inbox drops every copy
            await wait_until(lambda: _true(_runner(app).duplicates_total == 10), within=40)
            duplicates = _runner(app).duplicates_total
    finally:
        await proxy.close()

    assert duplicates == 10
    assert set(sink.attempts.values()) == {1}
    assert await probe_world.seen() == 11
    assert await probe_world.scalar("SELECT count(*) FROM inbox") == 11
