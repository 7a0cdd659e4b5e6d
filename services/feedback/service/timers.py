"""The default-rating worker: every replica may run it (see ratings.apply_default_ratings)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from services.feedback.service import ratings
from services.feedback.settings import Settings
from shared.db.uow import UnitOfWork
from shared.periodic import PeriodicWorker


class DefaultRatingWorker:
    """A worker (start/stop) on a :class:`PeriodicWorker`: a full batch runs the next pass
    at once; a failed pass is retried by the next (nothing was half-applied)."""

    def __init__(
        self,
        *,
        new_uow: Callable[[], UnitOfWork],
        settings: Settings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._new_uow, self._settings, self._clock = new_uow, settings, clock
        self._loop = PeriodicWorker(
            "feedback-default-ratings", self._tick, settings.default_rating_poll_seconds
        )
        self.applied_total = 0

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _tick(self) -> bool:
        return await self.run_once() >= self._settings.default_rating_batch_size

    async def run_once(self) -> int:
        """One pass; how many closures it gave the default rating."""
        settings = self._settings
        applied = await ratings.apply_default_ratings(
            uow=self._new_uow(), after_days=settings.default_rating_after_days,
            rating=settings.default_rating, limit=settings.default_rating_batch_size,
            now=self._clock(),
        )
        self.applied_total += len(applied)
        return len(applied)
