"""The booking hot path: two statements.

The one store module that does not take the unit of work (the measured exception, see
``service/bookings.py:book``): both statements run on a connection of the hot path's own
bounded asyncpg pool, outside an explicit transaction, one round trip each:

1. ``read_booking_facts``: one read (no locks) of everything the rules need — the round, the
   slot, the caller's eligibility row, whether their holder already has a live booking, and
   how many units are left. Refusals (window, eligibility, duplicates, sold out) end here
   without touching a quota row. The holder check is two equality probes, not one
   ``holder_key IN (…)``: under the generic plan of a prepared statement PostgreSQL used the
   IN list as a filter over every live booking of the round (10 ms at 8,000 bookings, and
   growing with the round) instead of as an index condition.
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
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# A connection as the hot pool hands it out (or a plain one: the statements need nothing more).
HotConnection: TypeAlias = (
    "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
)

CONTEXT_QUERY = """
    SELECT r.title, r.limit_per, r.eligibility_regions,
           r.booking_opens_at, r.booking_closes_at, r.pickup_starts_at, r.pickup_ends_at,
           s.id AS slot_id, s.point_id, s.slot_count,
           (SELECT coalesce(sum(q.capacity - q.taken), 0)
              FROM quota_stripes q WHERE q.slot_id = s.id) AS remaining,
           e.user_id IS NOT NULL AS verified, e.region_code, e.household_id,
           EXISTS (SELECT 1 FROM bookings b
                    WHERE b.round_id = r.id AND b.status IN ('confirmed', 'redeemed')
                      AND b.holder_key = 'u:' || CAST($4 AS text))
           OR EXISTS (SELECT 1 FROM bookings b
                       WHERE b.round_id = r.id AND b.status IN ('confirmed', 'redeemed')
                         AND b.holder_key = 'h:' || e.household_id) AS already_booked
    FROM rounds r
    LEFT JOIN LATERAL (
        SELECT s.id, s.point_id, count(*) OVER () AS slot_count
        FROM slots s
        WHERE s.round_id = r.id AND s.point_id = $2
          AND (CAST($3 AS uuid) IS NULL OR s.id = CAST($3 AS uuid))
        ORDER BY s.starts_at
        LIMIT 1
    ) s ON true
    LEFT JOIN eligible_residents e ON e.user_id = $4
    WHERE r.id = $1
"""

# Stripes are visited from `start` ($2) upwards, then wrapping round: a random start per
# request keeps concurrent claims on different rows. Never a waiting FOR UPDATE here: a row
# locked and then found full stays locked until the transaction ends, so two claimers waiting
# on each other's stripes would deadlock.
_CLAIM = """
    WITH claimed AS (
        UPDATE quota_stripes SET taken = taken + 1
        WHERE id = (
            SELECT id FROM quota_stripes
            WHERE slot_id = $1 AND taken < capacity
            ORDER BY stripe_no < $2, stripe_no
            LIMIT 1
            FOR UPDATE SKIP LOCKED
        )
        RETURNING id
    ), booked AS (
        INSERT INTO bookings (id, round_id, point_id, slot_id, stripe_id, user_id, holder_key,
                              status, booked_at, idempotency_key)
        SELECT $3, $4, $5, $1, claimed.id, $6, $7, 'confirmed', $8, $13
        FROM claimed
        RETURNING stripe_id
    ), announced AS (
        INSERT INTO outbox (event_id, event_type, routing_key, envelope)
        SELECT $9, $10, $11, CAST($12 AS jsonb) FROM booked
    )
    SELECT stripe_id FROM booked
"""
_ANY_LEFT = "SELECT EXISTS (SELECT 1 FROM quota_stripes WHERE slot_id = $1 AND taken < capacity)"


@dataclass(frozen=True)
class BookingFacts:
    """What the booking rules need, as one read found it."""

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


async def read_booking_facts(
    conn: HotConnection,
    *,
    round_id: uuid.UUID,
    point_id: uuid.UUID,
    slot_id: uuid.UUID | None,
    user_id: uuid.UUID,
) -> BookingFacts | None:
    row = await conn.fetchrow(CONTEXT_QUERY, round_id, point_id, slot_id, user_id)
    if row is None:
        return None
    return BookingFacts(**dict(row))


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
    idempotency_key: str | None


async def claim_unit(conn: HotConnection, claim: Claim, *, start: int) -> int | None:
    """Book one unit; the stripe id it came from, or None when no stripe gave one (all were
    empty, or all with units left were locked by other bookings at that instant).

    Runs as one statement outside any explicit transaction: PostgreSQL makes it atomic, and
    it costs one round trip instead of three (BEGIN, statement, COMMIT)."""
    return await conn.fetchval(
        _CLAIM,
        claim.slot_id,
        start,
        claim.booking_id,
        claim.round_id,
        claim.point_id,
        claim.user_id,
        claim.holder_key,
        claim.booked_at,
        claim.event_id,
        claim.event_type,
        claim.routing_key,
        claim.envelope_json,
        claim.idempotency_key,
    )


_REPLAY = """
    SELECT id, status FROM bookings
    WHERE round_id = $1 AND user_id = $2 AND idempotency_key = $3
      AND status IN ('confirmed', 'redeemed')
"""


async def booking_made_with_key(
    conn: HotConnection, *, round_id: uuid.UUID, user_id: uuid.UUID, key: str
) -> asyncpg.Record | None:
    """The caller's live booking in this round made with this Idempotency-Key, if any."""
    return await conn.fetchrow(_REPLAY, round_id, user_id, key)


async def any_units_left(conn: HotConnection, slot_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval(_ANY_LEFT, slot_id))
