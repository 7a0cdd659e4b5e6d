"""Directory (regions, units, grid workers), rules with their audit, SLA policies, calendar
overrides, assignments, timers, supervisions, extension requests and co-handling sub-tasks."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0002"
down_revision = "0001"


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("code", sa.String(15), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("parent_code", sa.String(15), index=True),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "units",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("region_code", sa.String(15), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.UniqueConstraint("region_code", "kind"),
    )
    op.create_table(
        "grid_workers",
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "grid_code"),
    )
    op.create_table(
        "rules",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("category_code", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("unit_kind", sa.String(40), nullable=False),
        sa.Column("entry", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        _ts("updated_at", nullable=False),
        sa.UniqueConstraint("category_code", "level"),
    )
    op.create_table(
        "rule_audit",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("rule_id", UUID(as_uuid=True), nullable=False, index=True),
        _ts("at", nullable=False),
        sa.Column("actor_id", UUID(as_uuid=True)),
        sa.Column("before", JSONB),
        sa.Column("after", JSONB),
    )
    op.create_table(
        "sla_policies",
        sa.Column("category_code", sa.String(64), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("accept_hours", sa.Float, nullable=False),
        sa.Column("resolve_amount", sa.Float, nullable=False),
        sa.Column("resolve_unit", sa.String(8), nullable=False),
        sa.Column("auto_escalate", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("category_code", "urgency"),
    )
    op.create_table(
        "calendar_overrides",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("workday", sa.Boolean, nullable=False),
        sa.Column("note", sa.String(200)),
    )
    op.create_table(
        "assignments",
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("case_no", sa.String(32), nullable=False),
        sa.Column("category_code", sa.String(64), nullable=False),
        sa.Column("major_risk", sa.String(64), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("region_code", sa.String(15), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("unit_id", UUID(as_uuid=True), index=True),
        sa.Column("seq", sa.Integer, nullable=False, server_default="0"),
        sa.Column("queued", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("queue_reason", sa.String(32)),
        _ts("accept_by"),
        _ts("resolve_by"),
        _ts("assigned_at"),
        _ts("updated_at", nullable=False),
    )
    op.create_index("ix_assignments_queue", "assignments", ["queued", "region_code"])
    op.create_table(
        "timers",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),  # accept | resolve | subtask
        sa.Column("fraction", sa.Float, nullable=False),  # < 1 reminder, 1 deadline
        _ts("fire_at", nullable=False),
        _ts("deadline", nullable=False),
        sa.Column("unit_id", UUID(as_uuid=True), nullable=False),
        sa.Column("subtask_id", UUID(as_uuid=True)),
        sa.Column("seq", sa.Integer, nullable=False),
        _ts("fired_at"),
        _ts("cancelled_at"),
    )
    op.create_index(
        "ix_timers_due", "timers", ["fire_at"],
        postgresql_where=sa.text("fired_at IS NULL AND cancelled_at IS NULL"),
    )
    op.create_table(
        "supervisions",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("unit_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _ts("deadline", nullable=False),
        sa.Column("supervisor_region_code", sa.String(15), nullable=False),
        sa.Column("auto_escalated", sa.Boolean, nullable=False),
        _ts("created_at", nullable=False),
    )
    op.create_table(
        "extension_requests",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("unit_id", UUID(as_uuid=True), nullable=False),
        sa.Column("extra_working_hours", sa.Float, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", UUID(as_uuid=True), nullable=False),
        sa.Column("decided_by", UUID(as_uuid=True)),
        _ts("created_at", nullable=False),
        _ts("decided_at"),
    )
    op.create_table(
        "subtasks",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("lead_unit_id", UUID(as_uuid=True), nullable=False),
        sa.Column("unit_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("task", sa.Text, nullable=False),
        _ts("due_at", nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answer", sa.Text),
        _ts("created_at", nullable=False),
        _ts("closed_at"),
    )
