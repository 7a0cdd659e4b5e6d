"""The rows a process committed and then died before publishing are published by another
replica within seconds (their hold is short), and a live process's rows are never taken by a
sweep, however short the hold and however late their confirms (its row locks keep them)."""

from __future__ import annotations

import asyncio

from shared.messaging.memory import MemoryBroker
from shared.messaging.outbox import OutboxRelay
from shared.testing.plugin import running, wait_until
from tests.shared.conftest import ProbeWorld
from tests.shared.test_publish_confirms import _lagging_broker


def _crash(relay: OutboxRelay) -> None:
    """What ``kill -9`` leaves of a relay: nothing runs any more, while the units of work of
    the process (still serving here) keep handing it the rows they commit."""
    for task in (relay._sweeper.task, relay._direct_task):  # private: the crash under test
        assert task is not None
        task.cancel()


async def test_rows_a_crashed_process_committed_are_published_by_another_replica_within_seconds(
    probe_world: ProbeWorld,
) -> None:
    broker = MemoryBroker()
    crashing = probe_world.producer(shared_broker=broker)
    survivor = probe_world.producer(shared_broker=broker, outbox_poll_seconds=0.2)
    async with running(survivor), running(crashing) as client:
        _crash(crashing.state.runtime.relay)
        await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        committed_at = loop.time()
        for i in range(5):
            response = await client.post("/api/v1/events/probes", json={"sequence": i})
            assert response.status_code == 201

        async def all_published() -> bool:
            unpublished = await probe_world.scalar(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL", service="events"
            )
            return unpublished == 0

        await wait_until(all_published, within=30, interval=0.1)
        waited = loop.time() - committed_at
    assert len(broker.published) == 5
    # The hold (2 s) and a sweep (every 0.2 s), with room for a loaded machine; the hold of
    # three publish timeouts this replaced took 15 s.
    assert waited < 6, f"a crashed process's rows waited {waited:.1f} s for another replica"


async def test_a_live_relays_rows_are_never_swept_however_late_their_confirms(
    probe_world: ProbeWorld, amqp_url: str
) -> None:
    """A hold of 0.1 s and confirms 1.2 s late: every row's hold has passed long before its
    confirm, and a sweep runs every 0.05 s. The direct path's locks alone keep them."""
    proxy, url = await _lagging_broker(amqp_url)
    producer = probe_world.producer(
        broker="rabbitmq", amqp_url=url, publish_timeout_seconds=0.3,
        outbox_poll_seconds=0.05, outbox_hold_seconds=0.1,
    )
    try:
        async with running(producer) as client:
            relay = producer.state.runtime.relay
            proxy.lag = 0.6
            for i in range(6):
                response = await client.post("/api/v1/events/probes", json={"sequence": i})
                assert response.status_code == 201

            async def all_published() -> bool:
                unpublished = await probe_world.scalar(
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL", service="events"
                )
                return unpublished == 0

            await wait_until(all_published, within=30, interval=0.1)
            await relay.settled()
    finally:
        await proxy.close()
    assert relay.published_total == 6, f"{relay.published_total - 6} rows published twice"
