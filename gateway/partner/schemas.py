"""Request and response shapes of the open API (``/open/v1/...``)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class BaseSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Location(BaseSchema):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class PartnerEventCreate(BaseSchema):
    """An event reported for one of the partner's users. ``request_id`` is the partner's own
    id of this submission: sending it again answers the same case (idempotent)."""

    request_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    id_number: str | None = Field(None, max_length=32)
    phone: str | None = Field(None, max_length=20)
    category_code: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1, max_length=2000)
    region_code: str = Field(min_length=12, max_length=15)
    address: str | None = Field(None, max_length=200)
    location: Location | None = None
    urgency: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_identifier(self) -> PartnerEventCreate:
        if (self.id_number is None) == (self.phone is None):
            raise ValueError("identify the user by exactly one of id_number or phone")
        return self

    def content_hash(self) -> str:
        """Tells a retry from a different submission reusing the request id. The person's
        number is left out: a bare hash of a phone number is easily reversed."""
        canonical = json.dumps(self.event_body(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def event_body(self) -> dict[str, Any]:
        """What the events service is sent (the person's number stays here)."""
        return self.model_dump(mode="json", exclude={"request_id", "id_number", "phone"},
                               exclude_none=True)


class PartnerEventCreated(BaseSchema):
    event_id: uuid.UUID
    case_no: str
    status: str
    request_id: str


class PartnerEventSummary(BaseSchema):
    event_id: uuid.UUID
    case_no: str
    status: str
    request_id: str
    created_at: datetime


class PartnerEventPage(BaseSchema):
    items: list[PartnerEventSummary]
    next_cursor: str | None = None


class ChangeRead(BaseSchema):
    seq: int
    event_id: uuid.UUID
    case_no: str
    type: str
    from_status: str | None
    to_status: str
    action: str
    step: int  # the case's own step number: orders two changes of one event
    at: datetime


class ChangePage(BaseSchema):
    items: list[ChangeRead]
    next_cursor: str  # always given: poll again with it to see later changes


class SubscriptionCreate(BaseSchema):
    event_types: list[str] = Field(min_length=1, max_length=10)
    callback_url: str = Field(min_length=8, max_length=500)


class SubscriptionRead(BaseSchema):
    id: uuid.UUID
    event_types: list[str]
    callback_url: str
    created_at: datetime


class SubscriptionPage(BaseSchema):
    items: list[SubscriptionRead]
    next_cursor: str | None = None


class DeliveryRead(BaseSchema):
    id: uuid.UUID
    event_type: str
    seq: int
    status: str  # pending | delivered | dead
    attempts: int
    callback_url: str
    last_status_code: int | None
    last_latency_ms: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None


class DeliveryPage(BaseSchema):
    items: list[DeliveryRead]
    next_cursor: str | None = None
