"""Patrols (巡查): a walk through the grid, made on the device under its own id (so a patrol
started offline and sent again is the same one), its points uploaded in numbered batches (a
batch sent again is stored once), finished once with its length, and read back as tracks
and as the grid's coverage."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from services.routing import domain_geo
from services.routing.schemas_duty import (
    BatchAccepted,
    Coverage,
    CoverageCell,
    PatrolCreate,
    PatrolList,
    PatrolRead,
    PointBatch,
    Track,
)
from services.routing.store import duty as store
from shared.auth import Principal
from shared.contracts.routing import PatrolFinished
from shared.db.uow import UnitOfWork
from shared.paging import decode_moment_cursor, moment_cursor, page_of
from shared.problems import Conflict, Forbidden, NotFound, RuleViolation

from .access import (
    check_device_time,
    reading_scope,
    require_grid_worker,
    require_manager_of,
    require_owner_or_manager,
    require_worker_of,
    shaped,
)


def _read(row: object) -> PatrolRead:
    return shaped(PatrolRead, row)


async def start_patrol(uow: UnitOfWork, *, principal: Principal, cmd: PatrolCreate,
                       now: datetime) -> PatrolRead:
    """The patrol under the device's id; the same id again answers the same patrol."""
    require_worker_of(principal, cmd.grid_code)
    check_device_time(cmd.started_at, now)
    async with uow:
        row = await store.insert_patrol(uow, {
            "id": cmd.id, "worker_id": principal.subject, "grid_code": cmd.grid_code,
            "started_at": cmd.started_at, "points": 0, "distance_m": 0.0,
            "status": "recording", "created_at": now,
        })
    if row["worker_id"] != principal.subject or row["grid_code"] != cmd.grid_code:
        raise Conflict("another patrol has this id", code="patrol_id_taken")
    return _read(row)


async def add_points(uow: UnitOfWork, *, principal: Principal, patrol_id: uuid.UUID,
                     batch: PointBatch) -> BatchAccepted:
    """Store one batch of points in one statement; a batch stored before is a no-op."""
    require_grid_worker(principal)
    points = [(p.lat, p.lng, p.at, p.accuracy_m) for p in batch.points]
    async with uow:
        stored = await store.add_batch(uow, patrol_id=patrol_id, worker_id=principal.subject,
                                       batch_seq=batch.batch_seq, points=points)
        if stored:
            return BatchAccepted(patrol_id=patrol_id, batch_seq=batch.batch_seq,
                                 accepted=stored, duplicate=False)
        # Nothing written: say why (rare, so a second query is fine here).
        patrol = await store.get_patrol(uow, patrol_id)
        if patrol is None:
            raise NotFound("no such patrol", code="patrol_not_found")
        if patrol["worker_id"] != principal.subject:
            raise Forbidden("another worker's patrol", code="out_of_scope")
        if await store.batch_stored(uow, patrol_id, batch.batch_seq):
            return BatchAccepted(patrol_id=patrol_id, batch_seq=batch.batch_seq, accepted=0,
                                 duplicate=True)
    raise Conflict("the patrol is finished", code="patrol_finished")


async def add_points_now(pool: asyncpg.Pool, uow: UnitOfWork, *, principal: Principal,
                         patrol_id: uuid.UUID, batch: PointBatch) -> BatchAccepted:
    """``add_points`` on the fast lane (services/routing/fastlane.py): the batch in one
    autocommit statement on the points pool, a round trip where a unit of work takes three.
    A batch that stores nothing (sent before, not the worker's, finished, unknown) is rare:
    ``add_points`` answers it, with its reasons."""
    require_grid_worker(principal)
    stored = await store.add_batch_now(
        pool, patrol_id=patrol_id, worker_id=principal.subject, batch_seq=batch.batch_seq,
        points=[(p.lat, p.lng, p.at, p.accuracy_m) for p in batch.points])
    if stored:
        return BatchAccepted(patrol_id=patrol_id, batch_seq=batch.batch_seq, accepted=stored,
                             duplicate=False)
    return await add_points(uow, principal=principal, patrol_id=patrol_id, batch=batch)


