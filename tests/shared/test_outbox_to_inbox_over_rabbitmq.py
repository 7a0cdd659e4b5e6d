"""Outbox -> RabbitMQ -> inbox across two real service apps: nothing lost, nothing done twice."""

from __future__ import annotations

import asyncio
import json

import aio_pika
import pytest
from sqlalchemy import insert

from shared.contracts.platform import Probe
from shared.db.database import Database
from shared.db.uow import UnitOfWork
from shared.messaging.envelope import Envelope
from shared.messaging.outbox import OutboxRelay
from shared.messaging.rabbit import RabbitBroker
from shared.messaging.tables import outbox
from shared.testing.plugin import running, wait_until
from shared.testing.tcpproxy import TcpProxy
from tests.shared.conftest import ProbeSink, ProbeWorld

N = 60


async def _unpublished(world: ProbeWorld) -> int:
    return int(
        await world.scalar(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL", service="events"
        )
    )



async def test_every_event_is_handled_exactly_once(probe_world: ProbeWorld, amqp_url: str) -> None:
    sink = ProbeSink()
    wiring = {"broker": "rabbitmq", "amqp_url": amqp_url}
    async with (
        running(probe_world.consumer(sink, **wiring)),
        running(probe_world.producer(**wiring)) as producer,
    ):
        for i in range(N):
            response = await producer.post("/api/v1/events/probes", json={"sequence": i})
            assert response.status_code == 201
        await wait_until(lambda: probe_world.seen_is(N), within=20)
        await asyncio.sleep(0.5)  # would-be late duplicates have time to show up

    assert await probe_world.seen() == N
    assert await probe_world.scalar("SELECT count(DISTINCT sequence) FROM probe_seen") == N
    assert (
        await probe_world.scalar(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL", service="events"
        )
        == 0
    )
    assert set(sink.attempts.values()) == {1}



async def test_a_message_delivered_twice_is_handled_once(
    probe_world: ProbeWorld, amqp_url: str
) -> None:
    sink = ProbeSink()
    consumer_app = probe_world.consumer(sink, broker="rabbitmq", amqp_url=amqp_url)
    async with running(consumer_app):
        runtime = consumer_app.state.runtime
        envelope = Envelope(
            event_type="platform.probe", producer="events", payload={"sequence": 7, "note": ""}
        )
        for _ in range(2):
            await runtime.broker.publish(
                envelope.routing_key, envelope.to_bytes(), message_id=str(envelope.event_id)
            )
        await wait_until(lambda: _settled(runtime, handled=1, duplicates=1), within=10)

    assert await probe_world.seen() == 1
    assert sink.attempts[7] == 1


async def _settled(runtime: object, *, handled: int, duplicates: int) -> bool:
    consumers = runtime.consumers  # type: ignore[attr-defined]
    return consumers.handled_total == handled and consumers.duplicates_total == duplicates


async def test_a_handler_that_fails_once_is_retried_then_handled_once(
    probe_world: ProbeWorld, amqp_url: str
) -> None:
    sink = ProbeSink()
    wiring = {"broker": "rabbitmq", "amqp_url": amqp_url}
    async with (
        running(probe_world.consumer(sink, **wiring)),
        running(probe_world.producer(**wiring)) as producer,
    ):
        await producer.post("/api/v1/events/probes", json={"sequence": 1, "note": "fail_once"})
        await wait_until(lambda: probe_world.seen_is(1), within=10)

    assert sink.attempts[1] == 2
    assert await probe_world.seen() == 1


async def test_a_handler_that_always_fails_parks_the_message_after_the_delivery_limit(
    probe_world: ProbeWorld, amqp_url: str
) -> None:
    sink = ProbeSink()
    wiring = {"broker": "rabbitmq", "amqp_url": amqp_url}
    consumer_app = probe_world.consumer(sink, **wiring)
    async with running(consumer_app), running(probe_world.producer(**wiring)) as producer:
        await producer.post("/api/v1/events/probes", json={"sequence": 9, "note": "always_fail"})
        await producer.post("/api/v1/events/probes", json={"sequence": 10})
        runtime = consumer_app.state.runtime
        spec = runtime.consumers.specs[0]

        async def parked() -> bool:
            return len(await runtime.broker.parked(spec)) == 1

        await wait_until(parked, within=20)
        await wait_until(lambda: probe_world.seen_is(1), within=10)
        bodies = await runtime.broker.parked(spec)

    # Delivered 1 + delivery_limit times, then parked whole; the good message went through.
    assert sink.attempts[9] == 3
    assert Envelope.from_bytes(bodies[0]).payload["sequence"] == 9
    assert await probe_world.scalar("SELECT count(*) FROM probe_seen WHERE sequence = 9") == 0
    assert await probe_world.scalar("SELECT count(*) FROM inbox") == 1
    assert await probe_world.seen() == 1


