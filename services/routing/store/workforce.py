"""Grid workers' working life (网格员): profiles, trainings, tasks and their trail. Never
commits: the service layer owns transactions."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, array
from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.routing.store.common import fetch_all, fetch_one
from services.routing.store.duty import duty_rosters
from services.routing.store.tables import grid_workers, metadata
from shared.db.uow import UnitOfWork


def _ts(name: str) -> Column:
    return Column(name, DateTime(timezone=True))


profiles = Table(
    "grid_worker_profiles", metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True), Column("display_name", String(100)),
    Column("kind", String(16)), Column("grid_codes", ARRAY(String(15))),
    Column("started_on", Date), Column("phone", Text), Column("status", String(8)),
    Column("left_on", Date), Column("successor_id", UUID(as_uuid=True)),
    Column("left_reason", Text), Column("left_reason_original", Text),
    Column("enrolled_by", UUID(as_uuid=True)), _ts("created_at"), _ts("updated_at"),
)
trainings = Table(
    "grid_worker_trainings", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("user_id", UUID(as_uuid=True)),
    Column("course", String(200)), Column("held_on", Date), Column("result", String(16)),
    Column("hours", Float), Column("note", Text), Column("note_original", Text),
    Column("recorded_by", UUID(as_uuid=True)), _ts("recorded_at"),
)
tasks = Table(
    "grid_tasks", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("kind", String(16)),
    Column("title", String(200)), Column("detail", Text), Column("detail_original", Text),
    Column("grid_code", String(15)), Column("worker_id", UUID(as_uuid=True)),
    Column("event_id", UUID(as_uuid=True)), Column("case_no", String(32)),
    Column("source_step", BigInteger), _ts("due_at"), Column("status", String(16)),
    Column("created_by", UUID(as_uuid=True)), _ts("created_at"), _ts("completed_at"),
    Column("completed_by", UUID(as_uuid=True)), Column("on_time", Boolean),
    Column("evidence", JSONB), Column("evidence_note_original", Text),
)
trail = Table(
    "grid_task_trail", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("task_id", UUID(as_uuid=True)), _ts("at"), Column("action", String(16)),
    Column("actor_id", UUID(as_uuid=True)), Column("from_worker_id", UUID(as_uuid=True)),
    Column("to_worker_id", UUID(as_uuid=True)), Column("note", Text),
)
staff_accounts = Table(
    "staff_accounts", metadata,
    Column("staff_id", UUID(as_uuid=True), primary_key=True), Column("roles", ARRAY(String(24))),
    Column("active", Boolean), Column("version", BigInteger),
)
case_checks = Table(
    "grid_case_checks", metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("verified_step", BigInteger),
)

# What reads return: never the encrypted originals.
_PROFILE = [c for c in profiles.c if not c.name.endswith("_original")]
_TRAINING = [c for c in trainings.c if not c.name.endswith("_original")]
_TASK = [c for c in tasks.c if not c.name.endswith("_original")]
OPEN = "open"


# -- profiles ----------------------------------------------------------------------------------


async def get_profile(uow: UnitOfWork, user_id: uuid.UUID, *, lock: bool = False) -> Any | None:
    query = select(*_PROFILE).where(profiles.c.user_id == user_id)
    return await fetch_one(uow, query.with_for_update() if lock else query)


async def upsert_profile(uow: UnitOfWork, values: dict[str, Any]) -> Any:
    """Enrol, or re-enrol one who left: the row starts over (their trainings stay)."""
    fresh = {k: v for k, v in values.items() if k not in ("user_id", "created_at")}
    statement = (pg_insert(profiles).values(**values)
                 .on_conflict_do_update(index_elements=["user_id"], set_=fresh)
                 .returning(*_PROFILE))
    return await fetch_one(uow, statement)


async def update_profile(uow: UnitOfWork, user_id: uuid.UUID, values: dict[str, Any]) -> Any:
    return await fetch_one(uow, update(profiles).where(profiles.c.user_id == user_id)
                           .values(**values).returning(*_PROFILE))


async def set_memberships(uow: UnitOfWork, user_id: uuid.UUID, grid_codes: list[str]) -> None:
    """The worker's rows in ``grid_workers`` (the grids' member lists) become ``grid_codes``."""
    await uow.connection.execute(delete(grid_workers).where(grid_workers.c.user_id == user_id))
    if grid_codes:
        await uow.connection.execute(
            pg_insert(grid_workers).values([{"user_id": user_id, "grid_code": code}
                                            for code in grid_codes]).on_conflict_do_nothing())


def _in_prefixes(prefixes: list[str]) -> Any:
    """Some grid of the profile lies under one of the region prefixes."""
    grid = func.unnest(profiles.c.grid_codes).table_valued("code").render_derived(name="g")
    return select(literal(1)).select_from(grid).where(
        or_(*[grid.c.code.startswith(p) for p in prefixes])).exists()


async def list_profiles(uow: UnitOfWork, *, prefixes: list[str] | None, grid_code: str | None,
                        status: str | None, after: tuple[datetime, uuid.UUID] | None,
                        limit: int) -> list[Any]:
    """Profiles with a grid under ``prefixes`` (None: everywhere), oldest enrolment first,
    after the keyset (created_at, user_id)."""
    query = select(*_PROFILE)
    if prefixes is not None:
        if not prefixes:
            return []
        query = query.where(_in_prefixes(prefixes))
    if grid_code is not None:
        query = query.where(profiles.c.grid_codes.contains([grid_code]))
    if status is not None:
        query = query.where(profiles.c.status == status)
    if after is not None:
        at, user_id = after
        query = query.where(or_(profiles.c.created_at > at,
                                and_(profiles.c.created_at == at, profiles.c.user_id > user_id)))
    return await fetch_all(uow, query.order_by(profiles.c.created_at, profiles.c.user_id)
                           .limit(limit))


async def active_workers_of_grid(uow: UnitOfWork, grid_code: str,
                                 on_duty: date | None = None) -> list[Any]:
    """The grid's active workers, each with how many open tasks they hold: those on the
    grid's roster for ``on_duty`` first, then the least loaded, then the longest serving,
    then by id (a deterministic choice)."""
    load = (select(func.count()).select_from(tasks)
            .where(tasks.c.worker_id == profiles.c.user_id, tasks.c.status == OPEN)
            .scalar_subquery())
    rostered = (select(literal(1)).select_from(duty_rosters)
                .where(duty_rosters.c.grid_code == grid_code, duty_rosters.c.day == on_duty,
                       duty_rosters.c.worker_ids.contains(array([profiles.c.user_id])))
                .exists()) if on_duty is not None else literal(False)
    query = (select(profiles.c.user_id, profiles.c.display_name, load.label("open_tasks"))
             .where(profiles.c.status == "active", profiles.c.grid_codes.contains([grid_code]))
             .order_by(rostered.desc(), load, profiles.c.started_on, profiles.c.user_id))
    return await fetch_all(uow, query)


# -- trainings ---------------------------------------------------------------------------------


async def insert_training(uow: UnitOfWork, values: dict[str, Any]) -> Any:
    return await fetch_one(uow, insert(trainings).values(**values).returning(*_TRAINING))


async def trainings_of(uow: UnitOfWork, user_ids: list[uuid.UUID]) -> list[Any]:
    query = (select(*_TRAINING).where(trainings.c.user_id.in_(user_ids))
             .order_by(trainings.c.held_on, trainings.c.recorded_at, trainings.c.id))
    return await fetch_all(uow, query) if user_ids else []


# -- tasks -------------------------------------------------------------------------------------


async def insert_task(uow: UnitOfWork, values: dict[str, Any]) -> Any | None:
    """The new task; None when it is a verification duty that already exists."""
    statement = pg_insert(tasks).values(**values)
    if values.get("kind") == "verification":
        statement = statement.on_conflict_do_nothing(
            index_elements=["event_id", "source_step"],
            # A literal: the index's predicate is matched as written, not as a parameter.
            index_where=text("kind = 'verification'"))
    return await fetch_one(uow, statement.returning(*_TASK))


async def get_task(uow: UnitOfWork, task_id: uuid.UUID, *, lock: bool = False) -> Any | None:
    query = select(*_TASK).where(tasks.c.id == task_id)
    return await fetch_one(uow, query.with_for_update() if lock else query)


async def update_task(uow: UnitOfWork, task_id: uuid.UUID, values: dict[str, Any]) -> Any:
    return await fetch_one(uow, update(tasks).where(tasks.c.id == task_id).values(**values)
                           .returning(*_TASK))


async def open_tasks_of_worker(uow: UnitOfWork, worker_id: uuid.UUID) -> list[Any]:
    """Every open task and verification the worker holds, locked (a hand-over moves them)."""
    query = (select(*_TASK).where(tasks.c.worker_id == worker_id, tasks.c.status == OPEN)
             .order_by(tasks.c.due_at, tasks.c.id).with_for_update())
    return await fetch_all(uow, query)


async def open_duties_of_case(uow: UnitOfWork, event_id: uuid.UUID, *,
                              before_step: int | None = None) -> list[Any]:
    """The case's open verification duties (those of submissions before ``before_step``)."""
    query = select(*_TASK).where(tasks.c.event_id == event_id, tasks.c.kind == "verification",
                                 tasks.c.status == OPEN)
    if before_step is not None:
        query = query.where(tasks.c.source_step < before_step)
    return await fetch_all(uow, query.order_by(tasks.c.created_at).with_for_update())


