"""The consumers' database gate: deliveries wait at it while the database is unreachable.

Closed by a delivery that found the database unreachable; one probe task, on connections of
its own, reopens it when the database answers. The prefetch bounds how many deliveries wait."""

from __future__ import annotations

import asyncio
import contextlib

from shared.db.database import Database
from shared.db.faults import database_answers
from shared.logs import get_logger

log = get_logger(__name__)


class DatabaseGate:
    """Open while the database is thought reachable. Closed by a delivery that found it
    unreachable; one probe task, on connections of its own, reopens it when it answers."""

    def __init__(self, database: Database, *, probe_timeout: float, backoff_cap: float) -> None:
        self._database = database
        self._probe_timeout = probe_timeout
        self._backoff_cap = backoff_cap
        self._open = asyncio.Event()
        self._open.set()
        self._probe: asyncio.Task[None] | None = None

    @property
    def is_open(self) -> bool:
        return self._open.is_set()

    def close(self) -> None:
        if not self._open.is_set():
            return
        self._open.clear()
        log.warning("consumer_paused_database_unreachable", schema=self._database.schema)
        self._probe = asyncio.create_task(self._reopen(), name="consumer-database-probe")

    async def wait(self, stopping: asyncio.Event) -> bool:
        """Wait until the gate is open (True) or the runner stops with it still closed."""
        if self._open.is_set():
            return True
        waits = [asyncio.ensure_future(e.wait()) for e in (self._open, stopping)]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        return self._open.is_set()

    async def answers(self) -> bool:
        try:
            await database_answers(self._database.url, within=self._probe_timeout)
        except Exception:
            return False
        return True

    async def _reopen(self) -> None:
        pause = 0.2
        while not await self.answers():
            await asyncio.sleep(pause)
            pause = min(pause * 2, self._backoff_cap)
        log.info("consumer_resumed_database_answers", schema=self._database.schema)
        self._open.set()

    async def stop(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None


