"""Sub-task answers an assisting unit gives from its own queue (部门协同).

``subtasks.answered_by``: the staff member who answered; ``subtasks.answer_attachment_ids``:
the attachments (events' ids) the answer points at. The queue index serves an assisting
unit's list, nearest due first, by keyset (due_at, id)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.add_column("subtasks", sa.Column("answered_by", UUID(as_uuid=True)))
    op.add_column("subtasks", sa.Column("answer_attachment_ids", ARRAY(UUID(as_uuid=True))))
    op.create_index("subtasks_unit_queue", "subtasks", ["unit_id", "due_at", "id"])

