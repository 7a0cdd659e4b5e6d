"""The default-rating worker: every replica may run it (see ratings.apply_default_ratings)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime

from services.feedback.service import ratings
from services.feedback.settings import Settings
from shared.db.uow import UnitOfWork
from shared.logs import get_logger

log = get_logger(__name__)


class DefaultRatingWorker:
    def __init__(
        self,
        *,
        new_uow: Callable[[], UnitOfWork],
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._new_uow, self._settings, self._clock = new_uow, settings, clock
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.applied_total = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="feedback-default-ratings")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def run_once(self) -> int:
        settings = self._settings
        applied = await ratings.apply_default_ratings(
            uow=self._new_uow(), after_days=settings.default_rating_after_days,
            rating=settings.default_rating, limit=settings.default_rating_batch_size,
            now=self._clock(),
        )
        self.applied_total += len(applied)
        return len(applied)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                while await self.run_once() >= self._settings.default_rating_batch_size:
                    if self._stopping.is_set():
                        break
            except Exception as exc:  # the next pass retries; nothing was half-applied
                log.warning("default_rating_pass_failed", error_type=type(exc).__name__,
                            error=str(exc)[:300])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(),
                                       timeout=self._settings.default_rating_poll_seconds)
