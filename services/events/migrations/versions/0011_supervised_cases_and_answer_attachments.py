"""Cases under manual supervision (督办) for the staff search, and the units an uploader
belonged to, so an assisting unit's answer links only its own staff's attachments.

``case_supervisions`` keeps each supervision once by id with whether it still awaits its
reply, so routing's messages apply twice or out of order alike; ``cases.supervised`` is
whether any is open (the filter reads the case row, as the other filters do)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_table(
        "case_supervisions",
        sa.Column("supervision_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("open", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_case_supervisions_open", "case_supervisions", ["event_id"],
                    postgresql_where=sa.text("open"))
    op.add_column("cases", sa.Column("supervised", sa.Boolean, nullable=False,
                                     server_default=sa.false()))
    op.create_index("ix_cases_supervised", "cases", ["reported_at"],
                    postgresql_where=sa.text("supervised"))
    op.add_column("attachments", sa.Column("owner_unit_ids", ARRAY(UUID(as_uuid=True))))
