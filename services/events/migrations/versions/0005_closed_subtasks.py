"""Remember closed co-handling sub-tasks, so a close delivered before its start is not lost."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.add_column(
        "cases",
        sa.Column("closed_subtasks", ARRAY(UUID(as_uuid=True)), nullable=False,
                  server_default="{}"),
    )