async def finish_patrol(uow: UnitOfWork, *, principal: Principal, patrol_id: uuid.UUID,
                        ended_at: datetime, now: datetime) -> PatrolRead:
    """Close the patrol with its length over all its points, announced once as
    ``routing.patrol_finished``; finishing again answers the finished patrol."""
    require_grid_worker(principal)
    async with uow:
        patrol = await store.get_patrol(uow, patrol_id, lock=True)
        if patrol is None:
            raise NotFound("no such patrol", code="patrol_not_found")
        if patrol["worker_id"] != principal.subject:
            raise Forbidden("another worker's patrol", code="out_of_scope")
        if patrol["status"] == "finished":
            return _read(patrol)
        if ended_at < patrol["started_at"]:
            raise RuleViolation("the patrol ends before it starts", code="ended_before_start")
        check_device_time(ended_at, now)
        points, length_m = await store.track_length(uow, patrol_id,
                                                    radius_m=domain_geo.EARTH_RADIUS_M)
        distance = round(length_m, 1)
        row = await store.finish_patrol(uow, patrol_id, {
            "ended_at": ended_at, "points": points, "distance_m": distance,
            "status": "finished"})
        await uow.emit("routing.patrol_finished", PatrolFinished(
            patrol_id=patrol_id, worker_id=row["worker_id"], grid_code=row["grid_code"],
            started_at=row["started_at"], ended_at=ended_at, distance_m=distance,
            points=points))
    return _read(row)


async def list_patrols(uow: UnitOfWork, *, principal: Principal, worker_id: uuid.UUID | None,
                       grid_code: str | None, since: datetime | None, until: datetime | None,
                       cursor: str | None, limit: int) -> PatrolList:
    """Newest first: a manager's in their regions, a worker's own."""
    worker, prefixes = reading_scope(principal, worker_id, grid_code)
    after = decode_moment_cursor(cursor)
    async with uow:
        rows = await store.list_patrols(uow, prefixes=prefixes, worker_id=worker,
                                        grid_code=grid_code, since=since, until=until,
                                        after=after, limit=limit + 1)
    page, next_cursor = page_of(rows, limit, lambda r: moment_cursor(r["started_at"], r["id"]))
    return PatrolList(items=[_read(r) for r in page], next_cursor=next_cursor)


async def patrol_track(uow: UnitOfWork, *, principal: Principal, patrol_id: uuid.UUID
                       ) -> Track:
    """The points in the order recorded: for the worker and managers over the grid."""
    async with uow:
        patrol = await store.get_patrol(uow, patrol_id)
        if patrol is None:
            raise NotFound("no such patrol", code="patrol_not_found")
        require_owner_or_manager(principal, patrol["worker_id"], patrol["grid_code"])
        rows = await store.track(uow, patrol_id)
    return Track(patrol_id=patrol_id, points=[(r["lat"], r["lng"], r["at"]) for r in rows])


async def coverage(uow: UnitOfWork, *, principal: Principal, grid_code: str,
                   since: datetime | None, until: datetime | None, cell_m: float) -> Coverage:
    """Where the grid's patrols went in [since, until): cells and how many patrols passed
    each, and the share of the grid's area they cover."""
    require_manager_of(principal, grid_code)
    async with uow:
        area = await store.get_area(uow, grid_code)
        polygon = [(p[0], p[1]) for p in area["polygon"]] if area is not None else None
        size = domain_geo.cell_size_for(polygon, cell_m)
        reference = area["centre_lat"] if area is not None else 24.5  # Zhangzhou's latitude
        grid = domain_geo.CellGrid(size, reference)
        rows = await store.coverage_cells(uow, grid_code=grid_code, since=since, until=until,
                                          dlat=grid.dlat, dlng=grid.dlng)
    cells = {(int(r["i"]), int(r["j"])): int(r["visits"]) for r in rows}
    ratio = domain_geo.covered_ratio(grid.area_cells(polygon), cells) if polygon else None
    return Coverage(grid_code=grid_code, cell_m=size, covered_ratio=ratio, cells=[
        CoverageCell(lat=round(lat, 6), lng=round(lng, 6), visits=visits)
        for (i, j), visits in cells.items() for lat, lng in [grid.cell_centre(i, j)]])
