"""The reporter of a sensitive case, sealed for the feedback service (see
shared.contracts.events.ReporterSeal). Cases reported before this stay without one."""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.add_column("cases", sa.Column("reporter_sealed", sa.Text(), nullable=True))
