"""Admins manage units (create, rename, move, retire) and the categories each handles.

- ``units.categories``: the category codes a unit handles; empty means every category a rule
  sends to its kind (the seeded units). A unit with categories receives, through the rules,
  only cases of those categories.
- ``units.created_at`` (the list's keyset) and ``units.retired_at``.
- A retired unit no longer holds its region and kind: the unique key on ``(region_code, kind)``
  becomes a unique index over active units, so a successor can be created in its place.
- ``unit_audit``: every create, rename, move, re-categorisation and retirement, with its actor
  and the unit before and after (cases keep pointing at the unit id, so the history explains
  which name a case's unit had)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.add_column("units", sa.Column("categories", ARRAY(sa.String(64)), nullable=False,
                                     server_default="{}"))
    op.add_column("units", sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                                     server_default=sa.func.now()))
    op.add_column("units", sa.Column("retired_at", sa.DateTime(timezone=True)))
    op.drop_constraint("units_region_code_kind_key", "units", type_="unique")
    op.create_index("units_active_region_kind", "units", ["region_code", "kind"], unique=True,
                    postgresql_where=sa.text("active"))
    op.create_table(
        "unit_audit",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("unit_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", UUID(as_uuid=True)),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("before", JSONB),
        sa.Column("after", JSONB),
    )

