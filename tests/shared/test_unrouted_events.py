"""Events nobody subscribes to are kept for inspection, the newest ones only: nothing consumes
them, so an unbounded queue would grow until RabbitMQ's alarms stop every publisher. A broker
that still has the old unbounded queue stops filling it, and its messages stay."""

from __future__ import annotations

import uuid

import aio_pika

from shared.messaging.memory import MemoryBroker
from shared.messaging.rabbit import RabbitBroker


async def _publish_unrouted(broker: RabbitBroker | MemoryBroker, count: int) -> None:
    for n in range(count):
        await broker.publish("nobody.listens.v1", f"event-{n}".encode(),
                             message_id=str(uuid.uuid4()))


async def _bodies(channel: aio_pika.abc.AbstractChannel, name: str) -> list[bytes]:
    queue = await channel.declare_queue(name, passive=True)
    bodies = []
    while (message := await queue.get(fail=False, no_ack=True)) is not None:
        bodies.append(message.body)
    return bodies


async def test_events_nobody_subscribes_to_keep_only_the_newest(
    amqp_url: str, amqp_prefix: str
) -> None:
    broker = RabbitBroker(amqp_url, prefix=f"{amqp_prefix}unr", publish_timeout=5,
                          name="unrouted", unrouted_max_length=5)
    await broker.connect()
    try:
        await _publish_unrouted(broker, 8)  # every one confirmed: the oldest give way
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            kept = await _bodies(await connection.channel(), broker.topology.unrouted_queue)
    finally:
        await broker.close()
    assert kept == [f"event-{n}".encode() for n in range(3, 8)]


async def test_an_old_unbounded_unrouted_queue_stops_growing_and_keeps_its_messages(
    amqp_url: str, amqp_prefix: str
) -> None:
    prefix = f"{amqp_prefix}old"
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        # The layout before: the alternate exchange's queue under its own name, no bound.
        exchange = await channel.declare_exchange(
            f"{prefix}.unrouted", aio_pika.ExchangeType.FANOUT, durable=True)
        old = await channel.declare_queue(f"{prefix}.unrouted", durable=True,
                                          arguments={"x-queue-type": "quorum"})
        await old.bind(exchange)
        await exchange.publish(aio_pika.Message(b"from-before"), routing_key="")
        broker = RabbitBroker(amqp_url, prefix=prefix, publish_timeout=5, name="upgraded",
                              unrouted_max_length=5)
        await broker.connect()  # an existing broker: the service still starts
        try:
            await _publish_unrouted(broker, 2)
        finally:
            await broker.close()
        assert await _bodies(channel, old.name) == [b"from-before"]
        assert await _bodies(channel, broker.topology.unrouted_queue) == [b"event-0", b"event-1"]


async def test_the_in_memory_broker_keeps_the_newest_unrouted_events_too() -> None:
    broker = MemoryBroker(unrouted_max_length=5)
    await _publish_unrouted(broker, 8)
    assert list(broker.unrouted) == [f"event-{n}".encode() for n in range(3, 8)]


async def test_the_in_memory_broker_remembers_only_its_newest_publications() -> None:
    broker = MemoryBroker(published_kept=3)
    await _publish_unrouted(broker, 8)
    assert [body for _, body in broker.published] == [f"event-{n}".encode() for n in (5, 6, 7)]
