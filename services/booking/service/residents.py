"""The eligibility read model: booking learns verified residents from identity's events."""

from __future__ import annotations

from services.booking.store import residents as resident_store
from shared.contracts.identity import UserVerified
from shared.db.uow import UnitOfWork


async def record_verified_resident(*, uow: UnitOfWork, event: UserVerified) -> None:
    async with uow:
        await resident_store.upsert_verified_resident(
            uow,
            user_id=event.user_id,
            region_code=event.region_code,
            household_id=event.household_id,
            verified_at=event.verified_at,
        )
