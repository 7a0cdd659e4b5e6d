"""HTTP routes of the booking service, under /api/v1/booking."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

import asyncpg
import segno
from fastapi import APIRouter, Depends, Query, Request, Response

from services.booking import domain
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
from services.booking.settings import Settings
from shared.auth import CurrentPrincipal
from shared.db.uow import UnitOfWork
from shared.web.deps import IdempotencyKey
from shared.web.runtime import ServiceRuntime

router = APIRouter(prefix="/api/v1/booking", tags=["booking"])

Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=200)]


# The dependencies here are `async def` on purpose: FastAPI runs a plain `def` dependency in
# a worker thread, and a thread hand-off per dependency is measurable CPU on the surge path.
async def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


async def _uow(request: Request) -> UnitOfWork:
    return request.app.state.runtime.uow()


async def _codes(request: Request) -> domain.PickupCodes:
    return request.app.state.runtime.state["pickup_codes"]


async def _hot_pool(request: Request) -> asyncpg.Pool:
    return request.app.state.runtime.state["hot_pool"]


Runtime = Annotated[ServiceRuntime, Depends(_runtime)]
Uow = Annotated[UnitOfWork, Depends(_uow)]
Codes = Annotated[domain.PickupCodes, Depends(_codes)]
HotPool = Annotated[asyncpg.Pool, Depends(_hot_pool)]


def _settings(runtime: ServiceRuntime) -> Settings:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    return settings


def _now() -> datetime:
    return datetime.now(UTC)


# -- residents ------------------------------------------------------------------------------


@router.post("/rounds/{round_id}/bookings", status_code=201, response_model=BookingCreated)
async def create_booking(
    round_id: uuid.UUID,
    body: BookingCreate,
    caller: CurrentPrincipal,
    pool: HotPool,
    runtime: Runtime,
    codes: Codes,
    idempotency_key: IdempotencyKey = None,
) -> BookingCreated:
    """Book one unit of a round at a pickup point. 409 `already_booked`, 410 `sold_out`,
    403 `not_eligible`, 425/409 `round_not_open`, 503 `overloaded` (with Retry-After).
    A retry with the same `Idempotency-Key` answers the booking it made. Admission (and
    shedding) happens in front of the app: see services/booking/admission.py."""
    return await bookings.book(
        pool=pool,
        round_id=round_id,
        cmd=body,
        resident=caller,
        codes=codes,
        stripes_per_slot=_settings(runtime).stripes_per_slot,
        idempotency_key=idempotency_key,
    )


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
    caller: CurrentPrincipal, uow: Uow, codes: Codes, limit: Limit = 20, cursor: Cursor = None
) -> BookingPage:
    return await bookings.my_bookings(
        uow=uow, resident=caller, codes=codes, cursor=cursor, limit=limit
    )


@router.get("/bookings/{booking_id}", response_model=BookingRead)
async def get_booking(
    booking_id: uuid.UUID, caller: CurrentPrincipal, uow: Uow, codes: Codes
) -> BookingRead:
    return await bookings.get_booking(uow=uow, booking_id=booking_id, resident=caller, codes=codes)


@router.get(
    "/bookings/{booking_id}/qr",
    responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}},
    response_class=Response,
)
async def booking_qr(
    booking_id: uuid.UUID,
    caller: CurrentPrincipal,
    uow: Uow,
    codes: Codes,
    format: Literal["png", "svg"] = "png",
) -> Response:
    """The pickup code as a QR image for the pickup point's scanner."""
    code = await bookings.pickup_code_of(
        uow=uow, booking_id=booking_id, resident=caller, codes=codes
    )
    qr = segno.make(code, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind=format, scale=8, border=4)
    media = "image/png" if format == "png" else "image/svg+xml"
    return Response(buffer.getvalue(), media_type=media, headers={"Cache-Control": "no-store"})


@router.delete("/bookings/{booking_id}", response_model=BookingRead)
async def cancel_booking(
    booking_id: uuid.UUID, caller: CurrentPrincipal, uow: Uow, codes: Codes
) -> BookingRead:
    """Cancel; the unit is bookable again at once."""
    return await bookings.cancel(uow=uow, booking_id=booking_id, resident=caller, codes=codes)


# -- booking operators ----------------------------------------------------------------------


@router.post("/rounds", status_code=201, response_model=RoundRead)
async def create_round(
    body: RoundCreate, caller: CurrentPrincipal, uow: Uow, runtime: Runtime
) -> RoundRead:
    return await rounds.create_round(
        uow=uow,
        cmd=body,
        operator=caller,
        stripes_per_slot=_settings(runtime).stripes_per_slot,
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
    body: RedemptionCreate, caller: CurrentPrincipal, uow: Uow, codes: Codes
) -> RedemptionRead:
    """Redeem a pickup code at the operator's pickup point, once."""
    return await pickup.redeem(uow=uow, cmd=body, operator=caller, codes=codes)
