"""Reviewer agencies on staff accounts; PII reads by platform services in the audit trail.

- ``users.agency``: which body a reviewer acts for (town, ping_an_office, civil_affairs,
  agriculture); carried in the access token's ``ext.agency`` claim.
- ``pii_access_audit.actor_service``: the calling service when a service, not a person, read
  plaintext (``actor_id`` is then null).
- ``registry_people.household_id`` index: a resident's profile lists the household's members.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("users", sa.Column("agency", sa.String(32)))
    op.add_column("pii_access_audit", sa.Column("actor_service", sa.String(64)))
    op.alter_column("pii_access_audit", "actor_id", nullable=True)
    op.create_check_constraint(
        "pii_access_audit_has_actor", "pii_access_audit",
        "actor_id IS NOT NULL OR actor_service IS NOT NULL",
    )
    op.create_index("registry_people_household", "registry_people", ["household_id"],
                    postgresql_where=sa.text("household_id IS NOT NULL"))
