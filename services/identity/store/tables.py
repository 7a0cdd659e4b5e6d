"""Table declarations of the identity schema (unqualified; see shared.db.database)."""

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
from sqlalchemy.dialects.postgresql import ARRAY, UUID

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("openid", String(128)),
    Column("unionid", String(128)),
    # The 公众号's openid of the same person (web authorisation; migrations/versions/0009).
    Column("web_openid", String(128)),
    Column("wechat_session_key", Text),
    Column("username", String(64)),
    Column("password_hash", Text),
    Column("display_name", String(120)),
    Column("roles", ARRAY(String(32)), nullable=False),
    Column("regions", ARRAY(String(15)), nullable=False),
    Column("departments", ARRAY(UUID(as_uuid=True)), nullable=False),
    Column("phone_cipher", Text),
    Column("phone_index", String(64)),
    Column("id_number_cipher", Text),
    Column("id_number_index", String(64)),
    Column("name_cipher", Text),
    Column("verified", Boolean, nullable=False),
    Column("verified_at", DateTime(timezone=True)),
    Column("registry_person_id", UUID(as_uuid=True)),
    Column("region_code", String(15)),
    Column("agency", String(32)),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # A staff member's bound WeChat (migrations/versions/0007): never ``openid``, which logs in.
    Column("staff_openid_cipher", Text),
    Column("staff_openid_index", String(64)),
    Column("directory_version", BigInteger, nullable=False),
    # Grid work as routing announces it (migrations/versions/0008).
    Column("grid_work_at", DateTime(timezone=True)),
    Column("retired_by_leaving", Boolean, nullable=False),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("family_id", UUID(as_uuid=True), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

verification_requests = Table(
    "verification_requests",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("id_number_cipher", Text, nullable=False),
    Column("id_number_index", String(64), nullable=False),
    Column("name_cipher", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(64)),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True)),
)

registry_people = Table(
    "registry_people",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("id_number_index", String(64), nullable=False),
    Column("id_number_cipher", Text, nullable=False),
    Column("name_cipher", Text, nullable=False),
    Column("gender", String(8), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("household_id", String(64)),
    Column("address_cipher", Text),
    Column("region_code", String(15), nullable=False),
    Column("tags", ARRAY(String(32)), nullable=False),
    Column("entered_by", UUID(as_uuid=True)),
    Column("linked_user_id", UUID(as_uuid=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The latest household visit that saw the person (migrations/versions/0008).
    Column("last_visited_at", DateTime(timezone=True)),
)

household_visits = Table(
    "household_visits",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("worker_id", UUID(as_uuid=True), nullable=False),
    Column("grid_code", String(15), nullable=False),
    Column("household_id", String(64)),
    Column("person_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
    Column("note", Text, nullable=False),  # phone and ID numbers masked
    Column("attachment_ids", ARRAY(UUID(as_uuid=True)), nullable=False),
    Column("lat", Float),
    Column("lng", Float),
    Column("visited_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

partner_apps = Table(
    "partner_apps",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("app_key", String(40), nullable=False),
    Column("name", String(120), nullable=False),
    Column("scopes", ARRAY(String(64)), nullable=False),
    Column("allowed_regions", ARRAY(String(15)), nullable=False),
    Column("callback_hosts", ARRAY(String(253)), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),
    Column("created_by", UUID(as_uuid=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

partner_secrets = Table(
    "partner_secrets",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("app_id", UUID(as_uuid=True), nullable=False),
    Column("secret_cipher", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
)

pii_access_audit = Table(
    "pii_access_audit",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("actor_id", UUID(as_uuid=True)),
    Column("actor_service", String(64)),
    Column("subject_kind", String(16), nullable=False),
    Column("subject_id", UUID(as_uuid=True), nullable=False),
    Column("field", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("request_id", String(128)),
    Column("accessed_at", DateTime(timezone=True), nullable=False),
)

region_population = Table(
    "region_population",
    metadata,
    Column("region_code", String(15), primary_key=True),
    Column("census_population", BigInteger, nullable=False),
    Column("baseline_entered", BigInteger, nullable=False),
    Column("baseline_verified", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

region_tallies = Table(
    "region_tallies",
    metadata,
    Column("region_code", String(15), primary_key=True),
    Column("entered", BigInteger, nullable=False),
    Column("verified", BigInteger, nullable=False),
)

revocations = Table(
    "revocations",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # subject | session | partner_app
    Column("key", String(64), nullable=False),
    Column("not_before", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
