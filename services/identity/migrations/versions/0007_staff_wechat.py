"""A staff member's own WeChat binding, and the version of their directory entry.

- ``staff_openid_cipher`` / ``staff_openid_index``: the openid a staff member bound from the
  mini-program (``POST /api/v1/identity/staff/me/wechat``), encrypted, with a blind index
  unique across staff accounts (one WeChat binds one staff account). Apart from ``openid``
  on purpose: ``openid`` logs a resident in by WeChat alone, and a staff account must never
  be reachable without its password; the same person's resident account keeps its own.
- ``directory_version``: raised with each ``identity.staff_directory_changed`` published for
  the account, in the transaction of the change, so consumers can drop a stale entry.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.add_column("users", sa.Column("staff_openid_cipher", sa.Text))
    op.add_column("users", sa.Column("staff_openid_index", sa.String(64)))
    op.add_column("users", sa.Column("directory_version", sa.BigInteger, nullable=False,
                                     server_default="0"))
    op.create_index("users_staff_openid", "users", ["staff_openid_index"], unique=True,
                    postgresql_where=sa.text("staff_openid_index IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("users_staff_openid", table_name="users")
    op.drop_column("users", "directory_version")
    op.drop_column("users", "staff_openid_index")
    op.drop_column("users", "staff_openid_cipher")
