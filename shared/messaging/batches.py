"""Deliveries of one queue gathered into batches, so that a busy queue pays one transaction,
one inbox statement and one commit for many messages instead of one each.

A batch never waits for company: it starts as soon as the queue may run one more (at most
``in_flight`` batches of a queue at once) and takes everything that arrived meanwhile, up to
``max_size``. A quiet queue therefore runs batches of one, with no added latency; a busy one
runs larger batches exactly when the cost per message decides how much it can take.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from shared.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")


class Batcher(Generic[T]):
    """Collects items and hands them, in arrival order, to ``run`` a batch at a time.

    ``run`` settles every item of its batch itself; an error it lets out is logged here and
    its batch is not run again (the items stay unsettled, as the runner decides)."""

    def __init__(self, run: Callable[[list[T]], Awaitable[None]], *, max_size: int,
                 in_flight: int, name: str) -> None:
        if max_size < 1 or in_flight < 1:
            raise ValueError("a batch holds at least one item, and one batch may run")
        self._run = run
        self._max_size = max_size
        self._room = asyncio.Semaphore(in_flight)
        self._name = name
        self._waiting: list[T] = []
        self._arrived = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._collector: asyncio.Task[None] | None = None

    def put(self, item: T) -> None:
        if self._collector is None:
            self._collector = asyncio.create_task(self._collect(), name=f"batches-{self._name}")
        self._waiting.append(item)
        self._arrived.set()

    async def _collect(self) -> None:
        while True:
            await self._arrived.wait()
            await self._room.acquire()
            batch = self._waiting[: self._max_size]
            del self._waiting[: len(batch)]
            if not self._waiting:
                self._arrived.clear()
            task = asyncio.create_task(self._run_one(batch), name=f"batch-{self._name}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run_one(self, batch: list[T]) -> None:
        try:
            await self._run(batch)
        except Exception as exc:
            log.error("batch_run_failed", batcher=self._name, size=len(batch),
                      error_type=type(exc).__name__, error=str(exc)[:300])
        finally:
            self._room.release()

    async def close(self) -> None:
        """Stop collecting, once every item handed in has been run (the runner waits for its
        deliveries before calling this, so nothing is waiting by then)."""
        collector, self._collector = self._collector, None
        if collector is not None:
            collector.cancel()
            await asyncio.gather(collector, return_exceptions=True)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
