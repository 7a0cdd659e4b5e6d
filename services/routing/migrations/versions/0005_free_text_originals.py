"""Phone and ID numbers staff type into routing's free texts are stored and published masked;
where masking changed a text, the typed original is kept encrypted beside it (shared.pii),
readable only through an audited reveal (``text_reveals``).

- ``assignment_notes``: the note typed with a dispatch, transfer or escalation (masked), one
  per assignment of a case (``seq``), and its original when masked. Routing kept none before:
  the note travelled, in plaintext, only in ``routing.event_assigned``.
- ``extension_requests.reason_original``, ``subtasks.task_original``,
  ``subtasks.answer_original``: the typed text, encrypted, when masked.
- ``assignments.sensitive``: the case is a sensitive tip (from ``events.event_reported``),
  whose originals only supervisors and admins read. Cases routed before this revision read as
  not sensitive.

Rows written before this revision are masked by ``python -m services.routing.cli
mask-free-text``, which needs the service's PII keys (a migration has the database only)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.add_column("assignments", sa.Column("sensitive", sa.Boolean, nullable=False,
                                           server_default=sa.false()))
    op.add_column("extension_requests", sa.Column("reason_original", sa.Text))
    op.add_column("subtasks", sa.Column("task_original", sa.Text))
    op.add_column("subtasks", sa.Column("answer_original", sa.Text))
    op.create_table(
        "assignment_notes",
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("note_original", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "seq"),
    )
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
