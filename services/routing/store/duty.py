"""Grid duty's tables and queries: areas, rosters, check-ins, patrols (batches and points) and
daily logs. Never commits. The points of a batch go in with one statement, conditional on
the batch key (hot path: thousands of workers upload at once)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import (
    REAL,
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Date,
    DateTime,
    Float,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, insert

from services.routing.store.common import fetch_all, fetch_one
from services.routing.store.tables import metadata, regions
from shared.db.statements import Statement
from shared.db.uow import UnitOfWork


def _ts(name: str) -> Column:
    return Column(name, DateTime(timezone=True))


grid_areas = Table(
    "grid_areas", metadata,
    Column("grid_code", String(15), primary_key=True), Column("polygon", JSONB),
    Column("centre_lat", Float), Column("centre_lng", Float),
    Column("updated_by", UUID(as_uuid=True)), _ts("updated_at"),
)
duty_rosters = Table(
    "duty_rosters", metadata,
    Column("grid_code", String(15), primary_key=True), Column("day", Date, primary_key=True),
    Column("worker_ids", ARRAY(UUID(as_uuid=True))), Column("starts", String(5)),
    Column("ends", String(5)), Column("updated_by", UUID(as_uuid=True)), _ts("updated_at"),
)
check_ins = Table(
    "check_ins", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("worker_id", UUID(as_uuid=True)),
    Column("kind", String(3)), Column("grid_code", String(15)), _ts("at"),
    Column("lat", Float), Column("lng", Float), Column("accuracy_m", Float),
    Column("distance_m", Float), Column("flagged", Boolean), Column("flag_reason", String(24)),
    _ts("recorded_at"),
)
patrols = Table(
    "patrols", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("worker_id", UUID(as_uuid=True)),
    Column("grid_code", String(15)), _ts("started_at"), _ts("ended_at"),
    Column("points", Integer), Column("distance_m", Float), Column("status", String(12)),
    _ts("created_at"),
)
patrol_batches = Table(
    "patrol_batches", metadata,
    Column("patrol_id", UUID(as_uuid=True), primary_key=True),
    Column("batch_seq", Integer, primary_key=True), Column("points", SmallInteger),
    _ts("received_at"),
)
patrol_points = Table(
    "patrol_points", metadata,
    Column("patrol_id", UUID(as_uuid=True), primary_key=True),
    Column("batch_seq", Integer, primary_key=True), Column("idx", SmallInteger, primary_key=True),
    Column("lat", Float), Column("lng", Float), _ts("at"), Column("accuracy_m", REAL),
)
duty_logs = Table(
    "duty_logs", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("worker_id", UUID(as_uuid=True)),
    Column("grid_code", String(15)), Column("day", Date), Column("text", Text),
    Column("text_original", Text), _ts("recorded_at"),
)
_LOG_READ = [c for c in duty_logs.c if c.name != "text_original"]


def in_scope(column: Any, prefixes: list[str] | None) -> ColumnElement[bool] | None:
    """Rows whose region code starts with one of ``prefixes`` (None: everything)."""
    if prefixes is None:
        return None
    return or_(*[column.startswith(p) for p in prefixes]) if prefixes else column.is_(None)


def _where(query: Any, *conditions: ColumnElement[bool] | None) -> Any:
    return query.where(*[c for c in conditions if c is not None])


# -- areas and rosters --------------------------------------------------------------------------


async def put_area(uow: UnitOfWork, values: dict[str, Any]) -> Any:
    query = insert(grid_areas).values(**values)
    query = query.on_conflict_do_update(index_elements=["grid_code"], set_={
        k: query.excluded[k] for k in values if k != "grid_code"})
    return await fetch_one(uow, query.returning(*grid_areas.c))


async def get_area(uow: UnitOfWork, grid_code: str) -> Any | None:
    return await fetch_one(uow, select(grid_areas).where(grid_areas.c.grid_code == grid_code))


async def put_roster(uow: UnitOfWork, values: dict[str, Any]) -> Any:
    query = insert(duty_rosters).values(**values)
    query = query.on_conflict_do_update(index_elements=["grid_code", "day"], set_={
        k: query.excluded[k] for k in values if k not in ("grid_code", "day")})
    return await fetch_one(uow, query.returning(*duty_rosters.c))


async def rosters_between(uow: UnitOfWork, grid_code: str, since: date, until: date
                          ) -> list[Any]:
    t = duty_rosters
    return await fetch_all(uow, select(t).where(
        t.c.grid_code == grid_code, t.c.day >= since, t.c.day <= until).order_by(t.c.day))


async def drop_from_rosters(uow: UnitOfWork, worker_id: uuid.UUID, since: date) -> int:
    """Take the worker off every roster from ``since`` on; how many days changed."""
    t = duty_rosters
    result = await uow.connection.execute(
        update(t).where(t.c.day >= since, t.c.worker_ids.contains([worker_id]))
        .values(worker_ids=func.array_remove(t.c.worker_ids, worker_id)))
    return int(getattr(result, "rowcount", 0) or 0)


async def shifts_of(uow: UnitOfWork, worker_id: uuid.UUID, day: date) -> list[Any]:
    """The worker's shifts that day, with each grid's name."""
    t = duty_rosters
    query = (select(t.c.grid_code, regions.c.name.label("grid_name"), t.c.starts, t.c.ends)
             .select_from(t.outerjoin(regions, regions.c.code == t.c.grid_code))
             .where(t.c.day == day, t.c.worker_ids.contains([worker_id]))
             .order_by(t.c.starts, t.c.grid_code))
    return await fetch_all(uow, query)


# -- check-ins ----------------------------------------------------------------------------------


async def insert_check_in(uow: UnitOfWork, values: dict[str, Any]) -> Any:
    """The new check-in, or the one stored before under its id."""
    return await fetch_one(uow, insert(check_ins).values(**values)
                           .on_conflict_do_nothing().returning(*check_ins.c)
                           ) or await get_check_in(uow, values["id"])


async def get_check_in(uow: UnitOfWork, check_in_id: uuid.UUID) -> Any | None:
    return await fetch_one(uow, select(check_ins).where(check_ins.c.id == check_in_id))


async def last_check(uow: UnitOfWork, worker_id: uuid.UUID, start: datetime, end: datetime
                     ) -> Any | None:
    """The worker's latest check (in or out) in [start, end)."""
    t = check_ins
    return await fetch_one(uow, select(t).where(
        t.c.worker_id == worker_id, t.c.at >= start, t.c.at < end,
    ).order_by(t.c.at.desc(), t.c.id.desc()).limit(1))


