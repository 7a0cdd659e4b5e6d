"""Grid areas, duty rosters and a worker's duty today."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta

from services.routing import domain_geo
from services.routing.schemas_duty import (
    AreaIn,
    AreaRead,
    CheckInRead,
    RosterIn,
    RosterList,
    RosterRead,
    Shift,
    TodayDuty,
)
from services.routing.store import duty as store
from services.routing.store import workforce
from shared.auth import Principal
from shared.calendar import SHANGHAI
from shared.db.uow import UnitOfWork
from shared.problems import NotFound, RuleViolation

from .access import (
    require_grid_worker,
    require_manager_of,
    require_reader_of,
    shanghai_day,
    shaped,
)

LONGEST_ROSTER_RANGE = timedelta(days=62)


def area_read(row: object) -> AreaRead:
    area = dict(row)  # type: ignore[call-overload]
    return AreaRead(grid_code=area["grid_code"], polygon=[tuple(p) for p in area["polygon"]],
                    centre=(area["centre_lat"], area["centre_lng"]))


async def put_area(uow: UnitOfWork, *, principal: Principal, grid_code: str, cmd: AreaIn,
                   now: datetime) -> AreaRead:
    """A manager over the grid draws (or redraws) its boundary."""
    require_manager_of(principal, grid_code)
    polygon = [(float(lat), float(lng)) for lat, lng in cmd.polygon]
    if not domain_geo.is_simple_area(polygon):
        raise RuleViolation("the boundary encloses no area", code="area_invalid")
    lat, lng = domain_geo.centre(polygon)
    async with uow:
        row = await store.put_area(uow, {
            "grid_code": grid_code, "polygon": [list(p) for p in polygon], "centre_lat": lat,
            "centre_lng": lng, "updated_by": principal.subject, "updated_at": now})
    return area_read(row)


async def get_area(uow: UnitOfWork, *, principal: Principal, grid_code: str) -> AreaRead:
    require_reader_of(principal, grid_code)
    async with uow:
        row = await store.get_area(uow, grid_code)
    if row is None:
        raise NotFound("no boundary was drawn for this grid", code="no_area")
    return area_read(row)


async def put_roster(uow: UnitOfWork, *, principal: Principal, grid_code: str, day: date,
                     cmd: RosterIn, now: datetime) -> RosterRead:
    """Who is on duty in the grid on ``day`` (replacing that day's roster): active grid
    workers enrolled in that grid only."""
    require_manager_of(principal, grid_code)
    if cmd.starts and cmd.ends and cmd.starts >= cmd.ends:
        raise RuleViolation("the shift ends before it starts", code="shift_hours_invalid")
    worker_ids = list(dict.fromkeys(cmd.worker_ids))
    async with uow:
        enrolled = {w["user_id"] for w in await workforce.active_workers_of_grid(uow, grid_code)}
        if outsiders := [str(w) for w in worker_ids if w not in enrolled]:
            raise RuleViolation(f"not active grid workers of this grid: {', '.join(outsiders)}",
                                code="worker_not_in_grid")
        row = await store.put_roster(uow, {
            "grid_code": grid_code, "day": day, "worker_ids": worker_ids,
            "starts": cmd.starts, "ends": cmd.ends, "updated_by": principal.subject,
            "updated_at": now})
    return shaped(RosterRead, row)


async def rosters(uow: UnitOfWork, *, principal: Principal, grid_code: str,
                  since: date | None, until: date | None, now: datetime) -> RosterList:
    """The grid's rosters from ``since`` (default today) to ``until`` (default a week on)."""
    require_reader_of(principal, grid_code)
    first = since or shanghai_day(now)
    last = until or first + timedelta(days=6)
    if last < first or last - first > LONGEST_ROSTER_RANGE:
        raise RuleViolation("the range ends before it starts or spans over 62 days",
                            code="date_range_invalid")
    async with uow:
        rows = await store.rosters_between(uow, grid_code, first, last)
    return RosterList(items=[shaped(RosterRead, r) for r in rows])


async def today(uow: UnitOfWork, *, principal: Principal, now: datetime) -> TodayDuty:
    """The worker's shifts today and whether they are checked in (their last check today was
    an ``in``)."""
    require_grid_worker(principal)
    day = shanghai_day(now)
    start = datetime.combine(day, time.min, SHANGHAI)
    async with uow:
        shifts = await store.shifts_of(uow, principal.subject, day)
        last = await store.last_check(uow, principal.subject, start, start + timedelta(days=1))
    return TodayDuty(
        day=day, shifts=[shaped(Shift, s) for s in shifts],
        checked_in=shaped(CheckInRead, last)
        if last is not None and last["kind"] == "in" else None)


async def leave_rosters(uow: UnitOfWork, *, worker_id: uuid.UUID, left_on: date) -> int:
    """In the caller's transaction (a worker's leaving): off every roster after ``left_on``,
    so no shift names someone who has gone; how many days changed."""
    return await store.drop_from_rosters(uow, worker_id, left_on + timedelta(days=1))
