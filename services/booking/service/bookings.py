"""Residents' use cases: book a unit (the surge path), list, cancel; and the pickup QR code."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime

import asyncpg
from asyncpg.exceptions import UniqueViolationError

from services.booking import domain, messages
from services.booking.schemas import BookingCreate, BookingCreated, BookingPage, BookingRead
from services.booking.store import bookings as booking_store
from services.booking.store import claims
from services.booking.store.tables import AnyRow
from shared.auth.principal import Principal, Role
from shared.contracts.booking import BookingCancelled, BookingConfirmed
from shared.db.uow import UnitOfWork, outbox_entry
from shared.paging import decode_moment_cursor, moment_cursor, page_of
from shared.problems import Conflict, Gone, NotFound, RuleViolation

_CONFIRMED = "booking.booking_confirmed"
_PRODUCER = "booking"  # as the unit of work names it (the service's name)
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

    Every rule is checked on one read, then the unit, the booking and its outbox event are
    written by one atomic statement (see store/claims.py).

    This use case does not go through the unit of work on purpose (the one exception to the
    store convention). Measured on two cores, the surge is bound by round trips and
    per-statement client overhead, not by SQL: the unit of work's transaction costs a
    pre-ping, BEGIN, COMMIT and a reset on return around the two statements. The write is
    still one transaction (one statement); the read before it only decides refusals, and the
    database re-checks what matters (quota by the stripe CHECK and conditional UPDATE, one
    live booking per holder by the unique index). Its outbox row is still built by
    ``shared.db.uow.outbox_entry``, as ``uow.emit`` builds it."""
    resident.require_role(Role.RESIDENT)
    now = now or datetime.now(UTC)
    async with pool.acquire() as conn:
        found = await claims.read_booking_facts(
            conn,
            round_id=round_id,
            point_id=cmd.pickup_point_id,
            slot_id=cmd.slot_id,
            user_id=resident.subject,
        )
        facts = _require_bookable(found, cmd, resident, now)
        if facts.already_booked:
            replay = await _replay(conn, round_id, resident, idempotency_key, codes)
            if replay is None:
                raise _already_booked()
            return replay
        if facts.remaining <= 0:
            raise _sold_out()
        claim = _claim(facts, round_id, resident, idempotency_key, now)
        await _claim_a_unit(conn, claim, stripes_per_slot)
    return BookingCreated(id=claim.booking_id, pickup_code=codes.issue(claim.booking_id),
                          status=domain.BookingStatus.CONFIRMED, status_label=messages.CONFIRMED)


def _require_bookable(
    facts: claims.BookingFacts | None, cmd: BookingCreate, resident: Principal, now: datetime
) -> claims.BookingFacts:
    """The refusals decided on the read alone: round, window, eligibility, point and slot."""
    if facts is None:
        raise NotFound("no such round", code="round_not_found")
    domain.RoundWindows(
        facts.booking_opens_at,
        facts.booking_closes_at,
        facts.pickup_starts_at,
        facts.pickup_ends_at,
    ).require_open_for_booking(now)
    who = (
        domain.Resident(resident.subject, facts.region_code, facts.household_id)
        if facts.verified
        else None
    )
    domain.require_eligible(who, facts.eligibility_regions)
    if facts.slot_id is None or facts.point_id is None:
        raise NotFound(
            "no such pickup point (or slot) in this round", code="pickup_point_not_found"
        )
    if cmd.slot_id is None and (facts.slot_count or 0) > 1:
        raise RuleViolation(messages.SLOT_REQUIRED, code="slot_required",
                            extra={"field": "slot_id"})
    return facts


async def _replay(
    conn: claims.HotConnection,
    round_id: uuid.UUID,
    resident: Principal,
    idempotency_key: str | None,
    codes: domain.PickupCodes,
) -> BookingCreated | None:
    """The booking a retry with the first attempt's Idempotency-Key made, if it is one."""
    if idempotency_key is None:
        return None
    made = await claims.booking_made_with_key(
        conn, round_id=round_id, user_id=resident.subject, key=idempotency_key
    )
    if made is None:
        return None
    return BookingCreated(id=made["id"], pickup_code=codes.issue(made["id"]), status=made["status"],
                          status_label=messages.status_label(made["status"]))


