"""Check-in and check-out with the device's place and time. A check far outside the grid's
area is recorded and flagged for the manager, never refused: the worker may be sent
elsewhere, or the device's fix may be poor."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.routing import domain_geo
from services.routing.schemas_duty import CheckInCreate, CheckInList, CheckInRead
from services.routing.store import duty as store
from shared.auth import Principal
from shared.db import idempotency
from shared.db.uow import UnitOfWork
from shared.paging import decode_moment_cursor, moment_cursor, page_of
from shared.problems import Conflict

from .access import check_device_time, reading_scope, require_worker_of, shaped


def placement(area: Any | None, lat: float, lng: float, tolerance_m: float
              ) -> tuple[float | None, bool, str | None]:
    """(distance from the grid's area in metres, flagged, why): without an area nothing can
    be measured, which is said (``no_area``) but not flagged."""
    if area is None:
        return None, False, "no_area"
    polygon = [(p[0], p[1]) for p in area["polygon"]]
    distance = round(domain_geo.distance_to_polygon_m(polygon, (lat, lng)), 1)
    if distance > tolerance_m:
        return distance, True, "far_outside_grid"
    return distance, False, None


async def check_in(uow: UnitOfWork, *, principal: Principal, cmd: CheckInCreate,
                   idempotency_key: str | None, now: datetime, tolerance_m: float
                   ) -> tuple[int, CheckInRead]:
    """Record a check; the same client-made ``id`` or Idempotency-Key again answers the
    check first recorded, never a second one."""
    require_worker_of(principal, cmd.grid_code)
    check_device_time(cmd.at, now)

    async def record() -> tuple[int, CheckInRead]:
        check_id = cmd.id or uuid.uuid4()
        existing = await store.get_check_in(uow, check_id)
        if existing is None:
            distance, flagged, reason = placement(
                await store.get_area(uow, cmd.grid_code), cmd.lat, cmd.lng, tolerance_m)
            existing = await store.insert_check_in(uow, {
                "id": check_id, "worker_id": principal.subject, "kind": cmd.kind,
                "grid_code": cmd.grid_code, "at": cmd.at, "lat": cmd.lat, "lng": cmd.lng,
                "accuracy_m": cmd.accuracy_m, "distance_m": distance, "flagged": flagged,
                "flag_reason": reason, "recorded_at": now,
            })
        if existing["worker_id"] != principal.subject:
            raise Conflict("another check-in has this id", code="check_in_id_taken")
        return 201, shaped(CheckInRead, existing)

    async with uow:
        return await idempotency.once(
            uow, scope=f"routing.check_in:{principal.subject}", key=idempotency_key,
            request=cmd, answer=CheckInRead, work=record)


async def list_check_ins(uow: UnitOfWork, *, principal: Principal, worker_id: uuid.UUID | None,
                         grid_code: str | None, since: datetime | None, until: datetime | None,
                         flagged: bool | None, cursor: str | None, limit: int) -> CheckInList:
    """Newest first: a manager's in their regions, a worker's own."""
    worker, prefixes = reading_scope(principal, worker_id, grid_code)
    after = decode_moment_cursor(cursor)
    async with uow:
        rows = await store.list_check_ins(
            uow, prefixes=prefixes, worker_id=worker, grid_code=grid_code, since=since,
            until=until, flagged=flagged, after=after, limit=limit + 1)
    page, next_cursor = page_of(rows, limit, lambda r: moment_cursor(r["at"], r["id"]))
    return CheckInList(items=[shaped(CheckInRead, r) for r in page],
                       next_cursor=next_cursor)
