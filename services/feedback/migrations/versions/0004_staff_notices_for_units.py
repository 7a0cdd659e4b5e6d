"""Staff notices addressed to a unit: a new case in its queue, a deadline warning, a 督办,
a co-handling request. Feedback holds no staff list (identity owns accounts and publishes
none), so a unit's notice is one row every staff member of that unit sees, with per-reader
read marks as before. Such a notice may precede any fact naming its region: region_code
becomes optional."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.add_column("staff_notices", sa.Column("addressed_unit_id", UUID(as_uuid=True)))
    op.alter_column("staff_notices", "region_code", nullable=True)
    op.create_index("staff_notices_unit_idx", "staff_notices",
                    ["addressed_unit_id", "created_at", "id"],
                    postgresql_where=sa.text("addressed_unit_id IS NOT NULL"))

