"""The booking schema's tables, as SQLAlchemy Core objects (see migration 0002)."""

from __future__ import annotations

from typing import Any, TypeAlias

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Row,
    SmallInteger,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = MetaData()

# A row of any shape as a Core query returns it (columns as attributes).
AnyRow: TypeAlias = "Row[*tuple[Any, ...]]"


def _ts(name: str) -> Column:
    return Column(name, DateTime(timezone=True))


eligible_residents = Table(
    "eligible_residents",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("region_code", String(15)),
    Column("household_id", String(64)),
    _ts("verified_at"),
    _ts("updated_at"),
)

rounds = Table(
    "rounds",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("title", String(200)),
    Column("region_code", String(15)),
    Column("items", JSONB),
    Column("eligibility_regions", ARRAY(String(15))),
    Column("limit_per", String(16)),
    _ts("booking_opens_at"),
    _ts("booking_closes_at"),
    _ts("pickup_starts_at"),
    _ts("pickup_ends_at"),
    Column("created_by", UUID(as_uuid=True)),
    _ts("created_at"),
    _ts("no_shows_released_at"),
)

pickup_points = Table(
    "pickup_points",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("round_id", UUID(as_uuid=True), ForeignKey("rounds.id")),
    Column("name", String(200)),
    Column("address", String(400)),
    Column("region_code", String(15)),
    Column("position", Integer),
)

slots = Table(
    "slots",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("round_id", UUID(as_uuid=True)),
    Column("point_id", UUID(as_uuid=True)),
    _ts("starts_at"),
    _ts("ends_at"),
)

quota_stripes = Table(
    "quota_stripes",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("slot_id", UUID(as_uuid=True)),
    Column("point_id", UUID(as_uuid=True)),
    Column("round_id", UUID(as_uuid=True)),
    Column("stripe_no", SmallInteger),
    Column("capacity", Integer),
    Column("taken", Integer),
)

bookings = Table(
    "bookings",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("round_id", UUID(as_uuid=True)),
    Column("point_id", UUID(as_uuid=True)),
    Column("slot_id", UUID(as_uuid=True)),
    Column("stripe_id", BigInteger),
    Column("user_id", UUID(as_uuid=True)),
    Column("holder_key", String(80)),
    Column("idempotency_key", String(128)),
    Column("status", String(16)),
    _ts("booked_at"),
    _ts("cancelled_at"),
    _ts("redeemed_at"),
    Column("redeemed_by", UUID(as_uuid=True)),
    _ts("released_at"),
)
