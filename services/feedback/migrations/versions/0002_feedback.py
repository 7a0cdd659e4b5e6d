"""Feedback read models: case facts and their per-case summaries, units, ratings,
notifications (with their WeChat delivery state), the WeChat sandbox record, hotspots.

``case_facts`` keeps every fact learnt from the bus (one row per message); a case's summary
is recomputed from all its facts, so the order in which messages arrive does not matter.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0002"
down_revision = "0001"


def _ts(name: str, *, nullable: bool = True, now: bool = False) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if now else None,
    )


def upgrade() -> None:
    op.create_table(
        "case_facts",
        sa.Column("message_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        _ts("at", nullable=False),
        sa.Column("payload", JSONB, nullable=False),
    )
    op.create_index("case_facts_event_idx", "case_facts", ["event_id"])

    op.create_table(
        "case_summaries",
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("case_no", sa.String(40)),
        sa.Column("category_code", sa.String(64)),
        sa.Column("major_risk", sa.String(64)),
        sa.Column("urgency", sa.String(16)),
        sa.Column("region_code", sa.String(15)),
        sa.Column("sensitive", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reporter_id", UUID(as_uuid=True)),
        _ts("reported_at"),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("unit_id", UUID(as_uuid=True)),
        _ts("accept_by"),
        _ts("accepted_at"),
        _ts("resolve_by"),
        _ts("result_at"),
        _ts("closed_at"),  # the latest closure
        sa.Column("closure_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("is_closed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("rating", sa.String(24)),  # of the latest closure
        sa.Column("rating_default", sa.Boolean),
        _ts("rated_at"),
        sa.Column("closed_loop", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("rework_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("handling_hours", sa.Float),
        _ts("updated_at", nullable=False, now=True),
    )
    op.create_index("case_summaries_reported_idx", "case_summaries", ["reported_at"])
    op.create_index(
        "case_summaries_unit_idx", "case_summaries", ["unit_id", "reported_at"]
    )
    op.create_index(
        "case_summaries_region_idx",
        "case_summaries",
        [sa.text("region_code varchar_pattern_ops"), "reported_at"],
    )
    op.create_index(
        "case_summaries_unrated_idx",
        "case_summaries",
        ["closed_at"],
        postgresql_where=sa.text("is_closed AND rating IS NULL"),
    )
    op.create_index(
        "case_summaries_open_idx",
        "case_summaries",
        ["resolve_by"],
        postgresql_where=sa.text("NOT is_closed AND status NOT IN ('rejected', 'rated')"),
    )

    op.create_table(
        "units",
        sa.Column("unit_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("region_code", sa.String(15), nullable=False),
        _ts("seen_at", nullable=False),
    )

    op.create_table(
        "ratings",
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        _ts("closure_closed_at", nullable=False),
        sa.Column("closure_seq", sa.Integer, nullable=False),
        sa.Column("rating", sa.String(24), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("default_applied", sa.Boolean, nullable=False),
        _ts("rated_at", nullable=False),
        sa.Column("rater_id", UUID(as_uuid=True)),
        sa.PrimaryKeyConstraint("event_id", "closure_closed_at"),
    )

    op.create_table(
        "notifications",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True)),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("body", sa.String(500), nullable=False),
        sa.Column("source_key", sa.String(200), nullable=False, unique=True),
        _ts("created_at", nullable=False, now=True),
        _ts("read_at"),
        sa.Column("template", sa.String(32), nullable=False),  # case_progress | case_closed
        sa.Column("page", sa.String(200), nullable=False),
        sa.Column("wechat_data", JSONB, nullable=False),
        # pending | sent | sandbox | not_subscribed | no_account | failed
        sa.Column("wechat_status", sa.String(16), nullable=False),
        sa.Column("wechat_attempts", sa.Integer, nullable=False, server_default="0"),
        _ts("wechat_next_at"),
        sa.Column("wechat_error", sa.String(300)),
    )
    op.create_index(
        "notifications_user_idx", "notifications", ["user_id", "created_at", "id"]
    )
    op.create_index(
        "notifications_pending_idx",
        "notifications",
        ["wechat_next_at"],
        postgresql_where=sa.text("wechat_status = 'pending'"),
    )

    op.create_table(
        "wechat_sandbox_messages",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("notification_id", UUID(as_uuid=True), nullable=False),
        sa.Column("touser", sa.String(100), nullable=False),
        sa.Column("template_id", sa.String(100), nullable=False),
        sa.Column("page", sa.String(200), nullable=False),
        sa.Column("data", JSONB, nullable=False),
        _ts("recorded_at", nullable=False, now=True),
    )

    op.create_table(
        "hotspots",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("region_code", sa.String(15), nullable=False),
        sa.Column("category_code", sa.String(64), nullable=False),
        sa.Column("report_count", sa.Integer, nullable=False),
        _ts("window_start", nullable=False),
        _ts("flagged_at", nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_index(
        "hotspots_active_uq",
        "hotspots",
        ["region_code", "category_code"],
        unique=True,
        postgresql_where=sa.text("active"),
    )
