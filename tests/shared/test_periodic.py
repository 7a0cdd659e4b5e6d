"""The one periodic loop of every background job: passes, backoff, jitter, wake, graceful stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from shared.periodic import PeriodicWorker
from shared.testing.plugin import wait_until


async def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    async def holds() -> bool:
        return condition()

    await wait_until(holds, within=seconds, interval=0.005)


async def test_a_failing_pass_is_logged_and_the_loop_keeps_going() -> None:
    outcomes = iter([RuntimeError("database away"), RuntimeError("still away"), None, None])

    async def tick() -> None:
        outcome = next(outcomes, None)
        if outcome is not None:
            raise outcome

    worker = PeriodicWorker("flaky-job", tick, 0.001, max_backoff=0.01)
    worker.start()
    await _until(lambda: worker.passes >= 4)
    await worker.stop()
    assert worker.failures_in_row == 0  # the later passes succeeded and reset the count


def test_each_failure_in_a_row_doubles_the_wait_up_to_the_cap() -> None:
    async def tick() -> None:
        return None

    worker = PeriodicWorker("job", tick, 1.0, jitter=0.0, max_backoff=5.0)
    waits = []
    for failures in range(5):
        worker.failures_in_row = failures
        waits.append(worker.next_wait())
    assert waits == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_the_wait_is_spread_by_the_jitter_fraction() -> None:
    async def tick() -> None:
        return None

    worker = PeriodicWorker("job", tick, 10.0, jitter=0.2)
    waits = {worker.next_wait() for _ in range(200)}
    assert all(8.0 <= wait <= 12.0 for wait in waits)
    assert len(waits) > 100  # spread, not one fixed figure


async def test_a_pass_that_took_a_full_batch_runs_again_at_once() -> None:
    backlog = [5]

    async def tick() -> bool:
        backlog[0] -= 1
        return backlog[0] > 0

    worker = PeriodicWorker("drain", tick, 60.0)  # a minute: only back-to-back passes finish
    worker.start()
    await _until(lambda: backlog[0] == 0)
    await worker.stop()
    assert worker.passes == 5


async def test_wake_starts_the_next_pass_before_the_interval() -> None:
    async def tick() -> None:
        return None

    worker = PeriodicWorker("woken", tick, 60.0)
    worker.start()
    await _until(lambda: worker.passes == 1)
    worker.wake()
    await _until(lambda: worker.passes == 2, seconds=2.0)
    await worker.stop()


async def test_stop_lets_the_pass_in_hand_finish() -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def tick() -> None:
        started.set()
        await asyncio.sleep(0.05)
        finished.set()

    worker = PeriodicWorker("committing", tick, 60.0)
    worker.start()
    await started.wait()
    await worker.stop()
    assert finished.is_set()
    assert worker.stopping


async def test_stop_cancels_a_pass_that_outlasts_the_grace() -> None:
    started = asyncio.Event()
    cancelled = []

    async def tick() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    worker = PeriodicWorker("stuck", tick, 60.0, grace=0.05)
    worker.start()
    await started.wait()
    async with asyncio.timeout(2):
        await worker.stop()
    assert cancelled == [True]


@pytest.mark.parametrize("interval", [0.0, -1.0])
def test_a_zero_or_negative_interval_never_waits_less_than_nothing(interval: float) -> None:
    async def tick() -> None:
        return None

    assert PeriodicWorker("job", tick, interval).next_wait() == 0.0
