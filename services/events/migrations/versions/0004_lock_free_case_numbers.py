"""Case numbers from a sequence: a per-day counter row serialised every report on its lock.
``case_days`` records the sequence value where each day starts; a day's number is the
distance from it. Numbers stay unique per day; a failed report may leave a gap."""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.execute("CREATE SEQUENCE case_no_seq")
    op.create_table(
        "case_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("base", sa.BigInteger, nullable=False),
    )
    op.drop_table("case_counters")
