"""Table declarations of the feedback schema (created by migrations/versions/0002)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = MetaData()


def _ts(name: str, *, nullable: bool = True) -> Column:
    return Column(name, DateTime(timezone=True), nullable=nullable)


case_facts = Table(
    "case_facts",
    metadata,
    Column("message_id", UUID(as_uuid=True), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("kind", String(32), nullable=False),
    _ts("at", nullable=False),
    Column("payload", JSONB, nullable=False),
)

case_summaries = Table(
    "case_summaries",
    metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("case_no", String(40)),
    Column("category_code", String(64)),
    Column("major_risk", String(64)),
    Column("urgency", String(16)),
    Column("region_code", String(15)),
    Column("sensitive", Boolean, nullable=False),
    Column("reporter_id", UUID(as_uuid=True)),
    _ts("reported_at"),
    Column("status", String(32), nullable=False),
    Column("unit_id", UUID(as_uuid=True)),
    _ts("accept_by"),
    _ts("accepted_at"),
    _ts("resolve_by"),
    _ts("result_at"),
    _ts("closed_at"),
    Column("closure_count", Integer, nullable=False),
    Column("is_closed", Boolean, nullable=False),
    Column("rating", String(24)),
    Column("rating_default", Boolean),
    _ts("rated_at"),
    Column("closed_loop", Boolean, nullable=False),
    Column("rework_count", Integer, nullable=False),
    Column("handling_hours", Float),
    _ts("updated_at", nullable=False),
)

units = Table(
    "units",
    metadata,
    Column("unit_id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("level", String(16), nullable=False),
    Column("region_code", String(15), nullable=False),
    _ts("seen_at", nullable=False),
)

ratings = Table(
    "ratings",
    metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("closure_closed_at", DateTime(timezone=True), primary_key=True),
    Column("closure_seq", Integer, nullable=False),
    Column("rating", String(24), nullable=False),
    Column("comment", Text),
    Column("default_applied", Boolean, nullable=False),
    _ts("rated_at", nullable=False),
    Column("rater_id", UUID(as_uuid=True)),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("event_id", UUID(as_uuid=True)),
    Column("kind", String(32), nullable=False),
    Column("title", String(100), nullable=False),
    Column("body", String(500), nullable=False),
    Column("source_key", String(200), nullable=False),
    _ts("created_at", nullable=False),
    _ts("read_at"),
    Column("template", String(32), nullable=False),
    Column("page", String(200), nullable=False),
    Column("wechat_data", JSONB, nullable=False),
    Column("wechat_status", String(16), nullable=False),
    Column("wechat_attempts", Integer, nullable=False),
    _ts("wechat_next_at"),
    Column("wechat_error", String(300)),
    # Set: this row carries that staff notice to one staff member's WeChat (not an inbox row).
    Column("staff_notice_id", UUID(as_uuid=True)),
)

wechat_sandbox_messages = Table(
    "wechat_sandbox_messages",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("notification_id", UUID(as_uuid=True), nullable=False),
    Column("touser", String(100), nullable=False),
    Column("template_id", String(100), nullable=False),
    Column("page", String(200), nullable=False),
    Column("data", JSONB, nullable=False),
    _ts("recorded_at", nullable=False),
)

hotspots = Table(
    "hotspots",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("region_code", String(15), nullable=False),
    Column("category_code", String(64), nullable=False),
    Column("report_count", Integer, nullable=False),
    _ts("window_start", nullable=False),
    _ts("flagged_at", nullable=False),
    Column("active", Boolean, nullable=False),
)

staff_notices = Table(
    "staff_notices",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("audience", ARRAY(String(32)), nullable=False),
    # The region addressed (None: a unit's notice before its region was known here).
    Column("region_code", String(15)),
    # None: a notice about a grid task, not a case (migrations/versions/0007).
    Column("event_id", UUID(as_uuid=True)),
    Column("unit_id", UUID(as_uuid=True)),
    # Set: addressed to that unit's staff; None: to ``audience`` over ``region_code``.
    Column("addressed_unit_id", UUID(as_uuid=True)),
    # Set: addressed to this one staff member (a grid worker's task), whatever their roles.
    Column("addressed_user_id", UUID(as_uuid=True)),
    Column("grid_task_id", UUID(as_uuid=True)),
    Column("title", String(100), nullable=False),
    Column("body", String(500), nullable=False),
    Column("source_key", String(200), nullable=False, unique=True),
    _ts("occurred_at", nullable=False),
    _ts("created_at", nullable=False),
)

staff_notice_reads = Table(
    "staff_notice_reads",
    metadata,
    Column("notice_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    _ts("read_at", nullable=False),
)

# Identity's staff accounts as notices address them (migrations/versions/0006).
staff_directory = Table(
    "staff_directory",
    metadata,
    Column("staff_id", UUID(as_uuid=True), primary_key=True),
    Column("unit_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
    Column("roles", ARRAY(String(32)), nullable=False),
    Column("regions", ARRAY(String(15)), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("wechat_bound", Boolean, nullable=False),
    Column("version", BigInteger, nullable=False),
    _ts("changed_at", nullable=False),
)

# A unit's work beyond its own cases (migrations/versions/0005): every column but the key is
# set by the first message that knows it and never overwritten.
unit_subtasks = Table(
    "unit_subtasks",
    metadata,
    Column("subtask_id", UUID(as_uuid=True), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("unit_id", UUID(as_uuid=True), nullable=False),
    _ts("asked_at"),
    _ts("due_at"),
    _ts("closed_at"),
    Column("outcome", String(16)),
)

unit_supervisions = Table(
    "unit_supervisions",
    metadata,
    Column("supervision_id", UUID(as_uuid=True), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("unit_id", UUID(as_uuid=True), nullable=False),
    _ts("issued_at"),
    _ts("reply_by"),
    _ts("replied_at"),
    Column("replied_late", Boolean),
    _ts("overdue_at"),
)

# Grid workers' work for their monthly figures (migrations/versions/0007).
grid_workers = Table(
    "grid_workers",
    metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("display_name", String(100)),
    Column("kind", String(16)),
    Column("grid_codes", ARRAY(String(15)), nullable=False),
    Column("started_on", Date),
    Column("status", String(8), nullable=False),
    Column("left_on", Date),
    _ts("changed_at", nullable=False),
)

# One row per counted piece of work, keyed by what it is (never by message).
grid_work_items = Table(
    "grid_work_items",
    metadata,
    Column("key", String(80), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("worker_id", UUID(as_uuid=True), nullable=False),
    Column("region_code", String(15)),
    Column("month", String(7), nullable=False),
    _ts("at", nullable=False),
    Column("on_time", Boolean),
    Column("hours", Float),
    Column("distance_m", Float),
)

grid_residents = Table(
    "grid_residents",
    metadata,
    Column("registry_person_id", UUID(as_uuid=True), primary_key=True),
    Column("entered_by", UUID(as_uuid=True)),
    Column("region_code", String(15)),
    Column("month", String(7)),
    _ts("entered_at"),
    _ts("verified_at"),
)

grid_score_weights = Table(
    "grid_score_weights",
    metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("weights", JSONB, nullable=False),
    Column("updated_by", UUID(as_uuid=True), nullable=False),
    _ts("updated_at", nullable=False),
)
