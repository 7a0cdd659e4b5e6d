"""Redemption of pickup codes by the operator at the pickup point."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.booking import domain, messages
from services.booking.schemas import ItemIn, RedemptionCreate, RedemptionRead
from services.booking.store import bookings as booking_store
from services.booking.store import rounds as round_store
from services.booking.store.tables import AnyRow
from shared.auth.principal import Principal, Role
from shared.contracts.booking import BookingRedeemed
from shared.db.uow import UnitOfWork
from shared.problems import Conflict, Gone, NotFound


async def redeem(
    *,
    uow: UnitOfWork,
    cmd: RedemptionCreate,
    operator: Principal,
    codes: domain.PickupCodes,
    now: datetime | None = None,
) -> RedemptionRead:
    """Hand out the items once. The code must be genuine, name a booking of this very pickup
    point, and the operator's scope must cover the point."""
    operator.require_role(Role.BOOKING_OPERATOR, Role.ADMIN)
    booking_id = codes.verify(cmd.pickup_code)
    now = now or datetime.now(UTC)
    async with uow:
        row = await _booking_at_point(uow, cmd, operator, booking_id)
        round_row = await round_store.get_round(uow, row.round_id)
        assert round_row is not None
        domain.RoundWindows(
            round_row.booking_opens_at,
            round_row.booking_closes_at,
            round_row.pickup_starts_at,
            round_row.pickup_ends_at,
        ).require_pickup_open(now)
        if not await booking_store.redeem_booking(uow, booking_id, at=now, by=operator.subject):
            # Another operator got there between our read and our update.
            fresh = await booking_store.get_booking(uow, booking_id)
            assert fresh is not None
            _refuse_unless_confirmed(fresh)
        await uow.emit(
            "booking.redeemed",
            BookingRedeemed(
                booking_id=booking_id,
                round_id=row.round_id,
                pickup_point_id=row.point_id,
                user_id=row.user_id,
                redeemed_at=now,
                redeemed_by=operator.subject,
            ),
        )
    return RedemptionRead(
        booking_id=booking_id,
        round_id=row.round_id,
        pickup_point_id=row.point_id,
        status=domain.BookingStatus.REDEEMED,
        status_label=messages.REDEEMED,
        redeemed_at=now,
        items=[ItemIn.model_validate(item) for item in round_row.items],
    )


async def _booking_at_point(
    uow: UnitOfWork, cmd: RedemptionCreate, operator: Principal, booking_id: uuid.UUID
) -> AnyRow:
    """The confirmed booking the code names, at a pickup point within the operator's scope."""
    point = await round_store.get_point(uow, cmd.pickup_point_id)
    if point is None:
        raise NotFound("no such pickup point", code="pickup_point_not_found")
    operator.require_region(point.region_code)
    row = await booking_store.get_booking(uow, booking_id)
    if row is None:
        raise NotFound("no such booking", code="booking_not_found")
    if row.point_id != cmd.pickup_point_id:
        raise Conflict(
            "this booking is for another pickup point",
            code="wrong_pickup_point",
            extra={"pickup_point_id": str(row.point_id), "pickup_point_name": row.point_name},
        )
    _refuse_unless_confirmed(row)
    return row


def _refuse_unless_confirmed(row: AnyRow) -> None:
    status = row.status
    if status == domain.BookingStatus.REDEEMED:
        redeemed_at = row.redeemed_at
        raise Conflict(
            f"already picked up at {redeemed_at.isoformat()}",
            code="already_redeemed",
            extra={"redeemed_at": redeemed_at.isoformat()},
        )
    if status == domain.BookingStatus.CANCELLED:
        raise Gone("this booking was cancelled", code="booking_cancelled")
    if status == domain.BookingStatus.NO_SHOW:
        raise Gone("this booking lapsed after the pickup window", code="booking_released")