async def list_tasks(uow: UnitOfWork, *, visible: Any, filters: list[Any],
                     after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[Any]:
    """Tasks matching ``visible`` (the caller's scope) and ``filters``, the nearest due
    first, after the keyset (due_at, id)."""
    query = select(*_TASK).where(visible, *filters)
    if after is not None:
        at, task_id = after
        query = query.where(or_(tasks.c.due_at > at,
                                and_(tasks.c.due_at == at, tasks.c.id > task_id)))
    return await fetch_all(uow, query.order_by(tasks.c.due_at, tasks.c.id).limit(limit))


async def add_trail(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    if rows:
        await uow.connection.execute(insert(trail), rows)


async def trails_of(uow: UnitOfWork, task_ids: list[uuid.UUID]) -> list[Any]:
    if not task_ids:
        return []
    query = select(trail).where(trail.c.task_id.in_(task_ids)).order_by(trail.c.id)
    return await fetch_all(uow, query)


# -- cases waiting for their on-site check -----------------------------------------------------


async def lock_case(uow: UnitOfWork, event_id: uuid.UUID) -> int:
    """Lock the case's row (made at first sight) until the transaction ends, so a case's
    submission and its verification, delivered at once, take turns; the latest verification
    step seen (0: none)."""
    statement = pg_insert(case_checks).values(event_id=event_id, verified_step=0)
    statement = statement.on_conflict_do_update(
        index_elements=["event_id"], set_={"verified_step": case_checks.c.verified_step})
    step = await uow.connection.scalar(statement.returning(case_checks.c.verified_step))
    return int(step or 0)


async def note_verification(uow: UnitOfWork, event_id: uuid.UUID, step: int) -> None:
    """Remember the latest verification step seen for the case (locked by ``lock_case``)."""
    await uow.connection.execute(
        update(case_checks).where(case_checks.c.event_id == event_id)
        .values(verified_step=func.greatest(case_checks.c.verified_step, step)))


async def open_grid_tasks(uow: UnitOfWork, grid_code: str) -> list[Any]:
    """The grid's open tasks for every worker of it (no owner), locked."""
    query = (select(*_TASK).where(tasks.c.grid_code == grid_code, tasks.c.worker_id.is_(None),
                                  tasks.c.status == OPEN)
             .order_by(tasks.c.due_at, tasks.c.id).with_for_update())
    return await fetch_all(uow, query)


# -- identity's staff accounts -----------------------------------------------------------------


async def keep_staff_account(uow: UnitOfWork, entry: dict[str, Any]) -> bool:
    """Keep ``entry`` unless as new a version is held; True when it was kept."""
    statement = pg_insert(staff_accounts).values(**entry)
    upsert = statement.on_conflict_do_update(
        index_elements=["staff_id"],
        set_={column: statement.excluded[column] for column in entry if column != "staff_id"},
        where=staff_accounts.c.version < statement.excluded.version,
    ).returning(staff_accounts.c.staff_id)
    return (await uow.connection.execute(upsert)).first() is not None


async def staff_account(uow: UnitOfWork, staff_id: uuid.UUID) -> Any | None:
    return await fetch_one(uow, select(staff_accounts)
                           .where(staff_accounts.c.staff_id == staff_id))
