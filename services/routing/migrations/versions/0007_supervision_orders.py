"""Manual supervision (人工督办): a supervisor's instruction to the unit holding a case.

``supervision_orders``: one row per instruction, its level (reminder 提醒, supervision 督办,
listed 挂牌督办), the unit it addresses, its reply-by time and state (open, replied, overdue).
The instruction and the reply are stored masked, the typed originals encrypted beside them,
as routing's other free texts. An open order whose reply-by passed is claimed by the
supervision worker (the partial index keeps that scan on open orders only)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "supervision_orders",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("case_no", sa.String(32), nullable=False),
        sa.Column("region_code", sa.String(15), nullable=False),
        sa.Column("unit_id", UUID(as_uuid=True), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("instruction", sa.Text, nullable=False),
        sa.Column("instruction_original", sa.Text),
        sa.Column("reply_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("issued_by", UUID(as_uuid=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reply", sa.Text),
        sa.Column("reply_original", sa.Text),
        sa.Column("replied_by", UUID(as_uuid=True)),
        sa.Column("replied_at", sa.DateTime(timezone=True)),
        sa.Column("overdue_at", sa.DateTime(timezone=True)),
        sa.Column("escalated_region_code", sa.String(15)),
    )
    op.create_index("supervision_orders_unit_queue", "supervision_orders",
                    ["unit_id", "reply_by", "id"])
    op.create_index("supervision_orders_region_created", "supervision_orders",
                    ["region_code", "created_at", "id"])
    op.create_index("supervision_orders_open_due", "supervision_orders", ["reply_by"],
                    postgresql_where=sa.text("status = 'open'"))
