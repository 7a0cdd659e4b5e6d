"""Rounds, pickup points, slots, quota stripes, bookings and the eligibility read model.

Invariants live here, in the database:
- ``quota_stripes``: ``0 <= taken <= capacity`` (CHECK). A slot's quota is the sum of its
  stripes' capacities, so no interleaving of bookings can hand out more units than the quota.
- ``bookings``: at most one live (confirmed or redeemed) booking per holder per round (partial
  unique index). The holder is the person or, in one-per-household rounds, the household.
- Bookings carry no foreign key to rounds or stripes on purpose: an FK check takes a KEY SHARE
  lock on the parent row, and thousands of concurrent bookings sharing one round row would
  turn it into a MultiXact hot spot. Stripe ids come from the conditional UPDATE's RETURNING.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0002"
down_revision = "0001"


def _ts(name: str, *, nullable: bool = False, now: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if now else None,
    )


def upgrade() -> None:
    op.create_table(
        "eligible_residents",
        sa.Column("user_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("region_code", sa.String(15)),
        sa.Column("household_id", sa.String(64)),
        _ts("verified_at"),
        _ts("updated_at", now=True),
    )
    op.create_table(
        "rounds",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("region_code", sa.String(15), nullable=False),
        sa.Column("items", JSONB, nullable=False),
        sa.Column("eligibility_regions", ARRAY(sa.String(15)), nullable=False),
        sa.Column("limit_per", sa.String(16), nullable=False),
        _ts("booking_opens_at"),
        _ts("booking_closes_at"),
        _ts("pickup_starts_at"),
        _ts("pickup_ends_at"),
        sa.Column("created_by", UUID(as_uuid=True), nullable=False),
        _ts("created_at", now=True),
        _ts("no_shows_released_at", nullable=True),
        sa.CheckConstraint("limit_per IN ('person', 'household')", name="rounds_limit_per"),
        sa.CheckConstraint("booking_opens_at < booking_closes_at", name="rounds_booking_window"),
        sa.CheckConstraint("pickup_starts_at < pickup_ends_at", name="rounds_pickup_window"),
        sa.CheckConstraint("booking_closes_at <= pickup_ends_at", name="rounds_windows_order"),
    )
    op.create_index(
        "rounds_pickup_ends_idx",
        "rounds",
        ["pickup_ends_at"],
        postgresql_where=sa.text("no_shows_released_at IS NULL"),
    )
    op.create_table(
        "pickup_points",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("round_id", UUID(as_uuid=True), sa.ForeignKey("rounds.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(400), nullable=False, server_default=""),
        sa.Column("region_code", sa.String(15), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index("pickup_points_round_idx", "pickup_points", ["round_id", "position"])
    op.create_table(
        "slots",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("round_id", UUID(as_uuid=True), sa.ForeignKey("rounds.id"), nullable=False),
        sa.Column(
            "point_id", UUID(as_uuid=True), sa.ForeignKey("pickup_points.id"), nullable=False
        ),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.CheckConstraint("starts_at < ends_at", name="slots_window"),
    )
    op.create_index("slots_point_idx", "slots", ["point_id", "starts_at"])
    op.create_table(
        "quota_stripes",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("slot_id", UUID(as_uuid=True), sa.ForeignKey("slots.id"), nullable=False),
        sa.Column("point_id", UUID(as_uuid=True), nullable=False),
        sa.Column("round_id", UUID(as_uuid=True), nullable=False),
        sa.Column("stripe_no", sa.SmallInteger, nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("taken", sa.Integer, nullable=False, server_default="0"),
        sa.CheckConstraint("taken >= 0 AND taken <= capacity", name="quota_never_oversold"),
        sa.UniqueConstraint("slot_id", "stripe_no", name="quota_stripes_slot_stripe"),
        # Room on each page for HOT updates: `taken` changes on every booking.
        postgresql_with={"fillfactor": "50"},
    )
    op.create_index("quota_stripes_point_idx", "quota_stripes", ["point_id"])
    op.create_table(
        "bookings",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("round_id", UUID(as_uuid=True), nullable=False),
        sa.Column("point_id", UUID(as_uuid=True), nullable=False),
        sa.Column("slot_id", UUID(as_uuid=True), nullable=False),
        sa.Column("stripe_id", sa.BigInteger, nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("holder_key", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="confirmed"),
        _ts("booked_at", now=True),
        _ts("cancelled_at", nullable=True),
        _ts("redeemed_at", nullable=True),
        sa.Column("redeemed_by", UUID(as_uuid=True)),
        _ts("released_at", nullable=True),
        sa.CheckConstraint(
            "status IN ('confirmed', 'redeemed', 'cancelled', 'no_show')", name="bookings_status"
        ),
    )
    op.create_index(
        "bookings_one_live_per_holder",
        "bookings",
        ["round_id", "holder_key"],
        unique=True,
        postgresql_where=sa.text("status IN ('confirmed', 'redeemed')"),
    )
    op.create_index("bookings_user_idx", "bookings", ["user_id", "booked_at"])
    op.create_index("bookings_round_status_idx", "bookings", ["round_id", "status"])
