"""Household visits (入户走访) and the registry people they saw."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import false, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping

from services.identity.store.tables import household_visits, registry_people
from shared.db.uow import UnitOfWork


async def get_visit(uow: UnitOfWork, visit_id: uuid.UUID) -> RowMapping | None:
    result = await uow.connection.execute(
        select(household_visits).where(household_visits.c.id == visit_id))
    return result.mappings().first()


async def insert_visit(uow: UnitOfWork, values: dict[str, Any]) -> RowMapping | None:
    """The new visit's row, or None when a visit of that id exists (a retry: the caller
    reads it). A concurrent insert of the same id waits for the first to commit."""
    result = await uow.connection.execute(
        insert(household_visits).values(**values)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(*household_visits.c)
    )
    return result.mappings().first()


async def people(uow: UnitOfWork, person_ids: Sequence[uuid.UUID]) -> list[RowMapping]:
    """Where each of these registry people is registered, their household and their name."""
    if not person_ids:
        return []
    result = await uow.connection.execute(
        select(registry_people.c.id, registry_people.c.region_code,
               registry_people.c.household_id, registry_people.c.name_cipher)
        .where(registry_people.c.id.in_(list(person_ids)))
    )
    return list(result.mappings())


async def mark_visited(uow: UnitOfWork, person_ids: Sequence[uuid.UUID], at: datetime
                       ) -> None:
    """Each person's latest visit moves to ``at`` unless a later one is already known (a
    queued visit may arrive after a newer one)."""
    await uow.connection.execute(
        update(registry_people).where(registry_people.c.id.in_(list(person_ids)))
        .values(last_visited_at=func.greatest(
            func.coalesce(registry_people.c.last_visited_at, at), at))
    )


async def list_visits(
    uow: UnitOfWork, *, worker_id: uuid.UUID | None, grid_prefixes: list[str] | None,
    since: datetime | None, until: datetime | None, after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[RowMapping]:
    """Newest visit first; ``grid_prefixes`` None: every region; ``after``: the
    ``(visited_at, id)`` of the last visit of the previous page."""
    query = select(household_visits)
    if worker_id is not None:
        query = query.where(household_visits.c.worker_id == worker_id)
    if grid_prefixes is not None:
        query = query.where(or_(false(), *(household_visits.c.grid_code.startswith(p)
                                           for p in grid_prefixes)))
    if since is not None:
        query = query.where(household_visits.c.visited_at >= since)
    if until is not None:
        query = query.where(household_visits.c.visited_at < until)
    if after is not None:
        query = query.where(
            tuple_(household_visits.c.visited_at, household_visits.c.id) < tuple_(*after))
    query = query.order_by(household_visits.c.visited_at.desc(),
                           household_visits.c.id.desc()).limit(limit)
    return list((await uow.connection.execute(query)).mappings())
