"""Integration events published by the booking service. Consumers depend on these shapes only.
No PII travels here: residents are named by their platform user id only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from shared.contracts import contract


@contract("booking.booking_confirmed")
class BookingConfirmed(BaseModel):
    booking_id: uuid.UUID
    round_id: uuid.UUID
    round_title: str
    pickup_point_id: uuid.UUID
    slot_id: uuid.UUID
    user_id: uuid.UUID
    confirmed_at: datetime
    pickup_starts_at: datetime
    pickup_ends_at: datetime


@contract("booking.booking_cancelled")
class BookingCancelled(BaseModel):
    """The booking no longer holds a unit: the resident cancelled, or did not come (no_show)."""

    booking_id: uuid.UUID
    round_id: uuid.UUID
    pickup_point_id: uuid.UUID
    user_id: uuid.UUID
    reason: Literal["cancelled", "no_show"]
    cancelled_at: datetime


@contract("booking.redeemed")
class BookingRedeemed(BaseModel):
    booking_id: uuid.UUID
    round_id: uuid.UUID
    pickup_point_id: uuid.UUID
    user_id: uuid.UUID
    redeemed_at: datetime
    redeemed_by: uuid.UUID
