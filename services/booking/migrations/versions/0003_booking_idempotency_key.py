"""Bookings remember the client's Idempotency-Key: a retry with it replays the booking."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("bookings", sa.Column("idempotency_key", sa.String(128)))
