"""The no-show timer: when a round's pickup window ends, its unredeemed bookings lapse and
their units return. The due time is the round's own ``pickup_ends_at`` and progress is the
``no_shows_released_at`` mark, both in PostgreSQL, so a restart (or a second replica) simply
finds what is still due."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime

from services.booking.store import bookings as booking_store
from services.booking.store import rounds as round_store
from shared.contracts.booking import BookingCancelled
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.web.runtime import ServiceRuntime

log = get_logger(__name__)


async def release_due_rounds(
    *, uow_factory: Callable[[], UnitOfWork], now: datetime | None = None
) -> int:
    """Release every round that is due, one transaction per round. Returns bookings released."""
    released_total = 0
    while True:
        at = now or datetime.now(UTC)
        uow = uow_factory()
        async with uow:
            due = await round_store.rounds_due_for_release(uow.session, now=at, limit=1)
            if not due:
                return released_total
            round_id = due[0].id
            released = await booking_store.release_no_shows(uow.session, round_id, at)
            for row in released:
                await uow.emit(
                    "booking.booking_cancelled",
                    BookingCancelled(
                        booking_id=row.id,
                        round_id=round_id,
                        pickup_point_id=row.point_id,
                        user_id=row.user_id,
                        reason="no_show",
                        cancelled_at=at,
                    ),
                )
            await round_store.mark_released(uow.session, round_id, at)
        released_total += len(released)
        log.info("no_shows_released", round_id=str(round_id), bookings=len(released))


class NoShowReleaser:
    """A worker (see shared.web.runtime.Worker) that runs the release on a fixed period."""

    def __init__(self, runtime: ServiceRuntime, *, period_seconds: float) -> None:
        self._runtime = runtime
        self._period = period_seconds
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.released_total = 0

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="booking-no-show-releaser")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.released_total += await release_due_rounds(uow_factory=self._runtime.uow)
            except Exception as exc:
                # The database may be away for a moment; the next period tries again.
                log.error("no_show_release_failed", error_type=type(exc).__name__, error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self._period)
