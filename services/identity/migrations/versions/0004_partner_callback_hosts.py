"""Partner apps carry their webhook callback allow-list.

- ``partner_apps.callback_hosts``: the DNS names the app may subscribe webhooks on (set by an
  admin; the gateway's partner app also still honours ``EHOME_PARTNER_CALLBACK_HOSTS``).
  Existing apps start with none.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.add_column("partner_apps", sa.Column("callback_hosts", ARRAY(sa.String(253)),
                                            nullable=False, server_default="{}"))
