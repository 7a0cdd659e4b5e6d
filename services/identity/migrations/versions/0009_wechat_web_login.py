"""Residents signing in from the 公众号's web pages (WeChat web authorisation, snsapi_base).

- ``web_openid``: the openid the 公众号 gives the person, which differs from the
  mini-program's ``openid`` for the same person; unique, like ``openid``.
- an index on ``unionid`` (residents'): the one identifier the two doors share, by which a
  person signing in at one door finds the account the other door made.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.add_column("users", sa.Column("web_openid", sa.String(128)))
    op.create_index("users_web_openid", "users", ["web_openid"], unique=True,
                    postgresql_where=sa.text("web_openid IS NOT NULL"))
    op.create_index("users_resident_unionid", "users", ["unionid"],
                    postgresql_where=sa.text("unionid IS NOT NULL AND kind = 'resident'"))


def downgrade() -> None:
    op.drop_index("users_resident_unionid", table_name="users")
    op.drop_index("users_web_openid", table_name="users")
    op.drop_column("users", "web_openid")
