"""Residents' use cases: book a unit (the surge path), list, cancel; and the pickup QR code."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime

import asyncpg
import orjson
from asyncpg.exceptions import UniqueViolationError
from sqlalchemy import Row

from services.booking import domain
from services.booking.schemas import BookingCreate, BookingCreated, BookingPage, BookingRead
from services.booking.service.cursors import decode_cursor, encode_cursor
from services.booking.store import bookings as booking_store
from services.booking.store import claims
from shared import contracts
from shared.auth.principal import Principal, Role
from shared.context import current_correlation_id
from shared.contracts.booking import BookingCancelled, BookingConfirmed
from shared.db.uow import UnitOfWork
from shared.messaging.envelope import Envelope
from shared.problems import Conflict, Gone, NotFound, RuleViolation

_CONFIRMED = "booking.booking_confirmed"
# Tries at a stripe while the remaining units sit on stripes locked by bookings in flight.
_CLAIM_ATTEMPTS = 50


def _already_booked() -> Conflict:
    return Conflict(
        "you (or your household) already hold a booking in this round", code="already_booked"
    )


def _sold_out() -> Gone:
    return Gone("this pickup point has no units left", code="sold_out")


async def book(
    *,
    pool: asyncpg.Pool,
    round_id: uuid.UUID,
    cmd: BookingCreate,
    resident: Principal,
    codes: domain.PickupCodes,
    stripes_per_slot: int,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> BookingCreated:
    """Book one unit at a pickup point. A retry carrying the first attempt's Idempotency-Key
    answers that booking again instead of `already_booked`.

    Every rule is checked on one read, every rule is checked on one read, then the unit, the
    booking and its outbox event are written by one atomic statement (see store/claims.py).

    This use case does not go through the unit of work on purpose. Measured on two cores,
    the surge is bound by round trips and per-statement client overhead, not by SQL: the
    unit of work's session costs a pre-ping, BEGIN, COMMIT and a reset on return around the
    two statements. The write is still one transaction (one statement); the read before it
    only decides refusals, and the database re-checks what matters (quota by the stripe
    CHECK and conditional UPDATE, one live booking per holder by the unique index)."""
    resident.require_role(Role.RESIDENT)
    now = now or datetime.now(UTC)
    async with pool.acquire() as conn:
        context = await claims.read_booking_context(
            conn,
            round_id=round_id,
            point_id=cmd.pickup_point_id,
            slot_id=cmd.slot_id,
            user_id=resident.subject,
        )
        if context is None:
            raise NotFound("no such round", code="round_not_found")
        domain.RoundWindows(
            context.booking_opens_at,
            context.booking_closes_at,
            context.pickup_starts_at,
            context.pickup_ends_at,
        ).require_open_for_booking(now)
        who = (
            domain.Resident(resident.subject, context.region_code, context.household_id)
            if context.verified
            else None
        )
        domain.require_eligible(who, context.eligibility_regions)
        if context.slot_id is None or context.point_id is None:
            raise NotFound(
                "no such pickup point (or slot) in this round", code="pickup_point_not_found"
            )
        if cmd.slot_id is None and (context.slot_count or 0) > 1:
            raise RuleViolation(
                "this pickup point books by time slot: choose one", code="slot_required"
            )
        if context.already_booked:
            if idempotency_key is not None:
                replay = await claims.booking_made_with_key(
                    conn, round_id=round_id, user_id=resident.subject, key=idempotency_key
                )
                if replay is not None:
                    return BookingCreated(
                        id=replay["id"],
                        pickup_code=codes.issue(replay["id"]),
                        status=replay["status"],
                    )
            raise _already_booked()
        if context.remaining <= 0:
            raise _sold_out()

        booking_id = uuid.uuid4()
        holder = domain.holder_key(
            domain.LimitPer(context.limit_per), resident.subject, context.household_id
        )
        version, payload = contracts.validate_payload(
            _CONFIRMED,
            None,
            BookingConfirmed(
                booking_id=booking_id,
                round_id=round_id,
                round_title=context.title,
                pickup_point_id=context.point_id,
                slot_id=context.slot_id,
                user_id=resident.subject,
                confirmed_at=now,
                pickup_starts_at=context.pickup_starts_at,
                pickup_ends_at=context.pickup_ends_at,
            ),
        )
        envelope = Envelope(
            event_type=_CONFIRMED,
            version=version,
            producer="booking",
            correlation_id=current_correlation_id(),
            payload=payload,
        )
        # The outbox row is written inside the claim statement rather than by uow.emit: the
        # same transaction, no extra round trip, and no NOTIFY at commit (a NOTIFY serialises
        # every committing booking on one global queue lock; under a surge the relay's own
        # loop keeps up without being woken).
        claim = claims.Claim(
            booking_id=booking_id,
            round_id=round_id,
            point_id=context.point_id,
            slot_id=context.slot_id,
            user_id=resident.subject,
            holder_key=holder,
            booked_at=now,
            event_id=envelope.event_id,
            event_type=_CONFIRMED,
            routing_key=envelope.routing_key,
            envelope_json=orjson.dumps(envelope.model_dump(mode="json")).decode(),
            idempotency_key=idempotency_key,
        )
        try:
            stripe = None
            for attempt in range(_CLAIM_ATTEMPTS):
                stripe = await claims.claim_unit(
                    conn, claim, start=random.randrange(stripes_per_slot)
                )
                if stripe is not None or not await claims.any_units_left(conn, context.slot_id):
                    break
                # Units remain but every stripe holding them is mid-booking: let them commit.
                await asyncio.sleep(0.001 * (attempt + 1))
        except UniqueViolationError:
            raise _already_booked() from None
        if stripe is None:
            raise _sold_out()
    return BookingCreated(id=booking_id, pickup_code=codes.issue(booking_id), status="confirmed")


def booking_view(row: Row, codes: domain.PickupCodes) -> BookingRead:
    return BookingRead(
        id=row.id,
        round_id=row.round_id,
        round_title=row.round_title,
        pickup_point_id=row.point_id,
        pickup_point_name=row.point_name,
        pickup_point_address=row.point_address,
        slot_id=row.slot_id,
        status=row.status,
        pickup_code=codes.issue(row.id) if row.status == domain.BookingStatus.CONFIRMED else None,
        booked_at=row.booked_at,
        pickup_starts_at=row.pickup_starts_at,
        pickup_ends_at=row.pickup_ends_at,
        cancelled_at=row.cancelled_at,
        redeemed_at=row.redeemed_at,
    )


async def _own_booking(uow: UnitOfWork, booking_id: uuid.UUID, owner: Principal) -> Row:
    row = await booking_store.get_booking(uow.session, booking_id)
    # Someone else's booking is "not found": its existence is not the caller's business.
    if row is None or row.user_id != owner.subject:
        raise NotFound("no such booking", code="booking_not_found")
    return row


async def my_bookings(
    *,
    uow: UnitOfWork,
    resident: Principal,
    codes: domain.PickupCodes,
    cursor: str | None,
    limit: int,
) -> BookingPage:
    before = decode_cursor(cursor)
    async with uow:
        rows = await booking_store.bookings_of_user(
            uow.session, resident.subject, before=before, limit=limit + 1
        )
    page, more = rows[:limit], len(rows) > limit
    return BookingPage(
        items=[booking_view(r, codes) for r in page],
        next_cursor=encode_cursor(page[-1].booked_at, page[-1].id) if more else None,
    )


async def get_booking(
    *, uow: UnitOfWork, booking_id: uuid.UUID, resident: Principal, codes: domain.PickupCodes
) -> BookingRead:
    async with uow:
        return booking_view(await _own_booking(uow, booking_id, resident), codes)


async def pickup_code_of(
    *, uow: UnitOfWork, booking_id: uuid.UUID, resident: Principal, codes: domain.PickupCodes
) -> str:
    async with uow:
        row = await _own_booking(uow, booking_id, resident)
    if row.status != domain.BookingStatus.CONFIRMED:
        raise Conflict(
            f"this booking is {row.status}: it has no pickup code to show",
            code="booking_not_redeemable",
            extra={"status": row.status},
        )
    return codes.issue(row.id)


async def cancel(
    *,
    uow: UnitOfWork,
    booking_id: uuid.UUID,
    resident: Principal,
    codes: domain.PickupCodes,
    now: datetime | None = None,
) -> BookingRead:
    """Cancel a confirmed booking; its unit is bookable again the moment this commits.
    Cancelling twice answers the cancelled booking again."""
    now = now or datetime.now(UTC)
    async with uow:
        row = await _own_booking(uow, booking_id, resident)
        if row.status == domain.BookingStatus.CONFIRMED:
            if not await booking_store.cancel_booking(uow.session, booking_id, now):
                row = await booking_store.get_booking(uow.session, booking_id)
            else:
                await uow.emit(
                    "booking.booking_cancelled",
                    BookingCancelled(
                        booking_id=booking_id,
                        round_id=row.round_id,
                        pickup_point_id=row.point_id,
                        user_id=row.user_id,
                        reason="cancelled",
                        cancelled_at=now,
                    ),
                )
                row = await booking_store.get_booking(uow.session, booking_id)
        assert row is not None
        if row.status == domain.BookingStatus.REDEEMED:
            raise Conflict(
                "this booking was already picked up",
                code="already_redeemed",
                extra={"redeemed_at": row.redeemed_at.isoformat()},
            )
        if row.status == domain.BookingStatus.NO_SHOW:
            raise Gone("this booking lapsed after the pickup window", code="booking_released")
        return booking_view(row, codes)
