"""Applications, agency opinions, objections, timeline, disbursement ledger, PII audit.
PII columns hold ciphertexts (shared.pii) and blind indexes, never plaintext."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0002"
down_revision = "0001"

OPEN_STATUSES = "('submitted', 'in_review', 'in_notice', 'awaiting_approval')"


def _at(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     server_default=None if nullable else sa.func.now())


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("applicant_user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("submitted_by", UUID(as_uuid=True), nullable=False),
        sa.Column("on_behalf", sa.Boolean, nullable=False),
        sa.Column("region_code", sa.String(15), nullable=False),
        sa.Column("household_id", sa.String(64)),
        sa.Column("applicant_is_minor", sa.Boolean, nullable=False),
        # Blind index of the applicant's ID number: "one open application per person per kind"
        # holds even if the person has two accounts.
        sa.Column("id_number_index", sa.String(64), nullable=False),
        sa.Column("name_cipher", sa.Text, nullable=False),
        sa.Column("id_number_cipher", sa.Text, nullable=False),
        sa.Column("address_cipher", sa.Text),
        sa.Column("household_cipher", sa.Text, nullable=False),  # JSON list of members
        sa.Column("household_size", sa.Integer, nullable=False),
        sa.Column("household_source", sa.String(16), nullable=False),  # registry | declared
        sa.Column("reason_cipher", sa.Text, nullable=False),
        sa.Column("attachments_cipher", sa.Text),  # JSON list of attachment references
        sa.Column("attachments_count", sa.Integer, nullable=False, server_default="0"),
        _at("notice_ends_at", nullable=True),
        _at("approval_due_at", nullable=True),
        sa.Column("open_objections", sa.Integer, nullable=False, server_default="0"),
        sa.Column("payments", sa.Integer, nullable=False, server_default="0"),
        sa.Column("decided_outcome", sa.String(16)),
        sa.Column("decided_stage", sa.String(16)),
        # The town's or civil affairs' written reason when they reject single-handed.
        sa.Column("decision_reason_cipher", sa.Text),
        _at("decided_at", nullable=True),
        _at("notify_by", nullable=True),
        _at("submitted_at"),
        _at("updated_at"),
        sa.CheckConstraint("open_objections >= 0", name="applications_objections_not_negative"),
    )
    op.create_index(
        "applications_one_open_per_person_and_kind",
        "applications",
        ["id_number_index", "kind"],
        unique=True,
        postgresql_where=sa.text(f"status IN {OPEN_STATUSES}"),
    )
    op.create_index("applications_applicant", "applications", ["applicant_user_id", "submitted_at"])
    op.execute(
        "CREATE INDEX applications_region_status ON applications "
        "(region_code varchar_pattern_ops, status)"
    )

    op.create_table(
        "opinions",
        sa.Column("application_id", UUID(as_uuid=True), sa.ForeignKey("applications.id"),
                  nullable=False),
        sa.Column("agency", sa.String(32), nullable=False),
        sa.Column("approve", sa.Boolean, nullable=False),
        sa.Column("opinion_cipher", sa.Text, nullable=False),
        sa.Column("reviewer_id", UUID(as_uuid=True), nullable=False),
        _at("reviewed_at"),
        sa.PrimaryKeyConstraint("application_id", "agency"),
    )

    op.create_table(
        "objections",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("application_id", UUID(as_uuid=True), sa.ForeignKey("applications.id"),
                  nullable=False, index=True),
        sa.Column("objector_id", UUID(as_uuid=True), nullable=False),
        sa.Column("text_cipher", sa.Text, nullable=False),
        _at("filed_at"),
        _at("resolved_at", nullable=True),
        sa.Column("resolved_by", UUID(as_uuid=True)),
        sa.Column("upheld", sa.Boolean),
        sa.Column("resolution_cipher", sa.Text),
    )

    op.create_table(
        "steps",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("application_id", UUID(as_uuid=True), sa.ForeignKey("applications.id"),
                  nullable=False),
        _at("at"),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("actor_id", UUID(as_uuid=True)),
        sa.Column("actor_role", sa.String(32), nullable=False),
        sa.Column("actor_agency", sa.String(32)),
        sa.Column("note", sa.Text),  # never PII: dates, counts, deadlines
    )
    op.create_index("steps_application", "steps", ["application_id", "id"])

    op.create_table(
        "disbursements",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("application_id", UUID(as_uuid=True), sa.ForeignKey("applications.id"),
                  nullable=False),
        sa.Column("recipient_user_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("region_code", sa.String(15), nullable=False),  # recipient's, when posted
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("posted_by", UUID(as_uuid=True)),
        _at("posted_at"),
        sa.CheckConstraint("amount_fen > 0", name="disbursements_amount_positive"),
        sa.CheckConstraint("extract(day from month) = 1", name="disbursements_month_first_day"),
        sa.UniqueConstraint("recipient_user_id", "kind", "month",
                            name="disbursements_once_per_recipient_kind_month"),
    )
    op.execute(
        "CREATE INDEX disbursements_region_month ON disbursements "
        "(region_code varchar_pattern_ops, month) INCLUDE (amount_fen)"
    )
    op.create_index("disbursements_application", "disbursements", ["application_id"])

    op.create_table(
        "pii_access_audit",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("actor_id", UUID(as_uuid=True), nullable=False),
        sa.Column("actor_roles", sa.String(200), nullable=False),
        sa.Column("application_id", UUID(as_uuid=True), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("request_id", sa.String(128)),
        _at("accessed_at"),
    )
    op.create_index("pii_access_audit_application", "pii_access_audit", ["application_id"])


def downgrade() -> None:
    for table in ("pii_access_audit", "disbursements", "steps", "objections", "opinions",
                  "applications"):
        op.drop_table(table)
