"""The staff inbox: supervision (督办) and escalation notices addressed to a role and a region
(every staff member of that role whose scope covers the region sees them), with per-reader
read marks."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "staff_notices",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("audience", ARRAY(sa.String(32)), nullable=False),
        sa.Column("region_code", sa.String(15), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("unit_id", UUID(as_uuid=True)),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("body", sa.String(500), nullable=False),
        # What caused it (a supervision record, a message): one notice per cause.
        sa.Column("source_key", sa.String(200), nullable=False, unique=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("staff_notices_region_idx", "staff_notices",
                    ["region_code", "created_at", "id"])
    op.create_table(
        "staff_notice_reads",
        sa.Column("notice_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
    )
