"""Tables of the events service (schema ``events``)."""

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

categories = Table(
    "categories", metadata,
    Column("code", String(64), primary_key=True),
    Column("parent_code", String(64)),
    Column("name", String(100), nullable=False),
    Column("major_risk", String(64), nullable=False),
    Column("default_urgency", String(16), nullable=False),
    Column("sensitive", Boolean, nullable=False),
    Column("verified_only", Boolean, nullable=False),
    Column("template", JSONB, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("sort", Integer, nullable=False),
)

known_regions = Table(
    "known_regions", metadata,
    Column("code", String(15), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("active", Boolean, nullable=False),
)

cases = Table(
    "cases", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("seq", BigInteger, nullable=False, autoincrement=True),
    Column("case_no", String(32), nullable=False, unique=True),
    Column("category_code", String(64), nullable=False),
    Column("major_risk", String(64), nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("sensitive", Boolean, nullable=False),
    Column("description", Text, nullable=False),
    Column("region_code", String(15), nullable=False),
    Column("address", String(300)),
    Column("lat", Float),
    Column("lng", Float),
    Column("fields", JSONB, nullable=False),
    Column("attachment_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
    Column("reporter_id", UUID(as_uuid=True), nullable=False),
    Column("reporter_sealed", Text),  # sensitive cases: the reporter sealed for feedback
    Column("channel", String(16), nullable=False),
    Column("on_behalf", Boolean, nullable=False),
    Column("status", String(24), nullable=False),
    Column("assignee_unit_id", UUID(as_uuid=True)),
    Column("assignee_unit_name", String(200)),
    Column("assignee_unit_level", String(16)),
    Column("assign_seq", Integer, nullable=False),
    Column("accept_by", DateTime(timezone=True)),
    Column("resolve_by", DateTime(timezone=True)),
    Column("dispatch_trail", Boolean, nullable=False),
    Column("result_recorded", Boolean, nullable=False),
    Column("result_text", Text),
    Column("open_subtasks", ARRAY(UUID(as_uuid=True)), nullable=False),
    Column("closed_subtasks", ARRAY(UUID(as_uuid=True)), nullable=False),
    Column("co_units", ARRAY(UUID(as_uuid=True)), nullable=False),
    Column("handling_unit_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
    Column("rating", String(24)),
    Column("possible_duplicate_of", UUID(as_uuid=True)),
    Column("escalation_count", Integer, nullable=False),
    Column("return_count", Integer, nullable=False),
    Column("rework_count", Integer, nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Column("first_dispatched_at", DateTime(timezone=True)),
    Column("accepted_at", DateTime(timezone=True)),
    Column("result_submitted_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    Column("closed_loop_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The free texts above hold phone and ID numbers masked; the typed originals of those that
    # had one, encrypted (service/originals.py). NULL when none had.
    Column("text_originals", JSONB(none_as_null=True)),
    # Under manual supervision (督办) now: any open row of case_supervisions (store/supervisions).
    Column("supervised", Boolean, nullable=False, server_default="false"),
    # Every unit the case has left (escalated, transferred, returned, moved up by a timer):
    # they keep reading it, its timeline and its attachments, and find it (0012).
    Column("former_unit_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
)

timeline = Table(
    "timeline", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("action", String(40), nullable=False),
    Column("actor_role", String(24), nullable=False),
    Column("actor_id", UUID(as_uuid=True)),
    Column("actor_unit_id", UUID(as_uuid=True)),
    Column("actor_unit", String(200)),
    Column("from_status", String(24)),
    Column("to_status", String(24)),
    Column("note", Text),  # masked (service/originals.py)
    Column("note_original", Text),  # the typed note, encrypted, when masking changed it
)

attachments = Table(
    "attachments", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("owner_id", UUID(as_uuid=True), nullable=False),
    Column("event_id", UUID(as_uuid=True)),
    Column("content_type", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("storage_key", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The units the uploader was staff of (NULL: a resident, or uploaded before 0011).
    Column("owner_unit_ids", ARRAY(UUID(as_uuid=True))),
)

case_days = Table(
    "case_days", metadata,
    Column("day", Date, primary_key=True),
    Column("base", BigInteger, nullable=False),
)

reporter_reveals = Table(
    "reporter_reveals", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("revealed_by", UUID(as_uuid=True), nullable=False),
    Column("role", String(24), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

text_reveals = Table(
    "text_reveals", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("revealed_by", UUID(as_uuid=True), nullable=False),
    Column("role", String(24), nullable=False),
    Column("reason", Text, nullable=False),
    Column("request_id", String(128)),
    Column("at", DateTime(timezone=True), nullable=False),
)
