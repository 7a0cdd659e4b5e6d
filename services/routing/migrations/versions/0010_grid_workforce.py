"""Grid workers' working life: profiles, training, tasks from above and verification duties.

``grid_worker_profiles``: one row per grid worker (网格员 or part-time 网格协管员) a manager
enrolled: kind, grids, start date, phone (encrypted; shown masked), and when they left, to
whom their open work went. ``grid_workers`` (0002) stays the membership of active workers
in their grids. ``grid_worker_trainings``: courses taken (the note masked, its original
encrypted). ``grid_tasks``: tasks a manager gives a grid or a worker, and verification
duties (核查) the platform gives a worker of the grid when a case there waits for its
on-site check (one per case and result submission: ``source_step``); evidence of completion.
``grid_task_trail``: every creation, hand-over, completion and cancellation, and who did it.
``grid_case_checks``: the last verification step seen per case, so a verification that
arrives before the result submission it answers leaves no duty behind. ``staff_accounts``:
identity's staff accounts as ``identity.staff_directory_changed`` announces them (roles,
active, version), so an enrolment names a grid worker's account."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0010"
down_revision = "0009"


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    _profiles_and_trainings()
    _tasks()
    _case_checks_and_staff_accounts()


def _profiles_and_trainings() -> None:
    op.create_table(
        "grid_worker_profiles",
        sa.Column("user_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("grid_codes", ARRAY(sa.String(15)), nullable=False),
        sa.Column("started_on", sa.Date, nullable=False),
        sa.Column("phone", sa.Text),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("left_on", sa.Date),
        sa.Column("successor_id", UUID(as_uuid=True)),
        sa.Column("left_reason", sa.Text),
        sa.Column("left_reason_original", sa.Text),
        sa.Column("enrolled_by", UUID(as_uuid=True)),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
    )
    op.create_index("grid_worker_profiles_grids", "grid_worker_profiles", ["grid_codes"],
                    postgresql_using="gin")
    op.create_index("grid_worker_profiles_listing", "grid_worker_profiles",
                    ["created_at", "user_id"])
    op.create_table(
        "grid_worker_trainings",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("course", sa.String(200), nullable=False),
        sa.Column("held_on", sa.Date, nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("hours", sa.Float),
        sa.Column("note", sa.Text),
        sa.Column("note_original", sa.Text),
        sa.Column("recorded_by", UUID(as_uuid=True), nullable=False),
        _ts("recorded_at", nullable=False),
    )


def _tasks() -> None:
    op.create_table(
        "grid_tasks",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("detail_original", sa.Text),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("worker_id", UUID(as_uuid=True)),
        sa.Column("event_id", UUID(as_uuid=True)),
        sa.Column("case_no", sa.String(32)),
        sa.Column("source_step", sa.BigInteger),
        _ts("due_at", nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", UUID(as_uuid=True)),
        _ts("created_at", nullable=False),
        _ts("completed_at"),
        sa.Column("completed_by", UUID(as_uuid=True)),
        sa.Column("on_time", sa.Boolean),
        sa.Column("evidence", JSONB),
        sa.Column("evidence_note_original", sa.Text),
    )
    op.create_index("grid_tasks_worker", "grid_tasks", ["worker_id", "status", "due_at", "id"])
    op.create_index("grid_tasks_grid", "grid_tasks", ["grid_code", "status", "due_at", "id"])
    op.create_index("grid_tasks_case", "grid_tasks", ["event_id"],
                    postgresql_where=sa.text("event_id IS NOT NULL"))
    # One verification duty per case and result submission: a redelivered or replayed
    # submission never makes a second one.
    op.create_index("grid_tasks_one_duty", "grid_tasks", ["event_id", "source_step"],
                    unique=True, postgresql_where=sa.text("kind = 'verification'"))
    op.create_table(
        "grid_task_trail",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("task_id", UUID(as_uuid=True), nullable=False, index=True),
        _ts("at", nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor_id", UUID(as_uuid=True)),
        sa.Column("from_worker_id", UUID(as_uuid=True)),
        sa.Column("to_worker_id", UUID(as_uuid=True)),
        sa.Column("note", sa.Text),
    )


def _case_checks_and_staff_accounts() -> None:
    op.create_table(
        "grid_case_checks",
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("verified_step", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "staff_accounts",
        sa.Column("staff_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("roles", ARRAY(sa.String(24)), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
