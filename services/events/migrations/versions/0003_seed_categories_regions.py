"""Data migration: the five major risks with their subcategories and templates, and the
community/grid region snapshot (see services/events/seed.py for why events keeps one)."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"

# The seed as released with this revision; later changes arrive through the admin API (categories)
# and routing.region_changed (regions), or a new migration.
from services.events.seed import CATEGORIES, REGIONS  # noqa: E402


def upgrade() -> None:
    categories = sa.table(
        "categories",
        sa.column("code"), sa.column("parent_code"), sa.column("name"),
        sa.column("major_risk"), sa.column("default_urgency"), sa.column("sensitive"),
        sa.column("verified_only"), sa.column("template", JSONB), sa.column("active"),
        sa.column("sort"),
    )
    rows = []
    for sort, (code, parent, name, urgency, sensitive, verified_only, template) in enumerate(
        CATEGORIES
    ):
        rows.append({
            "code": code, "parent_code": parent, "name": name,
            "major_risk": parent or code, "default_urgency": urgency, "sensitive": sensitive,
            "verified_only": verified_only, "template": template, "active": True, "sort": sort,
        })
    op.bulk_insert(categories, rows)
    regions = sa.table("known_regions", sa.column("code"), sa.column("name"),
                       sa.column("active"))
    op.bulk_insert(regions, [{"code": c, "name": n, "active": True} for c, n in REGIONS])
