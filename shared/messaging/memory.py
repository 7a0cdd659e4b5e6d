"""An in-process broker with RabbitMQ's semantics where they matter to us: topic bindings,
at-least-once delivery, a delivery limit, parking and unrouted messages kept. It carries events
in the embedded run mode and in handler unit tests; integration tests use RabbitMQ."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from shared.logs import get_logger
from shared.messaging.broker import (
    UNROUTED_MAX_LENGTH,
    DeliveryHandler,
    PublishError,
    QueueSpec,
)

log = get_logger(__name__)
# What tests read back of the publications; the embedded platform publishes for as long as it
# runs, so only the newest are kept.
PUBLISHED_KEPT = 1_000


@lru_cache(maxsize=4096)
def topic_matches(binding: str, routing_key: str) -> bool:
    """AMQP topic matching: ``*`` is one word, ``#`` is zero or more words."""
    pattern, words = binding.split("."), routing_key.split(".")

    def match(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(words)
        if pattern[i] == "#":
            return any(match(i + 1, k) for k in range(j, len(words) + 1))
        if j == len(words):
            return False
        return pattern[i] in ("*", words[j]) and match(i + 1, j + 1)

    return match(0, 0)


@dataclass
class _Message:
    body: bytes
    message_id: str
    delivery_count: int = 0


@dataclass
class _Queue:
    spec: QueueSpec
    items: asyncio.Queue[_Message] = field(default_factory=asyncio.Queue)
    parked: list[bytes] = field(default_factory=list)
    in_flight: set[asyncio.Task[None]] = field(default_factory=set)
    dispatcher: asyncio.Task[None] | None = None


class _MemoryDelivery:
    def __init__(self, queue: _Queue, message: _Message) -> None:
        self._queue = queue
        self._message = message
        self.body = message.body
        self.redelivered_count = message.delivery_count
        self.settled = False

    async def ack(self) -> None:
        self.settled = True

    async def retry(self) -> None:
        self.settled = True
        self._message.delivery_count += 1
        if self._message.delivery_count > self._queue.spec.delivery_limit:
            self._queue.parked.append(self._message.body)
        else:
            self._queue.items.put_nowait(self._message)

    async def park(self) -> None:
        self.settled = True
        self._queue.parked.append(self._message.body)


class MemoryBroker:
    def __init__(self, *, unrouted_max_length: int = UNROUTED_MAX_LENGTH,
                 published_kept: int = PUBLISHED_KEPT) -> None:
        self._queues: dict[str, _Queue] = {}
        # The newest events nobody subscribes to, as RabbitMQ's bounded unrouted queue keeps.
        self.unrouted: deque[bytes] = deque(maxlen=unrouted_max_length)
        self.published: deque[tuple[str, bytes]] = deque(maxlen=published_kept)
        self.fail_publishes = False  # tests flip it to simulate a broker outage
        self._consuming = True
        self._stopped = False

    async def connect(self) -> None:
        return None

    async def ready(self) -> bool:
        return not (self.fail_publishes or self._stopped)

    async def close(self) -> None:
        await self.stop_consuming()

    def _queue(self, spec: QueueSpec) -> _Queue:
        queue = self._queues.get(spec.name)
        if queue is None:
            queue = self._queues[spec.name] = _Queue(spec)
        return queue

    async def publish(self, routing_key: str, body: bytes, *, message_id: str) -> None:
        if self.fail_publishes:
            raise PublishError("in-memory broker is set to fail")
        if self._stopped:
            # Refusing keeps the event in its outbox, to be published on the next start.
            raise PublishError("in-memory broker has stopped")
        self.published.append((routing_key, body))
        routed = False
        for queue in self._queues.values():
            if any(topic_matches(b, routing_key) for b in queue.spec.routing_keys):
                queue.items.put_nowait(_Message(body, message_id))
                routed = True
        if not routed:
            self.unrouted.append(body)

    async def publish_many(
        self, messages: Sequence[tuple[str, bytes, str]]
    ) -> list[BaseException | None]:
        results: list[BaseException | None] = []
        for routing_key, body, message_id in messages:
            try:
                await self.publish(routing_key, body, message_id=message_id)
                results.append(None)
            except PublishError as exc:
                results.append(exc)
        return results

    def declare(self, spec: QueueSpec) -> None:
        """Declare a queue without consuming, so publishes before consumers start are kept."""
        self._queue(spec)

    async def consume(self, spec: QueueSpec, handler: DeliveryHandler) -> None:
        queue = self._queue(spec)
        self._consuming = True
        queue.dispatcher = asyncio.create_task(
            self._dispatch(queue, handler), name=f"memory-consumer-{spec.name}"
        )

    async def _dispatch(self, queue: _Queue, handler: DeliveryHandler) -> None:
        slots = asyncio.Semaphore(queue.spec.prefetch)
        while self._consuming:
            message = await queue.items.get()
            await slots.acquire()
            task = asyncio.create_task(self._deliver(queue, message, handler, slots))
            queue.in_flight.add(task)
            task.add_done_callback(queue.in_flight.discard)

    async def _deliver(
        self,
        queue: _Queue,
        message: _Message,
        handler: DeliveryHandler,
        slots: asyncio.Semaphore,
    ) -> None:
        delivery = _MemoryDelivery(queue, message)
        try:
            await handler(delivery)
        finally:
            slots.release()
            if not delivery.settled:
                # Like a closed channel: an unsettled message goes back to its queue.
                await delivery.retry()

    async def stop_consuming(self, *, drain_seconds: float = 10.0) -> None:
        """Stop every consumer of this process. What is queued is handled first (bounded);
        from then on publishing is refused, so late events stay in their outbox instead of
        dying in memory with the process."""
        if self._stopped:
            return
        try:
            async with asyncio.timeout(drain_seconds):
                await self.drain()
        except TimeoutError:
            log.warning("memory_broker_drain_timeout", queued=self._queued())
        self._stopped = True
        self._consuming = False
        for queue in self._queues.values():
            if queue.dispatcher is not None:
                queue.dispatcher.cancel()
                queue.dispatcher = None
        in_flight = [t for q in self._queues.values() for t in q.in_flight]
        if in_flight:
            # Left after the drain bound, a delivery may wait for a database that is away (the
            # consumer keeps such a delivery in hand): like a closed channel, take it back.
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)

    def _queued(self) -> int:
        return sum(q.items.qsize() for q in self._queues.values())

    async def parked(self, spec: QueueSpec) -> list[bytes]:
        return list(self._queue(spec).parked)

    def depth(self, spec: QueueSpec) -> int:
        return self._queue(spec).items.qsize()

    def busy(self) -> bool:
        return any(q.items.qsize() or q.in_flight for q in self._queues.values() if q.dispatcher)

    async def drain(self) -> None:
        """Wait until every consumed queue is empty and nothing is in flight. Called (under a
        timeout) on shutdown after the relays stop: what sits in memory dies with the process."""
        while self.busy():  # noqa: ASYNC110 - several queues, no single event to await
            await asyncio.sleep(0.02)
