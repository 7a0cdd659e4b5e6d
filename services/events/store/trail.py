"""The trail of a case as its visibility reads it: which units moved it away. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import exists, select

from shared.db.uow import UnitOfWork

from .tables import timeline

# The steps by which a unit's staff give a case away; the unit they acted for keeps reading it.
MOVED_AWAY = ("escalate", "transfer")


async def moved_away_by(uow: UnitOfWork, event_id: uuid.UUID,
                        unit_ids: Collection[uuid.UUID]) -> bool:
    """Whether staff acting for one of ``unit_ids`` escalated or transferred the case (one
    indexed probe of its timeline)."""
    if not unit_ids:
        return False
    query = select(exists().where(
        timeline.c.event_id == event_id, timeline.c.action.in_(MOVED_AWAY),
        timeline.c.actor_unit_id.in_(list(unit_ids))))
    return bool((await uow.connection.execute(query)).scalar())
