"""Census figures per region and live tallies under a region prefix."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, null, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping

from services.identity.store.tables import region_population, region_tallies
from shared.db.uow import UnitOfWork


async def population_under(uow: UnitOfWork, prefix: str) -> list[RowMapping]:
    result = await uow.connection.execute(
        select(region_population).where(region_population.c.region_code.startswith(prefix))
    )
    return list(result.mappings())


def _child_expression(level: str) -> Any:
    code = region_tallies.c.region_code
    if level == "province":
        return func.left(code, 4).concat("00")
    if level == "city":
        return func.left(code, 6)
    length = {"county": 9, "town": 12, "community": 15}.get(level)
    if length is None:
        return null()
    return case((func.length(code) >= length, func.left(code, length)), else_=null())


async def tallies_by_child(
    uow: UnitOfWork, prefix: str, level: str
) -> list[RowMapping]:
    """Live counts under ``prefix`` summed per child region of a region of ``level`` (the
    child is null for counts kept on the region itself). PostgreSQL adds; a few rows return."""
    child = _child_expression(level).label("child")
    result = await uow.connection.execute(
        select(child, func.sum(region_tallies.c.entered).label("entered"),
               func.sum(region_tallies.c.verified).label("verified"))
        .where(region_tallies.c.region_code.startswith(prefix))
        .group_by(child)
    )
    return list(result.mappings())


async def set_population(uow: UnitOfWork, region_code: str, census: int) -> None:
    statement = insert(region_population).values(region_code=region_code,
                                                 census_population=census)
    await uow.connection.execute(statement.on_conflict_do_update(
        index_elements=["region_code"],
        set_={"census_population": census, "updated_at": func.now()},
    ))
