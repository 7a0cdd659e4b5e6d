"""What other platform services read of cases over /internal/events (never routed by the
gateway; the platform's internal key on every call)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from services.events.store.points import public_cases
from shared.auth.internal import InternalCaller
from shared.problems import BadRequest
from shared.web.deps import Uow

router = APIRouter(prefix="/internal/events", tags=["internal"], include_in_schema=False)
# Three decimals of a degree: about 100 m, a street rather than a door.
PUBLIC_PLACES = 3
LONGEST_SPAN = timedelta(days=90)


class PublicCase(BaseModel):
    id: uuid.UUID
    case_no: str
    category_code: str
    region_code: str
    status: str
    assignee_unit_name: str | None
    lat: float | None
    lng: float | None
    reported_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class PublicCasePage(BaseModel):
    items: list[PublicCase]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, PUBLIC_PLACES)


@router.get("/public-cases", response_model=PublicCasePage)
async def read_public_cases(
    _: InternalCaller, uow: Uow,
    ids: Annotated[list[uuid.UUID] | None, Query(max_length=100)] = None,
    category: Annotated[list[str] | None, Query(max_length=50)] = None,
    status: Annotated[list[str] | None, Query(max_length=20)] = None,
    start: datetime | None = None, end: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> PublicCasePage:
    """Non-sensitive cases, newest first: by ``ids``, else reported in [start, end) (at most
    90 days; by default the last 90), optionally of some categories and statuses. Locations
    are rounded to about 100 m; no reporter, description or address; the unit handling it,
    a public body, is named."""
    until = end or datetime.now(UTC)
    since = start or until - LONGEST_SPAN
    if since.tzinfo is None or until.tzinfo is None:
        raise BadRequest("start and end need a time zone", code="date_invalid")
    if until - since > LONGEST_SPAN or since > until:
        raise BadRequest("start to end spans at most 90 days", code="date_range_invalid")
    async with uow:
        rows = await public_cases(uow, ids=ids, categories=category, statuses=status,
                                  since=since, until=until, limit=limit)
    return PublicCasePage(items=[
        PublicCase(id=r.id, case_no=r.case_no, category_code=r.category_code,
                   region_code=r.region_code, status=r.status,
                   assignee_unit_name=r.assignee_unit_name, lat=_rounded(r.lat),
                   lng=_rounded(r.lng), reported_at=r.reported_at, updated_at=r.updated_at,
                   closed_at=r.closed_at) for r in rows])
