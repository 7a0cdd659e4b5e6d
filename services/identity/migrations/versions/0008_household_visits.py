"""Household visits (入户走访) by grid workers, and when each registry person was last seen.

- ``household_visits``: one visit of a grid worker to a household of their grid, the registry
  people seen (``person_ids``), a note (phone and ID numbers masked; no original is kept),
  the photos as events' attachment ids (identity cannot check them, so it stores them as
  given), the location and the device's moment of the visit. The id may be made by the
  worker's app while offline: a retry with the same id finds the row, never makes a second.
- ``registry_people.last_visited_at``: the latest visit that saw the person, so a manager
  can ask who in a grid has not been visited.
- ``users.grid_work_at``: the moment of the latest message from routing about the account's
  grid work (enrolled, grids changed, left) applied to it, so a late one never undoes a newer;
  ``users.retired_by_leaving``: the account was disabled because the worker left, so a
  re-enrolment enables it again (an admin's own disable or enable clears it).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "household_visits",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("worker_id", UUID(as_uuid=True), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("household_id", sa.String(64)),
        sa.Column("person_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("attachment_ids", ARRAY(UUID(as_uuid=True)), nullable=False,
                  server_default="{}"),
        sa.Column("lat", sa.Float),
        sa.Column("lng", sa.Float),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
    )
    # The lists: a worker's own visits, and a region's (grid codes by prefix), newest first.
    op.create_index("household_visits_worker", "household_visits",
                    ["worker_id", sa.text("visited_at DESC"), sa.text("id DESC")])
    op.create_index("household_visits_grid", "household_visits",
                    ["grid_code", sa.text("visited_at DESC"), sa.text("id DESC")],
                    postgresql_ops={"grid_code": "varchar_pattern_ops"})
    op.add_column("registry_people",
                  sa.Column("last_visited_at", sa.DateTime(timezone=True)))
    op.add_column("users", sa.Column("grid_work_at", sa.DateTime(timezone=True)))
    op.add_column("users", sa.Column("retired_by_leaving", sa.Boolean, nullable=False,
                                     server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("users", "retired_by_leaving")
    op.drop_column("users", "grid_work_at")
    op.drop_column("registry_people", "last_visited_at")
    op.drop_table("household_visits")
