"""Grid duty: areas, rosters, check-ins, patrols and their points, daily logs (民情日志).

``grid_areas``: the polygon a manager drew for a grid (check-ins far outside it are flagged,
coverage is measured against it). ``duty_rosters``: who is on duty in a grid on a day.
``check_ins``: each check-in and check-out with the device's place and time, its distance
from the grid's area and whether it was flagged. ``patrols``: one walk, made under a
client-made id (so an offline retry is the same patrol). ``patrol_batches`` is the batch key
((patrol, batch_seq): a retried batch inserts nothing), ``patrol_points`` the points, one row
each, written by one statement per batch. ``duty_logs``: a worker's daily log, masked, its
typed original kept encrypted where masking changed it."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0011"
down_revision = "0010"


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _uuid(name: str, nullable: bool = False, **kw: object) -> sa.Column:
    return sa.Column(name, UUID(as_uuid=True), nullable=nullable, **kw)


def upgrade() -> None:
    op.create_table(
        "grid_areas",
        sa.Column("grid_code", sa.String(15), primary_key=True),
        sa.Column("polygon", JSONB, nullable=False),
        sa.Column("centre_lat", sa.Float, nullable=False),
        sa.Column("centre_lng", sa.Float, nullable=False),
        _uuid("updated_by"), _ts("updated_at"),
    )
    op.create_table(
        "duty_rosters",
        sa.Column("grid_code", sa.String(15), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("worker_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column("starts", sa.String(5)), sa.Column("ends", sa.String(5)),
        _uuid("updated_by"), _ts("updated_at"),
    )
    op.create_index("duty_rosters_workers", "duty_rosters", ["worker_ids"],
                    postgresql_using="gin")
    _check_ins()
    _patrols()
    op.create_table(
        "duty_logs",
        _uuid("id", primary_key=True), _uuid("worker_id"),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("text", sa.Text, nullable=False), sa.Column("text_original", sa.Text),
        _ts("recorded_at"),
    )
    op.create_index("duty_logs_worker_day", "duty_logs", ["worker_id", "day", "id"])
    op.create_index("duty_logs_grid_day", "duty_logs", ["grid_code", "day", "id"])


def _check_ins() -> None:
    op.create_table(
        "check_ins",
        _uuid("id", primary_key=True), _uuid("worker_id"),
        sa.Column("kind", sa.String(3), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=False), _ts("at"),
        sa.Column("lat", sa.Float, nullable=False), sa.Column("lng", sa.Float, nullable=False),
        sa.Column("accuracy_m", sa.Float), sa.Column("distance_m", sa.Float),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("flag_reason", sa.String(24)), _ts("recorded_at"),
    )
    op.create_index("check_ins_worker_at", "check_ins", ["worker_id", "at", "id"])
    op.create_index("check_ins_grid_at", "check_ins", ["grid_code", "at", "id"])


def _patrols() -> None:
    op.create_table(
        "patrols",
        _uuid("id", primary_key=True), _uuid("worker_id"),
        sa.Column("grid_code", sa.String(15), nullable=False), _ts("started_at"),
        _ts("ended_at", nullable=True),
        sa.Column("points", sa.Integer, nullable=False, server_default="0"),
        sa.Column("distance_m", sa.Float, nullable=False, server_default="0"),
        sa.Column("status", sa.String(12), nullable=False), _ts("created_at"),
    )
    op.create_index("patrols_worker_started", "patrols", ["worker_id", "started_at", "id"])
    op.create_index("patrols_grid_started", "patrols", ["grid_code", "started_at", "id"])
    op.create_table(
        "patrol_batches",
        _uuid("patrol_id", primary_key=True),
        sa.Column("batch_seq", sa.Integer, primary_key=True),
        sa.Column("points", sa.SmallInteger, nullable=False), _ts("received_at"),
    )
    op.create_table(
        "patrol_points",
        _uuid("patrol_id", primary_key=True),
        sa.Column("batch_seq", sa.Integer, primary_key=True),
        sa.Column("idx", sa.SmallInteger, primary_key=True),
        sa.Column("lat", sa.Float, nullable=False), sa.Column("lng", sa.Float, nullable=False),
        _ts("at"), sa.Column("accuracy_m", sa.REAL),
    )
