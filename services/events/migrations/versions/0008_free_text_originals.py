"""Phone and ID numbers typed into free text are stored masked; the originals, where something
was masked, are kept encrypted beside them (shared.pii), readable only through an audited
reveal (``text_reveals``).

- ``cases.text_originals``: ``{"description": <cipher>, "address": …, "fields": {key: …},
  "result": …}``, only the texts that had a number in them; NULL when none had.
- ``timeline.note_original``: the typed note (reason, note, result) of a step, when masked.

Rows written before this revision are masked by ``python -m services.events.text_backfill``,
which needs the service's PII keys (a migration has the database only)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.add_column("cases", sa.Column("text_originals", JSONB, nullable=True))
    op.add_column("timeline", sa.Column("note_original", sa.Text, nullable=True))
    op.create_table(
        "text_reveals",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("revealed_by", UUID(as_uuid=True), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("request_id", sa.String(128)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
