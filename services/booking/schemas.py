"""HTTP models of the booking service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.validation import StorableText


class BaseSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

Text = StorableText  # what PostgreSQL can store (no NUL)

_REGION_PATTERN = r"^[0-9]{6}([0-9]{3}){0,3}$"  # ASCII digits: \d also takes ３
RegionCode = Field(pattern=_REGION_PATTERN)
RegionCodeItem = Annotated[str, Field(pattern=_REGION_PATTERN)]


class ItemIn(BaseSchema):
    name: Text = Field(min_length=1, max_length=100)
    quantity: int = Field(1, ge=1, le=10_000)
    unit: Text = Field("份", min_length=1, max_length=20)


class SlotCreate(BaseSchema):
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    quota: int = Field(ge=0, le=1_000_000)


class PickupPointCreate(BaseSchema):
    name: Text = Field(min_length=1, max_length=200)
    address: Text = Field("", max_length=400)
    region_code: str = RegionCode
    # Either one quota for the whole pickup window, or per-slot quotas.
    quota: int | None = Field(None, ge=0, le=1_000_000)
    slots: list[SlotCreate] | None = Field(None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _quota_or_slots(self) -> PickupPointCreate:
        if (self.quota is None) == (self.slots is None):
            raise ValueError("give either quota or slots")
        return self


class RoundCreate(BaseSchema):
    title: Text = Field(min_length=1, max_length=200)
    region_code: str = RegionCode
    items: list[ItemIn] = Field(min_length=1, max_length=50)
    booking_opens_at: AwareDatetime
    booking_closes_at: AwareDatetime
    pickup_starts_at: AwareDatetime
    pickup_ends_at: AwareDatetime
    eligibility_regions: list[RegionCodeItem] = Field(default_factory=list, max_length=200)
    limit_per: Literal["person", "household"] = "person"
    pickup_points: list[PickupPointCreate] = Field(min_length=1, max_length=500)


class SlotRead(BaseSchema):
    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    quota: int
    remaining: int


class PickupPointRead(BaseSchema):
    id: uuid.UUID
    name: str
    address: str
    region_code: str
    quota: int
    remaining: int
    slots: list[SlotRead]


class RoundRead(BaseSchema):
    id: uuid.UUID
    title: str
    region_code: str
    items: list[ItemIn]
    booking_opens_at: datetime
    booking_closes_at: datetime
    pickup_starts_at: datetime
    pickup_ends_at: datetime
    eligibility_regions: list[str]
    limit_per: str
    limit_label: str
    phase: str
    phase_label: str
    pickup_points: list[PickupPointRead]


class RoundPage(BaseSchema):
    items: list[RoundRead]
    next_cursor: str | None


class QuotaUpdate(BaseSchema):
    quota: int = Field(ge=0, le=1_000_000)
    slot_id: uuid.UUID | None = None


class BookingCreate(BaseSchema):
    pickup_point_id: uuid.UUID
    slot_id: uuid.UUID | None = None


class BookingCreated(BaseSchema):
    id: uuid.UUID
    pickup_code: str
    status: str
    status_label: str  # Chinese, from the catalog (as every ``*_label`` here)


class BookingRead(BaseSchema):
    id: uuid.UUID
    round_id: uuid.UUID
    round_title: str
    pickup_point_id: uuid.UUID
    pickup_point_name: str
    pickup_point_address: str
    slot_id: uuid.UUID
    status: str
    status_label: str
    pickup_code: str | None  # shown only while the booking can still be redeemed
    booked_at: datetime
    pickup_starts_at: datetime
    pickup_ends_at: datetime
    cancelled_at: datetime | None
    redeemed_at: datetime | None


class BookingPage(BaseSchema):
    items: list[BookingRead]
    next_cursor: str | None


class RedemptionCreate(BaseSchema):
    pickup_code: str = Field(min_length=10, max_length=80)
    pickup_point_id: uuid.UUID


class RedemptionRead(BaseSchema):
    booking_id: uuid.UUID
    round_id: uuid.UUID
    pickup_point_id: uuid.UUID
    status: str
    status_label: str
    redeemed_at: datetime
    items: list[ItemIn]


class PointStats(BaseSchema):
    pickup_point_id: uuid.UUID
    name: str
    quota: int
    booked: int
    redeemed: int
    cancelled: int
    no_show: int
    remaining: int


class RoundStats(BaseSchema):
    round_id: uuid.UUID
    phase: str
    phase_label: str
    quota: int
    booked: int
    redeemed: int
    cancelled: int
    no_show: int
    remaining: int
    points: list[PointStats]
