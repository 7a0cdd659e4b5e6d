"""Background work of a service: the one periodic loop every timer, sweeper and sender uses."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from typing import Protocol

from shared.logs import get_logger

log = get_logger(__name__)

# A pass that says there is more to do (a full batch) runs again at once, but only this many
# times in a row before the loop sleeps, so a backlog cannot starve the event loop's timers.
_MAX_BACK_TO_BACK = 1000


class Worker(Protocol):
    """A background task of a service (timer scanner, retry loop). Stopped before the pools."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class PeriodicWorker:
    """A :class:`Worker` that runs ``tick`` every ``interval`` seconds until stopped.

    - ``tick`` may return True for "there is more to do now" (it took a full batch): the next
      pass runs at once instead of after the interval.
    - The sleep is spread by ``jitter`` (a fraction of the interval, either way), so replicas
      started together do not scan in step.
    - A failing pass is logged as ``<name>_failed`` and never ends the loop; each failure in a
      row doubles the wait, up to ``max_backoff`` seconds, so a database outage is not
      hammered. The first pass that succeeds resets it.
    - ``stop()`` lets the pass in hand finish (and commit) for up to ``grace`` seconds, then
      cancels it. ``wake()`` starts the next pass now. ``stopping`` tells a long pass to end
      early at a safe point.
    """

    def __init__(
        self,
        name: str,
        tick: Callable[[], Awaitable[bool | None]],
        interval: float | Callable[[], float],
        *,
        jitter: float = 0.1,
        max_backoff: float = 60.0,
        grace: float = 10.0,
        log_abandoned: str | None = None,
    ) -> None:
        self.name = name
        self._tick = tick
        self._interval = interval if callable(interval) else (lambda: interval)
        self._jitter = jitter
        self._max_backoff = max_backoff
        self._grace = grace
        self._log_abandoned = log_abandoned or f"{name.replace('-', '_')}_stop_abandoned_pass"
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self.passes = 0
        self.failures_in_row = 0

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The running loop, if started (for diagnostics and crash tests)."""
        return self._task

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self) -> None:
        if self._task is not None and not self._task.done():
            return  # already running
        self._stopping.clear()
        self._task = asyncio.create_task(self._loop(), name=self.name)

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        _, pending = await asyncio.wait({task}, timeout=self._grace)
        if pending:
            log.warning(self._log_abandoned, worker=self.name, grace_seconds=self._grace)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run_once(self) -> bool:
        """One pass; whether it asked to run again at once. Failures are logged, not raised."""
        try:
            more = bool(await self._tick())
        except Exception as exc:  # keep the loop alive; the next pass retries
            self.failures_in_row += 1
            log.warning(f"{self.name.replace('-', '_')}_failed", error_type=type(exc).__name__,
                        failures_in_row=self.failures_in_row)
            more = False
        else:
            self.failures_in_row = 0
        self.passes += 1
        return more

    def next_wait(self) -> float:
        """Seconds until the next pass: the interval, jittered, doubled per failure in a row."""
        base = max(0.0, self._interval())
        if self.failures_in_row:
            base = min(max(base, 0.1) * 2 ** min(self.failures_in_row, 16), self._max_backoff)
        spread = base * self._jitter
        return max(0.0, base + random.uniform(-spread, spread))

    async def _loop(self) -> None:
        back_to_back = 0
        while not self._stopping.is_set():
            self._wake.clear()  # a wake() during the pass below still counts
            more = await self.run_once()
            back_to_back = back_to_back + 1 if more else 0
            if more and back_to_back < _MAX_BACK_TO_BACK:
                await asyncio.sleep(0)  # let other tasks in between batches
                continue
            back_to_back = 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.next_wait())
