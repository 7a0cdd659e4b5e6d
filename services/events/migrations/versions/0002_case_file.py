"""The case file: categories, known regions, cases, timeline, attachments, counters, reveals."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "0002"
down_revision = "0001"


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("parent_code", sa.String(64)),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("major_risk", sa.String(64), nullable=False),
        sa.Column("default_urgency", sa.String(16), nullable=False),
        sa.Column("sensitive", sa.Boolean, nullable=False),
        sa.Column("verified_only", sa.Boolean, nullable=False),
        sa.Column("template", JSONB, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("sort", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "known_regions",
        sa.Column("code", sa.String(15), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.create_table(
        "cases",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
        sa.Column("case_no", sa.String(32), nullable=False, unique=True),
        sa.Column("category_code", sa.String(64), nullable=False),
        sa.Column("major_risk", sa.String(64), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("sensitive", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("region_code", sa.String(15), nullable=False),
        sa.Column("address", sa.String(300)),
        sa.Column("lat", sa.Float),
        sa.Column("lng", sa.Float),
        sa.Column("fields", JSONB, nullable=False),
        sa.Column("attachment_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
        sa.Column("reporter_id", UUID(as_uuid=True), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("on_behalf", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("assignee_unit_id", UUID(as_uuid=True)),
        sa.Column("assignee_unit_name", sa.String(200)),
        sa.Column("assignee_unit_level", sa.String(16)),
        sa.Column("assign_seq", sa.Integer, nullable=False, server_default="0"),
        _ts("accept_by"),
        _ts("resolve_by"),
        sa.Column("dispatch_trail", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("result_recorded", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("result_text", sa.Text),
        sa.Column("open_subtasks", ARRAY(UUID(as_uuid=True)), nullable=False,
                  server_default="{}"),
        sa.Column("co_units", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
        sa.Column("handling_unit_ids", ARRAY(UUID(as_uuid=True)), nullable=False,
                  server_default="{}"),
        sa.Column("rating", sa.String(24)),
        sa.Column("possible_duplicate_of", UUID(as_uuid=True)),
        sa.Column("escalation_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("return_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rework_count", sa.Integer, nullable=False, server_default="0"),
        _ts("reported_at", nullable=False),
        _ts("first_dispatched_at"),
        _ts("accepted_at"),
        _ts("result_submitted_at"),
        _ts("closed_at"),
        _ts("closed_loop_at"),
        _ts("updated_at", nullable=False),
    )
    op.create_index("ix_cases_reporter", "cases", ["reporter_id", "seq"])
    op.create_index("ix_cases_assignee", "cases", ["assignee_unit_id", "seq"])
    op.create_index("ix_cases_region", "cases", ["region_code", "seq"])
    op.create_index("ix_cases_dup", "cases", ["category_code", "reported_at"])
    op.create_table(
        "timeline",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, index=True),
        _ts("at", nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("actor_role", sa.String(24), nullable=False),
        sa.Column("actor_id", UUID(as_uuid=True)),
        sa.Column("actor_unit_id", UUID(as_uuid=True)),
        sa.Column("actor_unit", sa.String(200)),
        sa.Column("from_status", sa.String(24)),
        sa.Column("to_status", sa.String(24)),
        sa.Column("note", sa.Text),
    )
    op.create_table(
        "attachments",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("owner_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), index=True),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False),
        _ts("created_at", nullable=False),
    )
    op.create_table(
        "case_counters",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )
    op.create_table(
        "reporter_reveals",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, index=True),
        sa.Column("revealed_by", UUID(as_uuid=True), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        _ts("at", nullable=False),
    )
