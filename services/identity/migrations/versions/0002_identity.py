"""Accounts, refresh tokens, verification requests, registry, partner apps, PII audit, region
statistics. PII columns hold ciphertexts (shared.pii) and blind indexes, never plaintext."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0002"
down_revision = "0001"


def _now() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                     server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),  # resident | staff
        sa.Column("openid", sa.String(128), unique=True),
        sa.Column("unionid", sa.String(128)),
        sa.Column("wechat_session_key", sa.Text),  # ciphertext; never leaves the server
        sa.Column("username", sa.String(64), unique=True),
        sa.Column("password_hash", sa.Text),
        sa.Column("display_name", sa.String(120)),
        sa.Column("roles", ARRAY(sa.String(32)), nullable=False),
        sa.Column("regions", ARRAY(sa.String(15)), nullable=False, server_default="{}"),
        sa.Column("departments", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
        sa.Column("phone_cipher", sa.Text),
        sa.Column("phone_index", sa.String(64)),
        sa.Column("id_number_cipher", sa.Text),
        sa.Column("id_number_index", sa.String(64)),
        sa.Column("name_cipher", sa.Text),
        sa.Column("verified", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("registry_person_id", UUID(as_uuid=True)),
        sa.Column("region_code", sa.String(15)),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        _now(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
    )
    # One verified account per ID number.
    op.create_index("users_verified_id_number", "users", ["id_number_index"], unique=True,
                    postgresql_where=sa.text("verified"))
    op.create_index("users_phone_index", "users", ["phone_index"])
    op.create_index("users_region_verified", "users", ["region_code"],
                    postgresql_where=sa.text("verified"))

    op.create_table(
        "refresh_tokens",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("family_id", UUID(as_uuid=True), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        _now(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("refresh_tokens_family", "refresh_tokens", ["family_id"])
    op.create_index("refresh_tokens_user", "refresh_tokens", ["user_id"])

    op.create_table(
        "verification_requests",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("id_number_cipher", sa.Text, nullable=False),
        sa.Column("id_number_index", sa.String(64), nullable=False),
        sa.Column("name_cipher", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        _now(),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
    )
    op.create_index("verification_requests_due", "verification_requests", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index("verification_requests_user", "verification_requests", ["user_id"])

    op.create_table(
        "registry_people",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("id_number_index", sa.String(64), nullable=False, unique=True),
        sa.Column("id_number_cipher", sa.Text, nullable=False),
        sa.Column("name_cipher", sa.Text, nullable=False),
        sa.Column("gender", sa.String(8), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("household_id", sa.String(64)),
        sa.Column("address_cipher", sa.Text),
        sa.Column("region_code", sa.String(15), nullable=False),
        sa.Column("tags", ARRAY(sa.String(32)), nullable=False, server_default="{}"),
        sa.Column("entered_by", UUID(as_uuid=True)),
        sa.Column("linked_user_id", UUID(as_uuid=True)),
        _now(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
    )
    op.create_index("registry_people_region", "registry_people", ["region_code"])

    op.create_table(
        "partner_apps",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("app_key", sa.String(40), nullable=False, unique=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("scopes", ARRAY(sa.String(64)), nullable=False, server_default="{}"),
        sa.Column("allowed_regions", ARRAY(sa.String(15)), nullable=False, server_default="{}"),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("created_by", UUID(as_uuid=True)),
        _now(),
    )
    op.create_table(
        "partner_secrets",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("app_id", UUID(as_uuid=True), sa.ForeignKey("partner_apps.id"),
                  nullable=False),
        sa.Column("secret_cipher", sa.Text, nullable=False),
        _now(),
        sa.Column("expires_at", sa.DateTime(timezone=True)),  # null: the current secret
    )
    op.create_index("partner_secrets_app", "partner_secrets", ["app_id"])

    op.create_table(
        "pii_access_audit",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("actor_id", UUID(as_uuid=True), nullable=False),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject_id", UUID(as_uuid=True), nullable=False),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("request_id", sa.String(128)),
        sa.Column("accessed_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
    )

    # Census population and the figures carried over from before the platform (baseline),
    # per region code; live counts are added to the baseline.
    regions = op.create_table(
        "region_population",
        sa.Column("region_code", sa.String(15), primary_key=True),
        sa.Column("census_population", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("baseline_entered", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("baseline_verified", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
    )
    # Live counts per leaf region code, kept in the same transaction as the row they count,
    # so statistics for the whole city read a few thousand rows, not millions.
    op.create_table(
        "region_tallies",
        sa.Column("region_code", sa.String(15), primary_key=True),
        sa.Column("entered", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("verified", sa.BigInteger, nullable=False, server_default="0"),
    )
    # 长泰区, from the 2023 report: population 228,235; verified 97,483; entered 211,654.
    op.bulk_insert(regions, [{
        "region_code": "350605",
        "census_population": 228_235,
        "baseline_entered": 211_654,
        "baseline_verified": 97_483,
    }])
