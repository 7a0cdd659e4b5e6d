"""The monthly amount civil affairs grants at approval: what the monthly run pays."""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("applications", sa.Column("monthly_amount_fen", sa.BigInteger))
    op.create_check_constraint(
        "applications_monthly_amount_positive", "applications", "monthly_amount_fen > 0"
    )


def downgrade() -> None:
    op.drop_column("applications", "monthly_amount_fen")
