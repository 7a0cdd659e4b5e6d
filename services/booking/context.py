"""The booking service's collaborators, built once by its start hook and set as
``runtime.context``: routes reach them through ``api.Context``, the fast lane, the admission
middleware and /metrics through ``runtime.context_as(BookingContext)``."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.booking.admission import AdmissionLimiter
from services.booking.domain import PickupCodes
from services.booking.settings import Settings
from shared.db.hot_pool import open_hot_pool


@dataclass
class BookingContext:
    settings: Settings
    admission: AdmissionLimiter
    # The surge path's own bounded pool (see store/claims.py, shared/db/hot_pool.py); the
    # rest uses the unit of work.
    hot_pool: asyncpg.Pool
    pickup_codes: PickupCodes

    @property
    def stripes_per_slot(self) -> int:
        return self.settings.stripes_per_slot

    async def aclose(self) -> None:
        await self.hot_pool.close()


async def build_context(
    settings: Settings, *, schema: str, plan_cache_mode: str | None
) -> BookingContext:
    return BookingContext(
        settings=settings,
        admission=admission_limiter(settings),
        hot_pool=await open_hot_pool(
            settings.database_url,
            schema=schema,
            size=settings.hot_pool_size,
            application_name="ehome-booking-hot",
            plan_cache_mode=plan_cache_mode,
            # A surge starts at a known minute: its first claims must not wait for connects.
            connect_at_start=True,
        ),
        pickup_codes=PickupCodes(settings.pickup_code_secret),
    )


def admission_limiter(settings: Settings) -> AdmissionLimiter:
    """Admission for the hot path: as many at once as the hot pool has connections, unless
    configured otherwise."""
    return AdmissionLimiter(
        concurrency=settings.admission_concurrency or settings.hot_pool_size,
        queue=settings.admission_queue,
        wait_seconds=settings.admission_wait_seconds,
        retry_after_seconds=settings.retry_after_seconds,
    )
