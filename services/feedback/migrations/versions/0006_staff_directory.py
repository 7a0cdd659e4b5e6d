"""Staff notices also go to the WeChat of the staff they concern.

- ``staff_directory``: identity's staff accounts as feedback addresses them (from
  ``identity.staff_directory_changed``): units, roles, region scopes, active, WeChat bound,
  and the version of the entry; an older version arriving late never replaces a newer one.
- ``notifications.staff_notice_id``: a row of the WeChat delivery queue (the same rows and
  sender as residents' messages) that carries a staff notice to one staff member; such rows
  are not part of anyone's resident inbox (the staff inbox is ``staff_notices``).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "staff_directory",
        sa.Column("staff_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("unit_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column("roles", ARRAY(sa.String(32)), nullable=False),
        sa.Column("regions", ARRAY(sa.String(15)), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("wechat_bound", sa.Boolean, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    # Only those a notice can reach are looked up: by unit, or by region scope.
    reachable = sa.text("active AND wechat_bound")
    op.create_index("staff_directory_units_idx", "staff_directory", ["unit_ids"],
                    postgresql_using="gin", postgresql_where=reachable)
    op.create_index("staff_directory_regions_idx", "staff_directory", ["regions"],
                    postgresql_using="gin", postgresql_where=reachable)
    op.add_column("notifications", sa.Column("staff_notice_id", UUID(as_uuid=True)))


def downgrade() -> None:
    op.drop_column("notifications", "staff_notice_id")
    op.drop_table("staff_directory")
