"""The command centre's map of case locations, under /api/v1/events/points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from services.events.store.points import case_points
from shared.auth import Principal, Role, require_roles
from shared.problems import BadRequest
from shared.regions import descendant_prefix, is_region_code
from shared.web.deps import Uow

router = APIRouter(prefix="/api/v1/events", tags=["events"])
CommandStaff = Annotated[
    Principal, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.DISPATCHER))
]


class CasePoint(BaseModel):
    id: str
    lat: float
    lng: float
    category_code: str
    region_code: str
    status: str
    reported_at: datetime


class CasePoints(BaseModel):
    region_code: str
    since: datetime
    items: list[CasePoint]
    truncated: bool


@router.get("/points/{region_code}", response_model=CasePoints)
async def region_case_points(
    region_code: str, principal: CommandStaff, uow: Uow,
    days: Annotated[int, Query(ge=1, le=90)] = 30,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> CasePoints:
    """Where the region's cases of the last ``days`` were reported, newest first, at most
    ``limit`` (``truncated`` says more exist). No text, reporter or sensitive case."""
    if not is_region_code(region_code):
        raise BadRequest("not a region code", code="region_invalid")
    principal.require_region(region_code)
    since = datetime.now(UTC) - timedelta(days=days)
    async with uow:
        rows = await case_points(uow, region_like=descendant_prefix(region_code) + "%",
                                 since=since, limit=limit + 1)
    return CasePoints(
        region_code=region_code, since=since, truncated=len(rows) > limit,
        items=[CasePoint(id=str(r.id), lat=r.lat, lng=r.lng, category_code=r.category_code,
                         region_code=r.region_code,
                         status=r.status, reported_at=r.reported_at) for r in rows[:limit]],
    )
