"""Registry imports are jobs the uploader polls.

- ``registry_imports``: one upload; its status (queued, reading, writing, succeeded, failed),
  progress (rows done of total, created, updated, refused), the failure code when it failed,
  and the heartbeat of the process running it (an unfinished import whose heartbeat stops is
  marked failed, ``import_interrupted``, by any replica).
- ``registry_import_errors``: each refused row by number, its code, and the ID number as
  typed, masked; the uploader downloads them as CSV.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "registry_imports",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("uploaded_by", UUID(as_uuid=True), nullable=False),
        # The uploader's scope when uploading: who else may read the job (admins, managers
        # covering all of it).
        sa.Column("scope_regions", ARRAY(sa.String(15)), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_rows", sa.Integer),
        sa.Column("rows_done", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("refused", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failure_code", sa.String(64)),
        sa.Column("failure_detail", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(
            "status IN ('queued', 'reading', 'writing', 'succeeded', 'failed')",
            name="registry_imports_status",
        ),
    )
    op.create_index("registry_imports_unfinished", "registry_imports", ["heartbeat_at"],
                    postgresql_where=sa.text("finished_at IS NULL"))
    op.create_table(
        "registry_import_errors",
        sa.Column("import_id", UUID(as_uuid=True),
                  sa.ForeignKey("registry_imports.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("row", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("id_number_masked", sa.String(32)),
    )


def downgrade() -> None:
    op.drop_table("registry_import_errors")
    op.drop_table("registry_imports")
