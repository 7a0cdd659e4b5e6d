"""Everything a running service holds: settings, database, broker, relay, consumers, workers.
Built in the app's lifespan; the embedded mode injects a shared broker and token keys."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.auth.tokens import TokenVerifier
from shared.db.database import Database
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.messaging.broker import Broker
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.outbox import OutboxRelay
from shared.settings import ServiceSettings


class Worker(Protocol):
    """A background task of a service (timer scanner, retry loop). Stopped before the pools."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


log = get_logger(__name__)


class PeriodicWorker:
    """A :class:`Worker` that runs ``tick`` every ``interval()`` seconds until stopped. A
    failing pass is logged as ``<name>_failed`` and the next pass tries again, so one bad
    moment never ends the loop; ``passes`` counts the passes run (for tests and metrics)."""

    def __init__(
        self, name: str, tick: Callable[[], Awaitable[None]], interval: Callable[[], float]
    ) -> None:
        self._name = name
        self._tick = tick
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self.passes = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await self._tick()
            except Exception as exc:  # keep the loop alive; the next pass retries
                log.exception(f"{self._name.replace('-', '_')}_failed", error=type(exc).__name__)
            self.passes += 1
            await asyncio.sleep(self._interval())


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    database: Database
    broker: Broker
    verifier: TokenVerifier
    relay: OutboxRelay | None = None
    consumers: ConsumerRunner | None = None
    workers: list[Worker] = field(default_factory=list)
    # Service-specific collaborators (clients, stores) set up by the service's own start hook.
    state: dict[str, Any] = field(default_factory=dict)
    accepting: bool = True

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.database, producer=self.settings.service_name)
