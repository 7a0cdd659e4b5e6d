"""Data migration: Zhangzhou's regions and units, default rules and SLA policies."""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from services.routing import seed

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    def table(name: str, *cols: str) -> sa.TableClause:
        return sa.table(name, *(sa.column(c) for c in cols))

    op.bulk_insert(table("regions", "code", "name", "level", "parent_code"), seed.regions())
    op.bulk_insert(table("units", "id", "name", "kind", "level", "region_code"), seed.units())
    now = datetime.now(UTC)
    op.bulk_insert(
        table("rules", "id", "category_code", "level", "unit_kind", "entry", "updated_at"),
        [
            {"id": uuid.uuid5(uuid.NAMESPACE_URL, f"ehome:rule:{c}:{lvl}"), "category_code": c,
             "level": lvl, "unit_kind": kind, "entry": entry, "updated_at": now}
            for c, lvl, kind, entry in seed.RULES
        ],
    )
    op.bulk_insert(
        table("sla_policies", "category_code", "urgency", "accept_hours", "resolve_amount",
              "resolve_unit", "auto_escalate"),
        [
            {"category_code": c, "urgency": u, "accept_hours": a, "resolve_amount": r,
             "resolve_unit": unit, "auto_escalate": auto}
            for c, u, a, r, unit, auto in seed.SLA_POLICIES
        ],
    )