async def list_check_ins(uow: UnitOfWork, *, prefixes: list[str] | None,
                         worker_id: uuid.UUID | None, grid_code: str | None,
                         since: datetime | None, until: datetime | None, flagged: bool | None,
                         after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[Any]:
    t = check_ins
    query = _where(
        select(t), in_scope(t.c.grid_code, prefixes),
        t.c.worker_id == worker_id if worker_id else None,
        t.c.grid_code == grid_code if grid_code else None,
        t.c.at >= since if since else None, t.c.at < until if until else None,
        t.c.flagged.is_(flagged) if flagged is not None else None,
        tuple_(t.c.at, t.c.id) < tuple_(*after) if after else None)
    return await fetch_all(uow, query.order_by(t.c.at.desc(), t.c.id.desc()).limit(limit))


# -- patrols ------------------------------------------------------------------------------------


async def insert_patrol(uow: UnitOfWork, values: dict[str, Any]) -> Any:
    """The new patrol, or the one stored before under its id."""
    return await fetch_one(uow, insert(patrols).values(**values)
                           .on_conflict_do_nothing().returning(*patrols.c)
                           ) or await get_patrol(uow, values["id"])


async def get_patrol(uow: UnitOfWork, patrol_id: uuid.UUID, *, lock: bool = False
                     ) -> Any | None:
    query = select(patrols).where(patrols.c.id == patrol_id)
    return await fetch_one(uow, query.with_for_update() if lock else query)


# The batch key first, then its points, in one statement: the batch row is written only while
# the patrol is the worker's and recording (FOR SHARE: a finish waits for batches in flight,
# and a batch after it finds the patrol finished), and a batch already stored writes nothing.
# Times go as microseconds since the epoch, exactly: asyncpg encodes an int8 array in half
# the CPU of a timestamptz one (50 µs a batch).
_ADD_BATCH = Statement(text("""
WITH patrol AS (
    SELECT id FROM patrols
     WHERE id = :patrol_id AND worker_id = :worker_id AND status = 'recording'
       FOR SHARE
), batch AS (
    INSERT INTO patrol_batches (patrol_id, batch_seq, points, received_at)
    SELECT id, :batch_seq, :n, now() FROM patrol
    ON CONFLICT DO NOTHING
    RETURNING patrol_id
)
INSERT INTO patrol_points (patrol_id, batch_seq, idx, lat, lng, at, accuracy_m)
SELECT batch.patrol_id, :batch_seq, (p.ord - 1)::smallint, p.lat, p.lng,
       timestamptz 'epoch' + p.us * interval '1 microsecond', p.accuracy_m
  FROM batch, unnest(:lats, :lngs, :micros, :accuracies) WITH ORDINALITY
       AS p(lat, lng, us, accuracy_m, ord)
""").bindparams(
    bindparam("patrol_id", type_=UUID(as_uuid=True)),
    bindparam("worker_id", type_=UUID(as_uuid=True)),
    bindparam("batch_seq", type_=Integer), bindparam("n", type_=SmallInteger),
    bindparam("lats", type_=ARRAY(Float)), bindparam("lngs", type_=ARRAY(Float)),
    bindparam("micros", type_=ARRAY(BigInteger)),
    bindparam("accuracies", type_=ARRAY(REAL)),
))
_BATCH_STORED = Statement(
    select(func.count()).select_from(patrol_batches).where(
        patrol_batches.c.patrol_id == bindparam("patrol_id", type_=UUID(as_uuid=True)),
        patrol_batches.c.batch_seq == bindparam("batch_seq", type_=Integer)))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _batch_params(patrol_id: uuid.UUID, worker_id: uuid.UUID, batch_seq: int,
                  points: list[tuple[float, float, datetime, float | None]]) -> dict[str, Any]:
    return {
        "patrol_id": patrol_id, "worker_id": worker_id, "batch_seq": batch_seq,
        "n": len(points), "lats": [p[0] for p in points], "lngs": [p[1] for p in points],
        "micros": [(p[2] - _EPOCH) // _MICROSECOND for p in points],
        "accuracies": [p[3] for p in points]}


async def add_batch(uow: UnitOfWork, *, patrol_id: uuid.UUID, worker_id: uuid.UUID,
                    batch_seq: int, points: list[tuple[float, float, datetime, float | None]]
                    ) -> int:
    """How many points were stored: 0 when the batch was stored before, or the patrol is not
    the worker's recording one (the caller tells which)."""
    return await uow.execute(_ADD_BATCH, _batch_params(patrol_id, worker_id, batch_seq, points))


async def add_batch_now(pool: asyncpg.Pool, *, patrol_id: uuid.UUID, worker_id: uuid.UUID,
                        batch_seq: int,
                        points: list[tuple[float, float, datetime, float | None]]) -> int:
    """``add_batch`` as a transaction of its own: the one statement in autocommit on the
    points pool, one round trip instead of BEGIN, the statement and COMMIT (it is atomic
    alone, and its FOR SHARE holds the patrol against a finish just as long)."""
    status = await pool.execute(_ADD_BATCH.sql, *_ADD_BATCH.arguments(
        _batch_params(patrol_id, worker_id, batch_seq, points)))
    count = status.rsplit(" ", 1)[-1]
    return int(count) if count.isdigit() else 0


async def batch_stored(uow: UnitOfWork, patrol_id: uuid.UUID, batch_seq: int) -> bool:
    return bool(await uow.fetchval(_BATCH_STORED, {"patrol_id": patrol_id,
                                                   "batch_seq": batch_seq}))


_TRACK = Statement(
    select(patrol_points.c.lat, patrol_points.c.lng, patrol_points.c.at)
    .where(patrol_points.c.patrol_id == bindparam("patrol_id", type_=UUID(as_uuid=True)))
    .order_by(patrol_points.c.batch_seq, patrol_points.c.idx))


async def track(uow: UnitOfWork, patrol_id: uuid.UUID) -> list[Any]:
    """The patrol's points in the order recorded: batch by batch, each in its order (raw
    records: a track is hundreds of rows, read at every finish)."""
    return await uow.fetch(_TRACK, {"patrol_id": patrol_id})


# How many points and how long the track, in the database: each step from the point before
# in the order recorded (LAG over batch, index), by the haversine formula of domain_geo on
# the same sphere (the first point has no step: LEAST skips NULLs, so it is filtered out, not
# left to propagate). Python took 6-15 ms of CPU a finish for 500 points; this, one scan.
_TRACK_LENGTH = Statement(text("""
SELECT count(*) AS points, coalesce(sum(
           2 * :radius_m * asin(least(1.0, sqrt(
               power(sin((radians(lat) - radians(prev_lat)) / 2), 2)
               + cos(radians(prev_lat)) * cos(radians(lat))
                 * power(sin((radians(lng) - radians(prev_lng)) / 2), 2))))
       ) FILTER (WHERE prev_lat IS NOT NULL), 0.0) AS length_m
  FROM (SELECT lat, lng,
               lag(lat) OVER recorded AS prev_lat, lag(lng) OVER recorded AS prev_lng
          FROM patrol_points
         WHERE patrol_id = :patrol_id
        WINDOW recorded AS (ORDER BY batch_seq, idx)) AS steps
""").bindparams(bindparam("patrol_id", type_=UUID(as_uuid=True)),
                bindparam("radius_m", type_=Float)))


async def track_length(uow: UnitOfWork, patrol_id: uuid.UUID, *, radius_m: float
                       ) -> tuple[int, float]:
    """The patrol's number of points and its length in metres through them in the order
    recorded, on a sphere of ``radius_m``."""
    row = await uow.fetchrow(_TRACK_LENGTH, {"patrol_id": patrol_id, "radius_m": radius_m})
    assert row is not None  # an aggregate answers one row
    return int(row["points"]), float(row["length_m"])


async def finish_patrol(uow: UnitOfWork, patrol_id: uuid.UUID, values: dict[str, Any]) -> Any:
    return await fetch_one(uow, update(patrols).where(patrols.c.id == patrol_id)
                           .values(**values).returning(*patrols.c))


async def list_patrols(uow: UnitOfWork, *, prefixes: list[str] | None,
                       worker_id: uuid.UUID | None, grid_code: str | None,
                       since: datetime | None, until: datetime | None,
                       after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[Any]:
    t = patrols
    query = _where(
        select(t), in_scope(t.c.grid_code, prefixes),
        t.c.worker_id == worker_id if worker_id else None,
        t.c.grid_code == grid_code if grid_code else None,
        t.c.started_at >= since if since else None,
        t.c.started_at < until if until else None,
        tuple_(t.c.started_at, t.c.id) < tuple_(*after) if after else None)
    return await fetch_all(uow, query.order_by(t.c.started_at.desc(), t.c.id.desc())
                           .limit(limit))


async def coverage_cells(uow: UnitOfWork, *, grid_code: str, since: datetime | None,
                         until: datetime | None, dlat: float, dlng: float) -> list[Any]:
    """Per cell (``i``, ``j``: floor of lat / dlat and lng / dlng) the patrols of the grid
    that passed through it, counting the points recorded in [since, until)."""
    p, t = patrols, patrol_points
    i = func.floor(t.c.lat / dlat).label("i")
    j = func.floor(t.c.lng / dlng).label("j")
    query = _where(
        select(i, j, func.count(t.c.patrol_id.distinct()).label("visits"))
        .select_from(t.join(p, p.c.id == t.c.patrol_id)),
        p.c.grid_code == grid_code,
        t.c.at >= since if since else None, t.c.at < until if until else None)
    return await fetch_all(uow, query.group_by(i, j).order_by(i, j))


# -- daily logs ---------------------------------------------------------------------------------


async def insert_log(uow: UnitOfWork, values: dict[str, Any]) -> Any:
    """The new log, or the one stored before under its id."""
    return await fetch_one(uow, insert(duty_logs).values(**values)
                           .on_conflict_do_nothing().returning(*_LOG_READ)
                           ) or await get_log(uow, values["id"])


async def get_log(uow: UnitOfWork, log_id: uuid.UUID) -> Any | None:
    return await fetch_one(uow, select(*_LOG_READ).where(duty_logs.c.id == log_id))


async def list_logs(uow: UnitOfWork, *, prefixes: list[str] | None,
                    worker_id: uuid.UUID | None, grid_code: str | None, since: date | None,
                    until: date | None, after: tuple[datetime, uuid.UUID] | None, limit: int
                    ) -> list[Any]:
    t = duty_logs
    query = _where(
        select(*_LOG_READ), in_scope(t.c.grid_code, prefixes),
        t.c.worker_id == worker_id if worker_id else None,
        t.c.grid_code == grid_code if grid_code else None,
        t.c.day >= since if since else None, t.c.day <= until if until else None,
        and_(tuple_(t.c.recorded_at, t.c.id) < tuple_(*after)) if after else None)
    return await fetch_all(uow, query.order_by(t.c.recorded_at.desc(), t.c.id.desc())
                           .limit(limit))
