"""Supervision orders lapse with their case, and a case remembers the units it left.

``supervision_orders.lapsed_at``: when the case reached a final state (closed, rated,
rejected) before the unit replied. ``assignments.former_unit_ids``: every unit the case has
left (escalated, transferred, returned, moved up by a timer), which keep reading the case's
routing views; filled for existing cases from the units their deadline timers ran for."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.add_column("supervision_orders", sa.Column("lapsed_at", sa.DateTime(timezone=True)))
    op.add_column("assignments", sa.Column("former_unit_ids", ARRAY(UUID(as_uuid=True)),
                                           nullable=False, server_default="{}"))
    op.execute("""
        UPDATE assignments a SET former_unit_ids = f.units
        FROM (SELECT t.event_id, array_agg(DISTINCT t.unit_id) AS units
                FROM timers t JOIN assignments x ON x.event_id = t.event_id
               WHERE t.kind IN ('accept', 'resolve') AND t.unit_id IS NOT NULL
                 AND t.unit_id IS DISTINCT FROM x.unit_id
               GROUP BY t.event_id) f
        WHERE a.event_id = f.event_id
    """)
