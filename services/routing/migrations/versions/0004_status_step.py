"""The events step the status mirror was last set from, so a late older change is ignored."""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.add_column("assignments",
                  sa.Column("status_step", sa.BigInteger, nullable=False, server_default="0"))
