"""Where a region's recent cases are: a read-only projection for the command centre's map."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from shared.db.uow import UnitOfWork

from .tables import cases


async def case_points(
    uow: UnitOfWork, *, region_like: str, since: datetime, limit: int
) -> list[Any]:
    """Located, non-sensitive cases reported since ``since`` below a region, newest first.
    Sensitive cases stay off the map: their place could identify the reporter."""
    rows = await uow.connection.execute(
        select(cases.c.id, cases.c.lat, cases.c.lng, cases.c.category_code, cases.c.region_code,
               cases.c.status, cases.c.reported_at)
        .where(cases.c.region_code.like(region_like), cases.c.reported_at >= since,
               cases.c.lat.is_not(None), cases.c.lng.is_not(None),
               cases.c.sensitive.is_(False))
        .order_by(cases.c.reported_at.desc())
        .limit(limit)
    )
    return list(rows)


async def public_cases(
    uow: UnitOfWork, *, ids: list[Any] | None, categories: list[str] | None,
    statuses: list[str] | None, since: datetime, until: datetime, limit: int,
) -> list[Any]:
    """Non-sensitive cases for the public (Open311): what kind, where (roughly), when and how
    far along; never who reported or their words. Newest first."""
    query = (
        select(cases.c.id, cases.c.case_no, cases.c.category_code, cases.c.region_code,
               cases.c.status, cases.c.assignee_unit_name, cases.c.lat, cases.c.lng,
               cases.c.reported_at,
               cases.c.updated_at, cases.c.closed_at)
        .where(cases.c.sensitive.is_(False))
        .order_by(cases.c.reported_at.desc())
        .limit(limit)
    )
    if ids is not None:
        query = query.where(cases.c.id.in_(ids))
    else:
        query = query.where(cases.c.reported_at >= since, cases.c.reported_at < until)
    if categories:
        query = query.where(cases.c.category_code.in_(categories))
    if statuses:
        query = query.where(cases.c.status.in_(statuses))
    return list(await uow.connection.execute(query))
