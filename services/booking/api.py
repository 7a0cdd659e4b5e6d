"""HTTP routes of the booking service, under /api/v1/booking."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

import segno
from fastapi import APIRouter, Depends, Query, Response

from services.booking.context import BookingContext
from services.booking.schemas import (
    BookingCreate,
    BookingCreated,
    BookingPage,
    BookingRead,
    QuotaUpdate,
    RedemptionCreate,
    RedemptionRead,
    RoundCreate,
    RoundPage,
    RoundRead,
    RoundStats,
)
from services.booking.service import bookings, pickup, rounds
from shared.auth import CurrentPrincipal
from shared.web.deps import IdempotencyKey, Uow, context_dependency

router = APIRouter(prefix="/api/v1/booking", tags=["booking"])
# Served by services/booking/fastlane.py, which reads this path and the body and header
# declarations below (BookingCreate, IdempotencyKey) rather than copies of them.
BOOKINGS_PATH = "/rounds/{round_id}/bookings"

Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=200)]
Context = Annotated[BookingContext, Depends(context_dependency(BookingContext))]


def _now() -> datetime:
    return datetime.now(UTC)


# -- residents ------------------------------------------------------------------------------


@router.post(BOOKINGS_PATH, status_code=201, response_model=BookingCreated)
async def create_booking(
    round_id: uuid.UUID,
    body: BookingCreate,
    caller: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> BookingCreated:
    """Book one unit of a round at a pickup point. 409 `already_booked`, 410 `sold_out`,
    403 `not_eligible`, 425/409 `round_not_open`, 503 `overloaded` (with Retry-After).
    A retry with the same `Idempotency-Key` answers the booking it made. Admission (and
    shedding) happens in front of the app: see services/booking/admission.py."""
    # This declaration is the endpoint's OpenAPI; services/booking/fastlane.py answers every
    # request to it (with the same path, body model and header rule), so nothing here runs.
    raise RuntimeError(f"POST {router.prefix}{BOOKINGS_PATH} is answered by fastlane.py")


@router.get("/rounds", response_model=RoundPage)
async def list_rounds(
    caller: CurrentPrincipal, uow: Uow, limit: Limit = 20, cursor: Cursor = None
) -> RoundPage:
    """Residents: open and upcoming rounds they may book. Operators: rounds of their regions."""
    return await rounds.list_rounds(uow=uow, caller=caller, now=_now(), cursor=cursor, limit=limit)


@router.get("/rounds/{round_id}", response_model=RoundRead)
async def get_round(round_id: uuid.UUID, caller: CurrentPrincipal, uow: Uow) -> RoundRead:
    return await rounds.get_round(uow=uow, round_id=round_id, caller=caller, now=_now())


@router.get("/bookings", response_model=BookingPage)
async def my_bookings(
    caller: CurrentPrincipal, uow: Uow, context: Context, limit: Limit = 20, cursor: Cursor = None
) -> BookingPage:
    return await bookings.my_bookings(
        uow=uow, resident=caller, codes=context.pickup_codes, cursor=cursor, limit=limit
    )


@router.get("/bookings/{booking_id}", response_model=BookingRead)
async def get_booking(
    booking_id: uuid.UUID, caller: CurrentPrincipal, uow: Uow, context: Context
) -> BookingRead:
    return await bookings.get_booking(
        uow=uow, booking_id=booking_id, resident=caller, codes=context.pickup_codes
    )


@router.get(
    "/bookings/{booking_id}/qr",
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
    response_class=Response,
)
async def booking_qr(
    booking_id: uuid.UUID,
    caller: CurrentPrincipal,
    uow: Uow,
    context: Context,
    format: Literal["png", "svg"] = "png",
) -> Response:
    """The pickup code as a QR image for the pickup point's scanner."""
    code = await bookings.pickup_code_of(
        uow=uow, booking_id=booking_id, resident=caller, codes=context.pickup_codes
    )
    qr = segno.make(code, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind=format, scale=8, border=4)
    media = "image/png" if format == "png" else "image/svg+xml"
    return Response(buffer.getvalue(), media_type=media, headers={"Cache-Control": "no-store"})


@router.delete("/bookings/{booking_id}", response_model=BookingRead)
async def cancel_booking(
    booking_id: uuid.UUID, caller: CurrentPrincipal, uow: Uow, context: Context
) -> BookingRead:
    """Cancel; the unit is bookable again at once."""
    return await bookings.cancel(
        uow=uow, booking_id=booking_id, resident=caller, codes=context.pickup_codes
    )


# -- booking operators ----------------------------------------------------------------------


@router.post("/rounds", status_code=201, response_model=RoundRead)
async def create_round(
    body: RoundCreate, caller: CurrentPrincipal, uow: Uow, context: Context
) -> RoundRead:
    return await rounds.create_round(
        uow=uow,
        cmd=body,
        operator=caller,
        stripes_per_slot=context.stripes_per_slot,
        now=_now(),
    )


@router.put("/rounds/{round_id}/pickup-points/{point_id}/quota", response_model=RoundRead)
async def change_quota(
    round_id: uuid.UUID, point_id: uuid.UUID, body: QuotaUpdate, caller: CurrentPrincipal, uow: Uow
) -> RoundRead:
    """Set a pickup point's (or slot's) quota; never below what is already booked."""
    return await rounds.change_quota(
        uow=uow, round_id=round_id, point_id=point_id, cmd=body, operator=caller, now=_now()
    )


@router.get("/rounds/{round_id}/stats", response_model=RoundStats)
async def round_stats(round_id: uuid.UUID, caller: CurrentPrincipal, uow: Uow) -> RoundStats:
    """Booked, redeemed, cancelled, no-show and remaining per pickup point, live."""
    return await rounds.round_stats(uow=uow, round_id=round_id, operator=caller, now=_now())


@router.post("/redemptions", status_code=201, response_model=RedemptionRead)
async def redeem(
    body: RedemptionCreate, caller: CurrentPrincipal, uow: Uow, context: Context
) -> RedemptionRead:
    """Redeem a pickup code at the operator's pickup point, once."""
    return await pickup.redeem(uow=uow, cmd=body, operator=caller, codes=context.pickup_codes)
