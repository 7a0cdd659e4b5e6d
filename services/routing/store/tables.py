"""The routing service's tables (schema ``routing``)."""

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
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

metadata = MetaData()


def _ts(name: str, nullable: bool = True) -> Column:
    return Column(name, DateTime(timezone=True), nullable=nullable)


regions = Table(
    "regions", metadata,
    Column("code", String(15), primary_key=True), Column("name", String(100)),
    Column("level", String(16)), Column("parent_code", String(15)), Column("active", Boolean),
)
units = Table(
    "units", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("name", String(200)),
    Column("kind", String(40)), Column("level", String(16)), Column("region_code", String(15)),
    Column("active", Boolean), Column("categories", ARRAY(String(64))), _ts("created_at"),
    _ts("retired_at"),
)
unit_audit = Table(
    "unit_audit", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("unit_id", UUID(as_uuid=True)), _ts("at"), Column("actor_id", UUID(as_uuid=True)),
    Column("action", String(16)), Column("before", JSONB), Column("after", JSONB),
)
rules = Table(
    "rules", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("category_code", String(64)),
    Column("level", String(16)), Column("unit_kind", String(40)), Column("entry", Boolean),
    Column("active", Boolean), _ts("updated_at"),
)
rule_audit = Table(
    "rule_audit", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("rule_id", UUID(as_uuid=True)), _ts("at"), Column("actor_id", UUID(as_uuid=True)),
    Column("before", JSONB), Column("after", JSONB),
)
sla_policies = Table(
    "sla_policies", metadata,
    Column("category_code", String(64), primary_key=True),
    Column("urgency", String(16), primary_key=True), Column("accept_hours", Float),
    Column("resolve_amount", Float), Column("resolve_unit", String(8)),
    Column("auto_escalate", Boolean),
)
calendar_overrides = Table(
    "calendar_overrides", metadata,
    Column("day", Date, primary_key=True), Column("workday", Boolean), Column("note", String),
)
assignments = Table(
    "assignments", metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True), Column("case_no", String(32)),
    Column("category_code", String(64)), Column("major_risk", String(64)),
    Column("urgency", String(16)), Column("region_code", String(15)), Column("status", String),
    Column("unit_id", UUID(as_uuid=True)), Column("seq", Integer), Column("queued", Boolean),
    Column("queue_reason", String(32)), _ts("accept_by"), _ts("resolve_by"),
    _ts("assigned_at"), _ts("updated_at"), Column("status_step", BigInteger),
    Column("sensitive", Boolean),  # a sensitive tip: its originals are for supervisors only
    # Every unit the case has left (escalated, transferred, returned, moved up by a timer):
    # they keep reading its routing views (0009).
    Column("former_unit_ids", ARRAY(UUID(as_uuid=True)), server_default="{}"),
)
timers = Table(
    "timers", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", UUID(as_uuid=True)), Column("kind", String(16)),
    Column("fraction", Float), _ts("fire_at"), _ts("deadline"),
    Column("unit_id", UUID(as_uuid=True)), Column("subtask_id", UUID(as_uuid=True)),
    Column("seq", Integer), _ts("fired_at"), _ts("cancelled_at"),
)
supervisions = Table(
    "supervisions", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("event_id", UUID(as_uuid=True)),
    Column("unit_id", UUID(as_uuid=True)), Column("kind", String(16)), _ts("deadline"),
    Column("supervisor_region_code", String(15)), Column("auto_escalated", Boolean),
    _ts("created_at"),
)
extension_requests = Table(
    "extension_requests", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("event_id", UUID(as_uuid=True)),
    Column("unit_id", UUID(as_uuid=True)), Column("extra_working_hours", Float),
    Column("reason", Text), Column("status", String(16)),
    Column("reason_original", Text),
    Column("requested_by", UUID(as_uuid=True)), Column("decided_by", UUID(as_uuid=True)),
    _ts("created_at"), _ts("decided_at"),
)
subtasks = Table(
    "subtasks", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("event_id", UUID(as_uuid=True)),
    Column("lead_unit_id", UUID(as_uuid=True)), Column("unit_id", UUID(as_uuid=True)),
    Column("task", Text), _ts("due_at"), Column("status", String(16)), Column("answer", Text),
    _ts("created_at"), _ts("closed_at"),
    Column("task_original", Text), Column("answer_original", Text),
    Column("answered_by", UUID(as_uuid=True)),
    Column("answer_attachment_ids", ARRAY(UUID(as_uuid=True))),
)
# Free texts staff type (the columns above named note, reason, task and answer) hold phone and
# ID numbers masked; ``*_original`` is the typed text, encrypted, where masking changed it
# (service/originals.py), read only through the audited reveal (``text_reveals``).
assignment_notes = Table(
    "assignment_notes", metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("seq", Integer, primary_key=True), Column("reason", String(16)),
    Column("note", Text), Column("note_original", Text), _ts("at"),
)
text_reveals = Table(
    "text_reveals", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", UUID(as_uuid=True)), Column("revealed_by", UUID(as_uuid=True)),
    Column("role", String(24)), Column("reason", Text), Column("request_id", String(128)),
    _ts("at"),
)


grid_workers = Table(
    "grid_workers", metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("grid_code", String(15), primary_key=True),
)