def _claim(
    facts: claims.BookingFacts,
    round_id: uuid.UUID,
    resident: Principal,
    idempotency_key: str | None,
    now: datetime,
) -> claims.Claim:
    """The booking to write, with its outbox row built as ``uow.emit`` builds one. The row is
    written inside the claim statement rather than by uow.emit: the same transaction, no
    extra round trip, and no NOTIFY at commit (a NOTIFY serialises every committing booking
    on one global queue lock; under a surge the relay's own loop keeps up unwoken)."""
    assert facts.point_id is not None  # _require_bookable refused a read without them
    assert facts.slot_id is not None
    booking_id = uuid.uuid4()
    entry = outbox_entry(
        _CONFIRMED,
        BookingConfirmed(
            booking_id=booking_id,
            round_id=round_id,
            round_title=facts.title,
            pickup_point_id=facts.point_id,
            slot_id=facts.slot_id,
            user_id=resident.subject,
            confirmed_at=now,
            pickup_starts_at=facts.pickup_starts_at,
            pickup_ends_at=facts.pickup_ends_at,
        ),
        producer=_PRODUCER,
    )
    return claims.Claim(
        booking_id=booking_id,
        round_id=round_id,
        point_id=facts.point_id,
        slot_id=facts.slot_id,
        user_id=resident.subject,
        holder_key=domain.holder_key(
            domain.LimitPer(facts.limit_per), resident.subject, facts.household_id
        ),
        booked_at=now,
        event_id=entry.envelope.event_id,
        event_type=_CONFIRMED,
        routing_key=entry.routing_key,
        envelope_json=entry.body.decode(),
        idempotency_key=idempotency_key,
    )


async def _claim_a_unit(conn: claims.HotConnection, claim: claims.Claim, stripes: int) -> None:
    """Take a unit from a stripe picked at random, trying again while units remain only on
    stripes locked by bookings in flight. `sold_out` when none is left, `already_booked`
    when the holder's unique index trips (the whole statement rolls back)."""
    try:
        for attempt in range(_CLAIM_ATTEMPTS):
            if await claims.claim_unit(conn, claim, start=random.randrange(stripes)) is not None:
                return
            if not await claims.any_units_left(conn, claim.slot_id):
                break
            # Units remain but every stripe holding them is mid-booking: let them commit.
            await asyncio.sleep(0.001 * (attempt + 1))
    except UniqueViolationError:
        raise _already_booked() from None
    raise _sold_out()


def booking_view(row: AnyRow, codes: domain.PickupCodes) -> BookingRead:
    return BookingRead(
        id=row.id,
        round_id=row.round_id,
        round_title=row.round_title,
        pickup_point_id=row.point_id,
        pickup_point_name=row.point_name,
        pickup_point_address=row.point_address,
        slot_id=row.slot_id,
        status=row.status,
        status_label=messages.status_label(row.status),
        pickup_code=codes.issue(row.id) if row.status == domain.BookingStatus.CONFIRMED else None,
        booked_at=row.booked_at,
        pickup_starts_at=row.pickup_starts_at,
        pickup_ends_at=row.pickup_ends_at,
        cancelled_at=row.cancelled_at,
        redeemed_at=row.redeemed_at,
    )


async def _own_booking(uow: UnitOfWork, booking_id: uuid.UUID, owner: Principal) -> AnyRow:
    row = await booking_store.get_booking(uow, booking_id)
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
    before = decode_moment_cursor(cursor)
    async with uow:
        rows = await booking_store.bookings_of_user(
            uow, resident.subject, before=before, limit=limit + 1
        )
    page, next_cursor = page_of(rows, limit, lambda row: moment_cursor(row.booked_at, row.id))
    return BookingPage(items=[booking_view(r, codes) for r in page], next_cursor=next_cursor)


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
            row = await _cancel_confirmed(uow, row, now)
        if row.status == domain.BookingStatus.REDEEMED:
            raise Conflict(
                "this booking was already picked up",
                code="already_redeemed",
                extra={"redeemed_at": row.redeemed_at.isoformat()},
            )
        if row.status == domain.BookingStatus.NO_SHOW:
            raise Gone("this booking lapsed after the pickup window", code="booking_released")
        return booking_view(row, codes)


async def _cancel_confirmed(uow: UnitOfWork, row: AnyRow, now: datetime) -> AnyRow:
    """Cancel and announce it; the booking as it now is (a concurrent cancel, redemption or
    release may have got there first)."""
    if await booking_store.cancel_booking(uow, row.id, now):
        await uow.emit(
            "booking.booking_cancelled",
            BookingCancelled(
                booking_id=row.id,
                round_id=row.round_id,
                pickup_point_id=row.point_id,
                user_id=row.user_id,
                reason="cancelled",
                cancelled_at=now,
            ),
        )
    fresh = await booking_store.get_booking(uow, row.id)
    assert fresh is not None  # bookings are never deleted
    return fresh
