"""Duplicate candidates are read per category *and community*, oldest first, 20 at a time.

The old index (category, reported_at) made PostgreSQL read every report of the category in the
72 h window, across the whole city, and sort them, to find the first 20 of one community: a
busy category cost every new report of it ~0.5 ms of database time, growing with the city.
With the community in the index, in the query's order, the first page is an index range scan
that stops after 20 rows."""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_index(
        "ix_cases_dup_community",
        "cases",
        ["category_code", sa.text("left(region_code, 12)"), "reported_at", "id"],
    )
    op.drop_index("ix_cases_dup", table_name="cases")
