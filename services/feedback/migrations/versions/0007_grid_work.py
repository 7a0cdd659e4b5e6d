"""Grid workers' work, for their monthly figures and scorecards (#19).

- ``grid_workers``: routing's grid workers as feedback names them (kind, grids, name when
  given, active or left), from ``routing.grid_worker_enrolled`` / ``grid_worker_left``; the
  message with the latest ``at`` wins, so a late redelivery never undoes a newer change.
- ``grid_work_items``: one row per counted piece of work (a report, a completed task or
  verification, a household visit, a finished patrol), keyed by what it is (``task:<id>``,
  ``visit:<id>``...), not by message: a redelivered or republished message adds nothing.
  ``month`` is its Asia/Shanghai month, ``region_code`` where it happened (a grid when
  known).
- ``grid_residents``: residents a worker entered into the registry, and when each was
  verified; filled in by whichever message arrives first (entry or verification).
- ``grid_score_weights``: the one set of scorecard weights an admin set (none: defaults).
- ``staff_notices``: a notice may be addressed to one staff member (a grid worker's task)
  and concern a grid task rather than a case.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0007"
down_revision = "0006"


def _ts(name: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "grid_workers",
        sa.Column("user_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("display_name", sa.String(100)),
        sa.Column("kind", sa.String(16)),
        sa.Column("grid_codes", ARRAY(sa.String(15)), nullable=False),
        sa.Column("started_on", sa.Date),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("left_on", sa.Date),
        _ts("changed_at", nullable=False),
    )
    op.create_index("grid_workers_grids_idx", "grid_workers", ["grid_codes"],
                    postgresql_using="gin")
    op.create_table(
        "grid_work_items",
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("worker_id", UUID(as_uuid=True), nullable=False),
        sa.Column("region_code", sa.String(15)),
        sa.Column("month", sa.String(7), nullable=False),
        _ts("at", nullable=False),
        sa.Column("on_time", sa.Boolean),
        sa.Column("hours", sa.Float),
        sa.Column("distance_m", sa.Float),
    )
    op.create_index("grid_work_items_month_idx", "grid_work_items",
                    ["month", "region_code", "worker_id"])
    op.create_table(
        "grid_residents",
        sa.Column("registry_person_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("entered_by", UUID(as_uuid=True)),
        sa.Column("region_code", sa.String(15)),
        sa.Column("month", sa.String(7)),
        _ts("entered_at"),
        _ts("verified_at"),
    )
    op.create_index("grid_residents_month_idx", "grid_residents",
                    ["month", "region_code", "entered_by"])
    op.create_table(
        "grid_score_weights",
        sa.Column("id", sa.SmallInteger, primary_key=True),
        sa.Column("weights", JSONB, nullable=False),
        sa.Column("updated_by", UUID(as_uuid=True), nullable=False),
        _ts("updated_at", nullable=False),
    )
    op.add_column("staff_notices", sa.Column("addressed_user_id", UUID(as_uuid=True)))
    op.add_column("staff_notices", sa.Column("grid_task_id", UUID(as_uuid=True)))
    op.alter_column("staff_notices", "event_id", nullable=True)
    op.create_index("staff_notices_user_idx", "staff_notices",
                    ["addressed_user_id", "created_at"],
                    postgresql_where=sa.text("addressed_user_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("staff_notices_user_idx", "staff_notices")
    op.execute("DELETE FROM staff_notices WHERE event_id IS NULL")
    op.alter_column("staff_notices", "event_id", nullable=False)
    op.drop_column("staff_notices", "grid_task_id")
    op.drop_column("staff_notices", "addressed_user_id")
    op.drop_table("grid_score_weights")
    op.drop_table("grid_residents")
    op.drop_table("grid_work_items")
    op.drop_table("grid_workers")
