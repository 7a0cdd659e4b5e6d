"""Population registry rows, and the per-region tallies statistics read."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import false, func, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping

from services.identity.store.tables import region_tallies, registry_people
from shared.db.uow import UnitOfWork


async def find_by_id_index(uow: UnitOfWork, index: str, *, lock: bool = False
                           ) -> RowMapping | None:
    query = select(registry_people).where(registry_people.c.id_number_index == index)
    if lock:
        query = query.with_for_update()
    return (await uow.connection.execute(query)).mappings().first()


async def regions_by_id_index(uow: UnitOfWork, indexes: list[str]) -> dict[str, str]:
    """Where each already-registered ID number (by blind index) is registered."""
    if not indexes:
        return {}
    result = await uow.connection.execute(
        select(registry_people.c.id_number_index, registry_people.c.region_code)
        .where(registry_people.c.id_number_index.in_(indexes))
    )
    return {row.id_number_index: row.region_code for row in result}


async def get_person(uow: UnitOfWork, person_id: uuid.UUID) -> RowMapping | None:
    result = await uow.connection.execute(
        select(registry_people).where(registry_people.c.id == person_id))
    return result.mappings().first()


async def household_of(uow: UnitOfWork, household_id: str, *, limit: int
                       ) -> list[RowMapping]:
    result = await uow.connection.execute(
        select(registry_people).where(registry_people.c.household_id == household_id)
        .order_by(registry_people.c.birth_date, registry_people.c.id).limit(limit)
    )
    return list(result.mappings())


async def upsert_person(uow: UnitOfWork, values: dict[str, Any]) -> tuple[RowMapping, bool]:
    """Insert or update by ID-number index; answers the row and whether it was created."""
    statement = insert(registry_people).values(**values)
    updatable: dict[str, Any] = {k: statement.excluded[k] for k in values
                 if k not in ("id", "id_number_index", "linked_user_id", "entered_by")}
    updatable["updated_at"] = func.now()
    result = await uow.connection.execute(
        statement.on_conflict_do_update(index_elements=["id_number_index"], set_=updatable)
        .returning(registry_people, literal_column("(xmax = 0)").label("created"))
    )
    row = result.mappings().one()
    return row, bool(row["created"])


async def link_user(uow: UnitOfWork, person_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await uow.connection.execute(
        update(registry_people).where(registry_people.c.id == person_id)
        .values(linked_user_id=user_id, updated_at=func.now())
    )


async def list_people(uow: UnitOfWork, *, region_prefixes: list[str] | None,
                      after: uuid.UUID | None, limit: int,
                      not_visited_since: datetime | None = None) -> list[RowMapping]:
    query = select(registry_people)
    if region_prefixes is not None:
        query = query.where(_prefix_filter(region_prefixes))
    if not_visited_since is not None:
        query = query.where(or_(registry_people.c.last_visited_at.is_(None),
                                registry_people.c.last_visited_at < not_visited_since))
    if after is not None:
        query = query.where(registry_people.c.id > after)
    query = query.order_by(registry_people.c.id).limit(limit)
    return list((await uow.connection.execute(query)).mappings())


def _prefix_filter(prefixes: list[str]) -> Any:
    if not prefixes:
        return false()
    return or_(*(registry_people.c.region_code.startswith(p) for p in prefixes))


async def add_tally(uow: UnitOfWork, region_code: str, *, entered: int = 0,
                    verified: int = 0) -> None:
    statement = insert(region_tallies).values(
        region_code=region_code, entered=entered, verified=verified
    )
    await uow.connection.execute(
        statement.on_conflict_do_update(
            index_elements=["region_code"],
            set_={
                "entered": region_tallies.c.entered + entered,
                "verified": region_tallies.c.verified + verified,
            },
        )
    )