async def test_writes_commit_while_rabbitmq_is_unreachable_and_events_follow_when_it_returns(
    probe_world: ProbeWorld, amqp_url: str
) -> None:
    proxy = await TcpProxy.to_url(amqp_url).start()
    proxied_url = proxy.through(amqp_url)
    sink = ProbeSink()
    try:
        async with (
            running(probe_world.consumer(sink, broker="rabbitmq", amqp_url=amqp_url)),
            running(
                probe_world.producer(
                    broker="rabbitmq", amqp_url=proxied_url, publish_timeout_seconds=1.0
                )
            ) as producer,
        ):
            await producer.post("/api/v1/events/probes", json={"sequence": 0})
            await wait_until(lambda: probe_world.seen_is(1), within=10)

            await proxy.cut()
            for i in range(1, 11):
                response = await producer.post("/api/v1/events/probes", json={"sequence": i})
                assert response.status_code == 201  # the state change does not wait for RabbitMQ
            written = await probe_world.scalar(
                "SELECT count(*) FROM probe_written", service="events"
            )
            assert written == 11
            await asyncio.sleep(2.0)
            assert await probe_world.seen() == 1
            assert (
                await probe_world.scalar(
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL", service="events"
                )
                == 10
            )

            proxy.restore()
            await wait_until(lambda: probe_world.seen_is(11), within=40)
    finally:
        await proxy.close()
    assert (
        await probe_world.scalar(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL", service="events"
        )
        == 0
    )
    assert set(sink.attempts.values()) == {1}


async def test_two_relay_replicas_publish_every_event_and_none_twice(
    probe_world: ProbeWorld, amqp_url: str, service_settings: object
) -> None:
    from services.events.settings import Settings as EventsSettings

    settings = probe_world.build_settings(
        EventsSettings,
        schema_prefix=probe_world.prefix,
        amqp_prefix=probe_world.prefix,
        broker="rabbitmq",
        amqp_url=amqp_url,
    )
    database = Database(settings)
    total = 400
    async with UnitOfWork(database, producer="events") as uow:
        for i in range(total):
            env = Envelope(
                event_type="platform.probe",
                producer="events",
                payload=Probe(sequence=i).model_dump(),
            )
            await uow.connection.execute(
                insert(outbox).values(
                    event_id=env.event_id,
                    event_type=env.event_type,
                    routing_key=env.routing_key,
                    envelope=env.model_dump(mode="json"),
                )
            )

    brokers = [
        RabbitBroker(amqp_url, prefix=probe_world.prefix, publish_timeout=5, name=f"relay{i}")
        for i in range(2)
    ]
    for broker in brokers:
        await broker.connect()
    received: list[str] = []
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    queue = await channel.declare_queue("", exclusive=True)
    await queue.bind(f"{probe_world.prefix}.events", routing_key="platform.probe.v1")

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        received.append(json.loads(message.body)["event_id"])
        await message.ack()

    await queue.consume(on_message)
    relays = [OutboxRelay(database, broker, batch_size=25, poll_seconds=0.1) for broker in brokers]
    for relay in relays:
        relay.start()

    async def all_received() -> bool:
        return len(received) >= total

    try:
        await wait_until(all_received, within=30)
        await asyncio.sleep(0.5)
    finally:
        for relay in relays:
            await relay.stop()
        for broker in brokers:
            await broker.close()
        await connection.close()
        await database.dispose()

    assert len(received) == total
    assert len(set(received)) == total
    assert all(r.published_total > 0 for r in relays), "both replicas should have taken work"
    assert sum(r.published_total for r in relays) == total


@pytest.mark.parametrize("note", ["", "fail_once"])
async def test_the_in_memory_broker_carries_the_same_pipeline(
    probe_world: ProbeWorld, note: str
) -> None:
    """The embedded mode's broker goes through the same outbox and inbox code."""
    from shared.messaging.memory import MemoryBroker

    broker = MemoryBroker()
    sink = ProbeSink()
    async with (
        running(probe_world.consumer(sink, shared_broker=broker)),
        running(probe_world.producer(shared_broker=broker)) as producer,
    ):
        for i in range(5):
            await producer.post("/api/v1/events/probes", json={"sequence": i, "note": note})
        await wait_until(lambda: probe_world.seen_is(5), within=10)
    assert await probe_world.seen() == 5
    assert not broker.unrouted


async def test_a_message_the_consumer_does_not_want_is_acked_without_a_transaction(
    probe_world: ProbeWorld,
) -> None:
    from shared.messaging.memory import MemoryBroker

    broker = MemoryBroker()
    sink = ProbeSink()
    even_only = lambda envelope: envelope.payload["sequence"] % 2 == 0  # noqa: E731
    async with (
        running(probe_world.consumer(sink, shared_broker=broker, wants=even_only)),
        running(probe_world.producer(shared_broker=broker)) as producer,
    ):
        for i in range(6):
            await producer.post("/api/v1/events/probes", json={"sequence": i, "note": "plain"})
        await wait_until(lambda: probe_world.seen_is(3), within=10)
        await asyncio.sleep(0.3)  # the odd ones were delivered too: nothing more may happen
    assert sorted(sink.attempts) == [0, 2, 4]
    assert await probe_world.scalar("SELECT count(*) FROM inbox") == 3  # declined: no row
    assert not broker.unrouted
