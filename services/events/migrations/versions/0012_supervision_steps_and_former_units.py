"""督办 steps on the timeline once each, and the units a case has left.

``case_supervisions.recorded``: the kinds of routing's messages about a supervision already
applied (issued, replied, overdue, lapsed), so a copy writes no second timeline step.
``cases.former_unit_ids``: every unit the case has left (escalated, transferred, returned,
moved up by a timer); their staff keep reading the case and find it with the search's
``handled_before`` filter (GIN index, as for ``co_units``). Existing cases are filled from
the units whose staff escalated, transferred or returned them, and the units they were
assigned to or assisted (``handling_unit_ids``) other than those holding or assisting them
now: the case file did not tell an earlier holder from an earlier assisting unit."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.add_column("case_supervisions", sa.Column("recorded", ARRAY(sa.String(16)),
                                                 nullable=False, server_default="{}"))
    op.add_column("cases", sa.Column("former_unit_ids", ARRAY(UUID(as_uuid=True)),
                                     nullable=False, server_default="{}"))
    op.execute("""
        UPDATE cases c SET former_unit_ids = f.units
        FROM (SELECT id, array_agg(DISTINCT unit_id) AS units FROM (
                  SELECT event_id AS id, actor_unit_id AS unit_id FROM timeline
                   WHERE action IN ('escalate', 'transfer', 'return')
                     AND actor_unit_id IS NOT NULL
                  UNION ALL
                  SELECT id, unnest(handling_unit_ids) FROM cases) u
              GROUP BY id) f
        WHERE c.id = f.id
    """)
    # Not the units holding or assisting it now: they are not former ones.
    op.execute("""
        UPDATE cases SET former_unit_ids = ARRAY(
            SELECT u FROM unnest(former_unit_ids) u
             WHERE u IS DISTINCT FROM assignee_unit_id AND NOT u = ANY(co_units))
        WHERE cardinality(former_unit_ids) > 0
    """)
    op.execute("CREATE INDEX ix_cases_former_units ON cases USING gin (former_unit_ids)")
