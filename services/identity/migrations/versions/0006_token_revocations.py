"""Revoked access tokens, read by every verifier through identity's revocation feed.

- ``revocations``: one row per revocation (an account disabled or re-scoped, a login ended, a
  partner app disabled): tokens of ``key`` issued before ``not_before`` are refused until
  ``expires_at``, when every such token has expired anyway. Pollers read the rows recorded
  since their last poll (``recorded_at``); old rows are deleted a day after they expire.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "revocations",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
    )
    op.create_index("revocations_recorded_at", "revocations", ["recorded_at"])
    op.create_index("revocations_expires_at", "revocations", ["expires_at"])
