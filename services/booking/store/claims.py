"""The booking hot path: two statements.

1. ``read_booking_context``: one read (no locks) of everything the rules need — the round, the
   slot, the caller's eligibility row, whether their holder already has a live booking, and
   how many units are left. Refusals (window, eligibility, duplicates, sold out) end here
   without touching a quota row.
2. ``claim_unit``: one statement, hence one atomic transaction, that takes a unit from a stripe
   (conditional UPDATE on ``taken < capacity``), inserts the booking and its outbox event. The
   stripe is chosen from a random starting point and locked with ``SKIP LOCKED``, so clients on
   one hot pickup point spread over the stripes instead of queueing on one row. A duplicate
   holder trips the partial unique index and the whole statement rolls back, unit included.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_CONTEXT = text(
    """
    SELECT r.title, r.limit_per, r.eligibility_regions,
           r.booking_opens_at, r.booking_closes_at, r.pickup_starts_at, r.pickup_ends_at,
           s.id AS slot_id, s.point_id, s.slot_count,
           (SELECT coalesce(sum(q.capacity - q.taken), 0)
              FROM quota_stripes q WHERE q.slot_id = s.id) AS remaining,
           e.user_id IS NOT NULL AS verified, e.region_code, e.household_id,
           EXISTS (SELECT 1 FROM bookings b
                    WHERE b.round_id = r.id AND b.status IN ('confirmed', 'redeemed')
                      AND b.holder_key IN ('u:' || CAST(:user_id AS text),
                                           'h:' || e.household_id)) AS already_booked
    FROM rounds r
    LEFT JOIN LATERAL (
        SELECT s.id, s.point_id, count(*) OVER () AS slot_count
        FROM slots s
        WHERE s.round_id = r.id AND s.point_id = :point_id
          AND (CAST(:slot_id AS uuid) IS NULL OR s.id = CAST(:slot_id AS uuid))
        ORDER BY s.starts_at
        LIMIT 1
    ) s ON true
    LEFT JOIN eligible_residents e ON e.user_id = :user_id
    WHERE r.id = :round_id
    """
)

# Stripes are visited from `start` upwards, then wrapping round: a random start per request
# keeps concurrent claims on different rows.
_CLAIM_TEMPLATE = """
    WITH claimed AS (
        UPDATE quota_stripes SET taken = taken + 1
        WHERE id = (
            SELECT id FROM quota_stripes
            WHERE slot_id = :slot_id AND taken < capacity
            ORDER BY stripe_no < :start, stripe_no
            LIMIT 1
            {lock}
        )
        RETURNING id
    ), booked AS (
        INSERT INTO bookings (id, round_id, point_id, slot_id, stripe_id, user_id, holder_key,
                              status, booked_at)
        SELECT :booking_id, :round_id, :point_id, :slot_id, claimed.id, :user_id, :holder_key,
               'confirmed', :booked_at
        FROM claimed
        RETURNING stripe_id
    ), announced AS (
        INSERT INTO outbox (event_id, event_type, routing_key, envelope)
        SELECT :event_id, :event_type, :routing_key, CAST(:envelope AS jsonb) FROM booked
    )
    SELECT stripe_id FROM booked
"""
# Never a waiting FOR UPDATE here: a row locked and then found full stays locked until the
# transaction ends, so two claimers waiting on each other's stripes would deadlock.
_CLAIM = text(_CLAIM_TEMPLATE.format(lock="FOR UPDATE SKIP LOCKED"))
_ANY_LEFT = text("SELECT EXISTS (SELECT 1 FROM quota_stripes WHERE slot_id = :slot_id "
                 "AND taken < capacity)")


@dataclass(frozen=True)
class BookingContext:
    title: str
    limit_per: str
    eligibility_regions: list[str]
    booking_opens_at: datetime
    booking_closes_at: datetime
    pickup_starts_at: datetime
    pickup_ends_at: datetime
    slot_id: uuid.UUID | None
    point_id: uuid.UUID | None
    slot_count: int | None
    remaining: int
    verified: bool
    region_code: str | None
    household_id: str | None
    already_booked: bool


async def read_booking_context(
    session: AsyncSession,
    *,
    round_id: uuid.UUID,
    point_id: uuid.UUID,
    slot_id: uuid.UUID | None,
    user_id: uuid.UUID,
) -> BookingContext | None:
    row = (
        await session.execute(
            _CONTEXT,
            {"round_id": round_id, "point_id": point_id, "slot_id": slot_id, "user_id": user_id},
        )
    ).first()
    if row is None:
        return None
    return BookingContext(**row._mapping)


@dataclass(frozen=True)
class Claim:
    booking_id: uuid.UUID
    round_id: uuid.UUID
    point_id: uuid.UUID
    slot_id: uuid.UUID
    user_id: uuid.UUID
    holder_key: str
    booked_at: datetime
    event_id: uuid.UUID
    event_type: str
    routing_key: str
    envelope_json: str


async def claim_unit(session: AsyncSession, claim: Claim, *, start: int) -> int | None:
    """Book one unit; the stripe id it came from, or None when no stripe gave one (all were
    empty, or all with units left were locked by other bookings at that instant)."""
    params: dict[str, Any] = {
        "slot_id": claim.slot_id,
        "start": start,
        "booking_id": claim.booking_id,
        "round_id": claim.round_id,
        "point_id": claim.point_id,
        "user_id": claim.user_id,
        "holder_key": claim.holder_key,
        "booked_at": claim.booked_at,
        "event_id": claim.event_id,
        "event_type": claim.event_type,
        "routing_key": claim.routing_key,
        "envelope": claim.envelope_json,
    }
    return (await session.execute(_CLAIM, params)).scalar_one_or_none()


async def any_units_left(session: AsyncSession, slot_id: uuid.UUID) -> bool:
    return bool((await session.execute(_ANY_LEFT, {"slot_id": slot_id})).scalar_one())
