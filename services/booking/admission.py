"""Admission in front of the database for the surge endpoint.

At most ``concurrency`` bookings talk to PostgreSQL at once (no more than the pool holds, so
none waits inside the pool); a short line of ``queue`` may wait up to ``wait_seconds`` for a
turn; everyone else is told at once to come back (503 + Retry-After). Under a surge the
service keeps answering at the rate the database sustains instead of queueing every request
until it times out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shared.errors import ServiceUnavailable


class AdmissionLimiter:
    def __init__(
        self, *, concurrency: int, queue: int, wait_seconds: float, retry_after_seconds: int
    ) -> None:
        if concurrency < 1:
            raise ValueError("admission concurrency must be at least 1")
        self._slots = asyncio.Semaphore(concurrency)
        self._queue = queue
        self._wait_seconds = wait_seconds
        self._retry_after = str(retry_after_seconds)
        self._waiting = 0
        self.admitted_total = 0
        self.shed_total = 0

    def _shed(self, reason: str) -> ServiceUnavailable:
        self.shed_total += 1
        return ServiceUnavailable(
            "the booking service is at capacity; try again shortly",
            code="overloaded",
            extra={"reason": reason},
            headers={"Retry-After": self._retry_after},
        )

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        if self._slots.locked():
            if self._waiting >= self._queue:
                raise self._shed("queue_full")
            self._waiting += 1
            try:
                await asyncio.wait_for(self._slots.acquire(), self._wait_seconds)
            except TimeoutError:
                raise self._shed("wait_timeout") from None
            finally:
                self._waiting -= 1
        else:
            await self._slots.acquire()
        self.admitted_total += 1
        try:
            yield
        finally:
            self._slots.release()
