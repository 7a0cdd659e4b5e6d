"""Outbox, inbox and idempotency keys of the partner schema."""

from alembic import op

from shared.messaging.tables import create_platform_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_platform_tables(op)
