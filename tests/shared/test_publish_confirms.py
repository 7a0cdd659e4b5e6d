"""A confirm that is late is not a lost message: publishes through a broker connection that
answers slowly (longer than the publish timeout) are confirmed, and the outbox publishes each
row once — no second publication after the hold."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import httpx
from aio_pika.abc import AbstractIncomingMessage

from shared.messaging.rabbit import RabbitBroker
from shared.testing.plugin import running, wait_until
from tests.shared.conftest import ProbeWorld


class LaggingProxy:
    """Forwards TCP both ways; once ``lag`` is set, every chunk is passed on ``lag`` seconds
    after it arrived (in order: a slow path, not a narrow one)."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        self.lag = 0.0

    async def start(self) -> LaggingProxy:
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
            for pump in (self._read(src, chunks), self._write(chunks, dst)):
                task = asyncio.create_task(pump)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _read(self, src: asyncio.StreamReader, chunks: asyncio.Queue[tuple[float, bytes]]
                    ) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ConnectionError):
            while data := await src.read(65536):
                chunks.put_nowait((loop.time() + self.lag, data))
        chunks.put_nowait((loop.time() + self.lag, b""))

    async def _write(self, chunks: asyncio.Queue[tuple[float, bytes]],
                     dst: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                due, data = await chunks.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not data:
                    return
                dst.write(data)
                await dst.drain()
        except ConnectionError:
            pass
        finally:
            dst.close()


async def _lagging_broker(amqp_url: str) -> tuple[LaggingProxy, str]:
    upstream = aio_pika.connection.make_url(amqp_url)
    proxy = await LaggingProxy(upstream.host or "127.0.0.1", upstream.port or 5672).start()
    return proxy, str(upstream.with_port(proxy.port))


@contextlib.asynccontextmanager
async def _listening(probe_world: ProbeWorld, amqp_url: str) -> AsyncIterator[list[str]]:
    """The event ids of the probes the broker routes (straight, not through the lagging
    proxy), in the order they arrive: an id twice is a second publication."""
    received: list[str] = []
    listener = await aio_pika.connect(amqp_url)
    try:
        channel = await listener.channel()
        exchange = await channel.declare_exchange(
            f"{probe_world.prefix}.events", aio_pika.ExchangeType.TOPIC, durable=True,
            arguments={"alternate-exchange": f"{probe_world.prefix}.unrouted"},
        )
        queue = await channel.declare_queue("", exclusive=True)
        await queue.bind(exchange, routing_key="platform.probe.#")

        async def on_message(message: AbstractIncomingMessage) -> None:
            received.append(json.loads(message.body)["event_id"])
            await message.ack()

        await queue.consume(on_message)
        yield received
    finally:
        await listener.close()


@contextlib.asynccontextmanager
async def _lagging_producer(
    probe_world: ProbeWorld, amqp_url: str, *, publish_timeout_seconds: float,
    hold_seconds: float,
) -> AsyncIterator[tuple[LaggingProxy, httpx.AsyncClient, list[str]]]:
    """The events probe producer running, its broker connection through a lagging proxy (no
    lag until it is set), its outbox swept every 0.1 s with rows held ``hold_seconds`` after
    commit; and the probes the broker routes."""
    proxy, url = await _lagging_broker(amqp_url)
    producer = probe_world.producer(
        broker="rabbitmq", amqp_url=url, publish_timeout_seconds=publish_timeout_seconds,
        outbox_poll_seconds=0.1, outbox_hold_seconds=hold_seconds,
    )
    async with _listening(probe_world, amqp_url) as received:
        try:
            async with running(producer) as client:
                yield proxy, client, received
        finally:
            await proxy.close()


def _all_published(
    probe_world: ProbeWorld, received: list[str], count: int
) -> Callable[[], Awaitable[bool]]:
    """No outbox row is left unpublished and ``count`` distinct probes have arrived."""

    async def all_published() -> bool:
        unpublished = await probe_world.scalar(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL", service="events"
        )
        return unpublished == 0 and len(set(received)) == count

    return all_published


async def test_confirms_later_than_the_publish_timeout_are_waited_for(
    amqp_url: str, amqp_prefix: str
) -> None:
    proxy, url = await _lagging_broker(amqp_url)
    broker = RabbitBroker(url, prefix=f"{amqp_prefix}lag", publish_timeout=0.3, name="lagging")
    try:
        await broker.connect()
        proxy.lag = 0.5  # a round trip of 1 s: every confirm comes after the timeout
        results = await broker.publish_many(
            [("platform.probe.v1", b"{}", f"late-{i}") for i in range(20)]
        )
        assert results == [None] * 20
        await broker.publish("platform.probe.v1", b"{}", message_id="late-single")
    finally:
        await broker.close()
        await proxy.close()


async def test_rows_whose_confirms_are_late_are_published_once(
    probe_world: ProbeWorld, amqp_url: str
) -> None:
    # A hold of 0.3 s and a sweep every 0.1 s: with confirms 1.2 s late, a sweep that took the
    # rows for unpublished once their hold passed would publish them again.
    async with _lagging_producer(
        probe_world, amqp_url, publish_timeout_seconds=0.3, hold_seconds=0.3
    ) as (
        proxy, client, received
    ):
        proxy.lag = 0.6
        for i in range(10):
            response = await client.post("/api/v1/events/probes", json={"sequence": i})
            assert response.status_code == 201
        await wait_until(_all_published(probe_world, received, 10), within=30)
        await asyncio.sleep(2.0)  # a second publication would show up by now
    assert len(received) == 10, f"{len(received) - len(set(received))} published twice"


async def test_a_confirmed_batch_is_marked_while_a_later_batch_waits_for_late_confirms(
    probe_world: ProbeWorld, amqp_url: str
) -> None:
    """Batch 1 is confirmed while batch 2 (committed a little later) is still in flight. Its
    rows must be marked published then, not after batch 2: their hold is no longer renewed,
    and a sweep would publish them again."""
    # Hold 1 s; confirms 3 s late. Row 1 is confirmed at ~3 s, row 2 (committed at ~2.5 s) is
    # then published and confirmed at ~6 s.
    async with _lagging_producer(
        probe_world, amqp_url, publish_timeout_seconds=1.0, hold_seconds=1.0
    ) as (
        proxy, client, received
    ):
        proxy.lag = 1.5
        assert (await client.post("/api/v1/events/probes", json={"sequence": 1})).is_success
        await asyncio.sleep(2.5)
        assert (await client.post("/api/v1/events/probes", json={"sequence": 2})).is_success
        await wait_until(_all_published(probe_world, received, 2), within=30)
        await asyncio.sleep(3.5)  # a second publication would show up by now
    assert len(received) == 2, f"{len(received) - len(set(received))} published twice"
