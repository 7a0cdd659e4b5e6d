"""The no-show timer: when a round's pickup window ends, its unredeemed bookings lapse and
their units return. The due time is the round's own ``pickup_ends_at`` and progress is the
``no_shows_released_at`` mark, both in PostgreSQL, so a restart (or a second replica) simply
finds what is still due."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from services.booking.store import bookings as booking_store
from services.booking.store import rounds as round_store
from shared.contracts.booking import BookingCancelled
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.periodic import PeriodicWorker

log = get_logger(__name__)


async def release_next_due_round(*, uow: UnitOfWork, now: datetime | None = None) -> bool:
    """Release one due round in one transaction; whether there was one (so the caller looks
    again at once)."""
    at = now or datetime.now(UTC)
    async with uow:
        due = await round_store.rounds_due_for_release(uow, now=at, limit=1)
        if not due:
            return False
        round_id = due[0].id
        released = await booking_store.release_no_shows(uow, round_id, at)
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
        await round_store.mark_released(uow, round_id, at)
    log.info("no_shows_released", round_id=str(round_id), bookings=len(released))
    return True


def no_show_releaser(uow_factory: Callable[[], UnitOfWork], *, interval: float) -> PeriodicWorker:
    """The timer as a worker: every ``interval`` seconds it releases the rounds that are due,
    one per pass, passes back to back while rounds remain."""

    async def tick() -> bool:
        return await release_next_due_round(uow=uow_factory())

    return PeriodicWorker("booking-no-show-releaser", tick, interval)
