"""Bookings after they are made: the caller's list, cancellation, redemption, no-show release.

Lock order everywhere: the stripe row first, then the booking row. Every change to a stripe's
set of live bookings holds that stripe's lock until commit, which is what makes
``taken`` equal the number of live bookings on it at every moment.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, text, tuple_

from services.booking.store.tables import AnyRow, bookings, pickup_points, rounds
from shared.db.uow import UnitOfWork

_BOOKING_VIEW = (
    select(
        bookings,
        rounds.c.title.label("round_title"),
        rounds.c.pickup_starts_at,
        rounds.c.pickup_ends_at,
        pickup_points.c.name.label("point_name"),
        pickup_points.c.address.label("point_address"),
        pickup_points.c.region_code.label("point_region_code"),
    )
    .join(rounds, rounds.c.id == bookings.c.round_id)
    .join(pickup_points, pickup_points.c.id == bookings.c.point_id)
)


async def get_booking(uow: UnitOfWork, booking_id: uuid.UUID) -> AnyRow | None:
    return (await uow.connection.execute(_BOOKING_VIEW.where(bookings.c.id == booking_id))).first()


async def bookings_of_user(
    uow: UnitOfWork,
    user_id: uuid.UUID,
    *,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[AnyRow]:
    query = _BOOKING_VIEW.where(bookings.c.user_id == user_id)
    if before is not None:
        query = query.where(tuple_(bookings.c.booked_at, bookings.c.id) < tuple_(*before))
    query = query.order_by(bookings.c.booked_at.desc(), bookings.c.id.desc()).limit(limit)
    return list((await uow.connection.execute(query)).all())


_LOCK_STRIPE_OF = text(
    "SELECT id FROM quota_stripes "
    "WHERE id = (SELECT stripe_id FROM bookings WHERE id = :booking_id) FOR UPDATE"
)
_CANCEL = text(
    """
    UPDATE bookings SET status = 'cancelled', cancelled_at = :at
    WHERE id = :booking_id AND status = 'confirmed'
    RETURNING stripe_id
    """
)
_RETURN_UNITS = text("UPDATE quota_stripes SET taken = taken - :count WHERE id = :stripe_id")


async def cancel_booking(uow: UnitOfWork, booking_id: uuid.UUID, at: datetime) -> bool:
    """Cancel a confirmed booking and give its unit back; False if it was not confirmed."""
    await uow.connection.execute(_LOCK_STRIPE_OF, {"booking_id": booking_id})
    stripe_id = (
        await uow.connection.execute(_CANCEL, {"booking_id": booking_id, "at": at})
    ).scalar_one_or_none()
    if stripe_id is None:
        return False
    await uow.connection.execute(_RETURN_UNITS, {"count": 1, "stripe_id": stripe_id})
    return True


_REDEEM = text(
    """
    UPDATE bookings SET status = 'redeemed', redeemed_at = :at, redeemed_by = :by
    WHERE id = :booking_id AND status = 'confirmed'
    RETURNING id
    """
)


async def redeem_booking(
    uow: UnitOfWork, booking_id: uuid.UUID, *, at: datetime, by: uuid.UUID
) -> bool:
    """Mark a confirmed booking redeemed; False if it was not confirmed (any more)."""
    result = await uow.connection.execute(_REDEEM, {"booking_id": booking_id, "at": at, "by": by})
    return result.scalar_one_or_none() is not None


_LOCK_ROUND_STRIPES = text(
    "SELECT id FROM quota_stripes WHERE round_id = :round_id ORDER BY id FOR UPDATE"
)
_RELEASE_NO_SHOWS = text(
    """
    UPDATE bookings SET status = 'no_show', released_at = :at
    WHERE round_id = :round_id AND status = 'confirmed'
    RETURNING id, point_id, user_id, stripe_id
    """
)


async def release_no_shows(
    uow: UnitOfWork, round_id: uuid.UUID, at: datetime
) -> Sequence[AnyRow]:
    """Turn the round's unredeemed bookings into no-shows and give their units back."""
    await uow.connection.execute(_LOCK_ROUND_STRIPES, {"round_id": round_id})
    released = (
        await uow.connection.execute(_RELEASE_NO_SHOWS, {"round_id": round_id, "at": at})
    ).all()
    per_stripe: dict[int, int] = {}
    for row in released:
        per_stripe[row.stripe_id] = per_stripe.get(row.stripe_id, 0) + 1
    for stripe_id, count in per_stripe.items():
        await uow.connection.execute(_RETURN_UNITS, {"count": count, "stripe_id": stripe_id})
    return released
