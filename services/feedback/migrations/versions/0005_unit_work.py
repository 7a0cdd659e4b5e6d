"""The work a unit did beyond its own cases, for its scorecard: the co-handling sub-tasks it
was asked for (answered on time, late, or timed out) and the supervisions (督办) it received
(replied on time, late, or gone overdue). One row per sub-task or supervision, filled in by
whichever of its messages arrives first: every column is set once, so redelivered and
reordered messages leave the same row."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0005"
down_revision = "0004"


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True))


def upgrade() -> None:
    op.create_table(
        "unit_subtasks",
        sa.Column("subtask_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("unit_id", UUID(as_uuid=True), nullable=False),
        _ts("asked_at"),
        _ts("due_at"),
        _ts("closed_at"),
        sa.Column("outcome", sa.String(16)),
    )
    op.create_index("unit_subtasks_asked_idx", "unit_subtasks", ["asked_at", "unit_id"])
    op.create_table(
        "unit_supervisions",
        sa.Column("supervision_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("unit_id", UUID(as_uuid=True), nullable=False),
        _ts("issued_at"),
        _ts("reply_by"),
        _ts("replied_at"),
        sa.Column("replied_late", sa.Boolean),
        _ts("overdue_at"),
    )
    op.create_index("unit_supervisions_issued_idx", "unit_supervisions",
                    ["issued_at", "unit_id"])
