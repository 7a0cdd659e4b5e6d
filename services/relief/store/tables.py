"""The relief schema's tables (created by migrations/versions/0002_relief.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import UUID

metadata = MetaData()


def _uuid(name: str, **kw: Any) -> Column[uuid.UUID]:
    return Column(name, UUID(as_uuid=True), **kw)


def _at(name: str) -> Column[datetime]:
    return Column(name, DateTime(timezone=True))


applications = Table(
    "applications",
    metadata,
    _uuid("id", primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(24), nullable=False),
    _uuid("applicant_user_id", nullable=False),
    _uuid("submitted_by", nullable=False),
    Column("on_behalf", Boolean, nullable=False),
    Column("region_code", String(15), nullable=False),
    Column("household_id", String(64)),
    Column("applicant_is_minor", Boolean, nullable=False),
    Column("id_number_index", String(64), nullable=False),
    Column("name_cipher", Text, nullable=False),
    Column("id_number_cipher", Text, nullable=False),
    Column("address_cipher", Text),
    Column("household_cipher", Text, nullable=False),
    Column("household_size", Integer, nullable=False),
    Column("household_source", String(16), nullable=False),
    Column("reason_cipher", Text, nullable=False),
    Column("attachments_cipher", Text),
    Column("attachments_count", Integer, nullable=False),
    _at("notice_ends_at"),
    _at("approval_due_at"),
    Column("open_objections", Integer, nullable=False),
    Column("payments", Integer, nullable=False),
    Column("monthly_amount_fen", BigInteger),
    Column("decided_outcome", String(16)),
    Column("decided_stage", String(16)),
    Column("decision_reason_cipher", Text),
    _at("decided_at"),
    _at("notify_by"),
    _at("submitted_at"),
    _at("updated_at"),
)

opinions = Table(
    "opinions",
    metadata,
    _uuid("application_id", primary_key=True),
    Column("agency", String(32), primary_key=True),
    Column("approve", Boolean, nullable=False),
    Column("opinion_cipher", Text, nullable=False),
    _uuid("reviewer_id", nullable=False),
    _at("reviewed_at"),
)

objections = Table(
    "objections",
    metadata,
    _uuid("id", primary_key=True),
    _uuid("application_id", nullable=False),
    _uuid("objector_id", nullable=False),
    Column("text_cipher", Text, nullable=False),
    _at("filed_at"),
    _at("resolved_at"),
    _uuid("resolved_by"),
    Column("upheld", Boolean),
    Column("resolution_cipher", Text),
)

steps = Table(
    "steps",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    _uuid("application_id", nullable=False),
    _at("at"),
    Column("step", String(64), nullable=False),
    Column("status", String(24), nullable=False),
    _uuid("actor_id"),
    Column("actor_role", String(32), nullable=False),
    Column("actor_agency", String(32)),
    Column("note", Text),
)

disbursements = Table(
    "disbursements",
    metadata,
    _uuid("id", primary_key=True),
    _uuid("application_id", nullable=False),
    _uuid("recipient_user_id", nullable=False),
    Column("kind", String(16), nullable=False),
    Column("region_code", String(15), nullable=False),
    Column("month", Date, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    _uuid("posted_by"),
    _at("posted_at"),
)

pii_access_audit = Table(
    "pii_access_audit",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    _uuid("actor_id", nullable=False),
    Column("actor_roles", String(200), nullable=False),
    _uuid("application_id", nullable=False),
    Column("field", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("request_id", String(128)),
    _at("accessed_at"),
)
