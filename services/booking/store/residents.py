"""The eligibility read model, fed by identity.user_verified."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert

from services.booking.store.tables import AnyRow, eligible_residents
from shared.db.uow import UnitOfWork


async def upsert_verified_resident(
    uow: UnitOfWork,
    *,
    user_id: uuid.UUID,
    region_code: str | None,
    household_id: str | None,
    verified_at: datetime,
) -> None:
    """Record or refresh a verified resident; an older event never overwrites a newer one."""
    statement = insert(eligible_residents).values(
        user_id=user_id,
        region_code=region_code,
        household_id=household_id,
        verified_at=verified_at,
    )
    excluded = statement.excluded
    await uow.connection.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id"],
            set_={
                "region_code": excluded.region_code,
                "household_id": excluded.household_id,
                "verified_at": excluded.verified_at,
                "updated_at": func.now(),
            },
            where=eligible_residents.c.verified_at <= excluded.verified_at,
        )
    )


async def get_resident(uow: UnitOfWork, user_id: uuid.UUID) -> AnyRow | None:
    return (
        await uow.connection.execute(
            eligible_residents.select().where(eligible_residents.c.user_id == user_id)
        )
    ).first()
