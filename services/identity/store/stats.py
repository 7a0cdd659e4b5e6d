"""Census figures per region and live tallies under a region prefix."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.store.tables import region_population, region_tallies


async def population_under(session: AsyncSession, prefix: str) -> list[RowMapping]:
    result = await session.execute(
        select(region_population).where(region_population.c.region_code.startswith(prefix))
    )
    return list(result.mappings())


async def tallies_under(session: AsyncSession, prefix: str) -> list[RowMapping]:
    result = await session.execute(
        select(region_tallies).where(region_tallies.c.region_code.startswith(prefix))
    )
    return list(result.mappings())


async def set_population(session: AsyncSession, region_code: str, census: int) -> None:
    statement = insert(region_population).values(region_code=region_code,
                                                 census_population=census)
    await session.execute(statement.on_conflict_do_update(
        index_elements=["region_code"],
        set_={"census_population": census, "updated_at": func.now()},
    ))
