"""Tables and queries of the routing service (schema ``routing``). Never commits."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    case,
    func,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, insert

from shared.db.rows import ROW, insert_row, insert_rows, update_by
from shared.db.uow import UnitOfWork

metadata = MetaData()


def _ts(name: str, nullable: bool = True) -> Column:
    return Column(name, DateTime(timezone=True), nullable=nullable)


regions = Table(
    "regions", metadata,
    Column("code", String(15), primary_key=True), Column("name", String(100)),
    Column("level", String(16)), Column("parent_code", String(15)), Column("active", Boolean),
)
units = Table(
    "units", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("name", String(200)),
    Column("kind", String(40)), Column("level", String(16)), Column("region_code", String(15)),
    Column("active", Boolean),
)
rules = Table(
    "rules", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("category_code", String(64)),
    Column("level", String(16)), Column("unit_kind", String(40)), Column("entry", Boolean),
    Column("active", Boolean), _ts("updated_at"),
)
rule_audit = Table(
    "rule_audit", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("rule_id", UUID(as_uuid=True)), _ts("at"), Column("actor_id", UUID(as_uuid=True)),
    Column("before", JSONB), Column("after", JSONB),
)
sla_policies = Table(
    "sla_policies", metadata,
    Column("category_code", String(64), primary_key=True),
    Column("urgency", String(16), primary_key=True), Column("accept_hours", Float),
    Column("resolve_amount", Float), Column("resolve_unit", String(8)),
    Column("auto_escalate", Boolean),
)
calendar_overrides = Table(
    "calendar_overrides", metadata,
    Column("day", Date, primary_key=True), Column("workday", Boolean), Column("note", String),
)
assignments = Table(
    "assignments", metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True), Column("case_no", String(32)),
    Column("category_code", String(64)), Column("major_risk", String(64)),
    Column("urgency", String(16)), Column("region_code", String(15)), Column("status", String),
    Column("unit_id", UUID(as_uuid=True)), Column("seq", Integer), Column("queued", Boolean),
    Column("queue_reason", String(32)), _ts("accept_by"), _ts("resolve_by"),
    _ts("assigned_at"), _ts("updated_at"), Column("status_step", BigInteger),
)
timers = Table(
    "timers", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", UUID(as_uuid=True)), Column("kind", String(16)),
    Column("fraction", Float), _ts("fire_at"), _ts("deadline"),
    Column("unit_id", UUID(as_uuid=True)), Column("subtask_id", UUID(as_uuid=True)),
    Column("seq", Integer), _ts("fired_at"), _ts("cancelled_at"),
)
supervisions = Table(
    "supervisions", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("event_id", UUID(as_uuid=True)),
    Column("unit_id", UUID(as_uuid=True)), Column("kind", String(16)), _ts("deadline"),
    Column("supervisor_region_code", String(15)), Column("auto_escalated", Boolean),
    _ts("created_at"),
)
extension_requests = Table(
    "extension_requests", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("event_id", UUID(as_uuid=True)),
    Column("unit_id", UUID(as_uuid=True)), Column("extra_working_hours", Float),
    Column("reason", Text), Column("status", String(16)),
    Column("requested_by", UUID(as_uuid=True)), Column("decided_by", UUID(as_uuid=True)),
    _ts("created_at"), _ts("decided_at"),
)
subtasks = Table(
    "subtasks", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("event_id", UUID(as_uuid=True)),
    Column("lead_unit_id", UUID(as_uuid=True)), Column("unit_id", UUID(as_uuid=True)),
    Column("task", Text), _ts("due_at"), Column("status", String(16)), Column("answer", Text),
    _ts("created_at"), _ts("closed_at"),
)


async def _one(uow: UnitOfWork, query: Any, params: dict[str, Any] | None = None) -> Any | None:
    return (await uow.connection.execute(query, params)).mappings().first()


async def _all(uow: UnitOfWork, query: Any, params: dict[str, Any] | None = None) -> list[Any]:
    return list((await uow.connection.execute(query, params)).mappings())


# -- directory ---------------------------------------------------------------------------------


async def child_regions(uow: UnitOfWork, parent_code: str | None) -> list[Any]:
    query = select(regions).where(regions.c.active)
    query = query.where(
        regions.c.parent_code == parent_code if parent_code else regions.c.level == "city"
    )
    return await _all(uow, query.order_by(regions.c.code))


async def get_region(uow: UnitOfWork, code: str) -> Any | None:
    return await _one(uow, select(regions).where(regions.c.code == code))


async def get_unit(uow: UnitOfWork, unit_id: uuid.UUID) -> Any | None:
    return await _one(uow, select(units).where(units.c.id == unit_id, units.c.active))


_UNIT_AT = select(units).where(units.c.region_code == bindparam("region_code"),
                               units.c.kind == bindparam("kind"), units.c.active)


async def unit_at(uow: UnitOfWork, region_code: str, kind: str) -> Any | None:
    return await _one(uow, _UNIT_AT, {"region_code": region_code, "kind": kind})


async def list_units(uow: UnitOfWork, *, region_prefix: str | None) -> list[Any]:
    query = select(units).where(units.c.active)
    if region_prefix:
        query = query.where(units.c.region_code.startswith(region_prefix))
    return await _all(uow, query.order_by(units.c.region_code, units.c.kind))


_ACTIVE_RULES = select(rules).where(rules.c.active).order_by(rules.c.category_code)


async def all_rules(uow: UnitOfWork) -> list[Any]:
    return await _all(uow, _ACTIVE_RULES)


async def get_rule(uow: UnitOfWork, category_code: str, level: str) -> Any | None:
    return await _one(uow, select(rules).where(rules.c.category_code == category_code,
                                               rules.c.level == level).with_for_update())


async def upsert_rule(uow: UnitOfWork, values: dict[str, Any]) -> None:
    stmt = insert(rules).values(**values)
    await uow.connection.execute(stmt.on_conflict_do_update(
        index_elements=["category_code", "level"],
        set_={k: stmt.excluded[k] for k in ("unit_kind", "entry", "active", "updated_at")},
    ))


async def audit_rule(uow: UnitOfWork, **values: Any) -> None:
    await uow.connection.execute(insert(rule_audit).values(**values))


async def rule_audit_rows(uow: UnitOfWork, limit: int) -> list[Any]:
    return await _all(uow, select(rule_audit).order_by(rule_audit.c.id.desc()).limit(limit))


# The policies a case of this category and urgency may fall under: its own or the default
# ("*"), at its urgency or "normal"; which one wins is service.common.pick_policy's rule.
_POLICY_CANDIDATES = select(sla_policies).where(
    sla_policies.c.category_code.in_([bindparam("category_code"), "*"]),
    sla_policies.c.urgency.in_([bindparam("urgency"), "normal"]),
)


async def policy_candidates(uow: UnitOfWork, category_code: str, urgency: str) -> list[Any]:
    return await _all(uow, _POLICY_CANDIDATES,
                      {"category_code": category_code, "urgency": urgency})


async def upsert_policy(uow: UnitOfWork, values: dict[str, Any]) -> None:
    stmt = insert(sla_policies).values(**values)
    await uow.connection.execute(stmt.on_conflict_do_update(
        index_elements=["category_code", "urgency"],
        set_={k: stmt.excluded[k] for k in values if k not in ("category_code", "urgency")},
    ))


async def all_policies(uow: UnitOfWork) -> list[Any]:
    return await _all(uow, select(sla_policies).order_by(sla_policies.c.category_code))


_OVERRIDES = select(calendar_overrides.c.day, calendar_overrides.c.workday)


async def overrides(uow: UnitOfWork) -> dict[date, bool]:
    return {day: workday for day, workday in await uow.connection.execute(_OVERRIDES)}


@dataclass(frozen=True)
class DecisionInputs:
    """What deciding who gets a case and by when reads: active rules (by category), calendar
    overrides, the candidate SLA policies of the case and the active units of its regions."""

    rules: list[dict[str, Any]]
    overrides: dict[date, bool]
    policies: list[dict[str, Any]]
    units: list[dict[str, Any]]


# Admins change rules, overrides and policies at any time and every replica must follow at
# once, so they are read per decision, but in one round trip instead of four statements. The
# sets are small (tens of rows); JSON carries them, typed again in decision_inputs.
_DECISION_INPUTS = text(
    """
    SELECT
      (SELECT coalesce(json_agg(json_build_object(
                  'category_code', category_code, 'level', level, 'unit_kind', unit_kind,
                  'entry', entry) ORDER BY category_code), '[]')
       FROM rules WHERE active) AS rules,
      (SELECT coalesce(json_agg(json_build_array(day, workday)), '[]')
       FROM calendar_overrides) AS overrides,
      (SELECT coalesce(json_agg(p), '[]') FROM sla_policies p
       WHERE category_code IN (:category_code, '*') AND urgency IN (:urgency, 'normal'))
        AS policies,
      (SELECT coalesce(json_agg(u), '[]') FROM units u
       WHERE region_code = ANY(CAST(:regions AS varchar[])) AND active) AS units
    """
)


async def decision_inputs(uow: UnitOfWork, *, category_code: str, urgency: str,
                          regions: list[str]) -> DecisionInputs:
    row = (await uow.connection.execute(_DECISION_INPUTS, {
        "category_code": category_code, "urgency": urgency, "regions": regions,
    })).one()
    return DecisionInputs(
        rules=row.rules,
        overrides={date.fromisoformat(day): workday for day, workday in row.overrides},
        policies=[{**p, "accept_hours": float(p["accept_hours"]),
                   "resolve_amount": float(p["resolve_amount"])} for p in row.policies],
        units=[{**u, "id": uuid.UUID(u["id"])} for u in row.units],
    )


async def set_override(uow: UnitOfWork, day: date, workday: bool, note: str | None) -> None:
    stmt = insert(calendar_overrides).values(day=day, workday=workday, note=note)
    await uow.connection.execute(stmt.on_conflict_do_update(
        index_elements=["day"], set_={"workday": workday, "note": note}))


# -- assignments -------------------------------------------------------------------------------


async def insert_assignment(uow: UnitOfWork, values: dict[str, Any]) -> Any | None:
    """The new row, as get_assignment would read it (and locked, as this transaction wrote
    it), or None when the case already has one."""
    return await insert_row(uow.connection, assignments, values, returning=ROW,
                            skip_conflicts=True)


async def insert_assigned(uow: UnitOfWork, values: dict[str, Any],
                          timer_rows: list[dict[str, Any]]) -> bool:
    """A case's first assignment, already assigned, and its clocks' timers (all of one unit
    and seq) in one statement; False, and nothing written, when the case already has one."""
    first = timer_rows[0]
    inserted = await uow.connection.execute(_assigned_with_timers(tuple(values)), {
        **{f"a_{k}": v for k, v in values.items()},
        "t_unit_id": first["unit_id"], "t_seq": first["seq"],
        "t_kinds": [t["kind"] for t in timer_rows],
        "t_fractions": [t["fraction"] for t in timer_rows],
        "t_fire_at": [t["fire_at"] for t in timer_rows],
        "t_deadlines": [t["deadline"] for t in timer_rows],
    })
    return bool(inserted.scalar_one())


@functools.cache
def _assigned_with_timers(keys: tuple[str, ...]) -> Any:
    new = (
        insert(assignments)
        .values({k: bindparam(f"a_{k}", type_=assignments.c[k].type) for k in keys})
        .on_conflict_do_nothing()
        .returning(assignments.c.event_id)
        .cte("new_assignment")
    )
    clocks = func.unnest(
        bindparam("t_kinds", type_=ARRAY(String)), bindparam("t_fractions", type_=ARRAY(Float)),
        bindparam("t_fire_at", type_=ARRAY(DateTime(timezone=True))),
        bindparam("t_deadlines", type_=ARRAY(DateTime(timezone=True))),
    ).table_valued("kind", "fraction", "fire_at", "deadline").render_derived(name="clock")
    new_timers = insert(timers).from_select(
        ["event_id", "kind", "fraction", "fire_at", "deadline", "unit_id", "seq"],
        select(new.c.event_id, clocks.c.kind, clocks.c.fraction, clocks.c.fire_at,
               clocks.c.deadline, bindparam("t_unit_id", type_=UUID(as_uuid=True)),
               bindparam("t_seq", type_=Integer)).select_from(new).join(clocks, true()),
    ).cte("new_timers")
    # A data-modifying WITH runs whether or not the query reads it; the count says whether
    # the assignment (and so its timers) was written.
    return select(func.count()).select_from(new).add_cte(new_timers)


_ASSIGNMENT = select(assignments).where(assignments.c.event_id == bindparam("event_id"))
_ASSIGNMENT_LOCKED = _ASSIGNMENT.with_for_update()


async def get_assignment(uow: UnitOfWork, event_id: uuid.UUID, *, lock: bool = True
                         ) -> Any | None:
    return await _one(uow, _ASSIGNMENT_LOCKED if lock else _ASSIGNMENT, {"event_id": event_id})


def _mirror_status(*, only_newer: bool) -> Any:
    # Bind names differ from the columns': SQLAlchemy reserves those for the SET clause.
    query = update(assignments).where(assignments.c.event_id == bindparam("case_id"))
    if only_newer:
        query = query.where(assignments.c.status_step < bindparam("step"))
    return query.values(status=bindparam("new_status"), status_step=bindparam("step"),
                        updated_at=bindparam("now")).returning(*assignments.c)


_MIRROR_STATUS = _mirror_status(only_newer=False)
_MIRROR_STATUS_IF_NEWER = _mirror_status(only_newer=True)


async def mirror_status(uow: UnitOfWork, event_id: uuid.UUID, *, status: str, step: int,
                        now: datetime) -> Any | None:
    """Set the status mirror from events' step ``step`` (0: unnumbered, always applied) and
    return the row (locked by the update), or None when there is no assignment or it already
    holds this step or a later one."""
    query = _MIRROR_STATUS_IF_NEWER if step else _MIRROR_STATUS
    return await _one(uow, query, {"case_id": event_id, "new_status": status, "step": step,
                                   "now": now})


async def update_assignment(uow: UnitOfWork, event_id: uuid.UUID, values: dict[str, Any]
                            ) -> None:
    await update_by(uow.connection, assignments, "event_id", event_id, values)


async def queued(uow: UnitOfWork, region_prefixes: list[str] | None, limit: int) -> list[Any]:
    query = select(assignments).where(assignments.c.queued)
    if region_prefixes is not None:
        if not region_prefixes:
            return []
        query = query.where(or_(*[assignments.c.region_code.startswith(p)
                                  for p in region_prefixes]))
    return await _all(uow, query.order_by(assignments.c.updated_at).limit(limit))


async def work_queue(uow: UnitOfWork, unit_id: uuid.UUID, now: datetime, limit: int
                     ) -> list[Any]:
    """The unit's open assignments: overdue first, then by nearest deadline."""
    due = case(
        (assignments.c.status == "dispatched", assignments.c.accept_by),
        else_=assignments.c.resolve_by,
    )
    query = (
        select(assignments, due.label("due"))
        .where(assignments.c.unit_id == unit_id,
               assignments.c.status.in_(["dispatched", "accepted", "in_progress"]))
        .order_by(case((due < now, 0), else_=1), due)
        .limit(limit)
    )
    return await _all(uow, query)


# -- timers ------------------------------------------------------------------------------------


async def add_timers(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    await insert_rows(uow.connection, timers, rows)


async def cancel_timers(uow: UnitOfWork, event_id: uuid.UUID, *, kinds: list[str],
                        now: datetime, subtask_id: uuid.UUID | None = None) -> None:
    query = update(timers).where(
        timers.c.event_id == event_id, timers.c.kind.in_(kinds), timers.c.fired_at.is_(None),
        timers.c.cancelled_at.is_(None),
    )
    if subtask_id is not None:
        query = query.where(timers.c.subtask_id == subtask_id)
    await uow.connection.execute(query.values(cancelled_at=now))


async def claim_due_timers(uow: UnitOfWork, now: datetime, limit: int) -> list[Any]:
    """Due timers no other scanner holds: rows locked until this transaction ends, so
    replicas never take the same timer and a crash mid-batch leaves them for the next."""
    query = (
        select(timers)
        .where(timers.c.fired_at.is_(None), timers.c.cancelled_at.is_(None),
               timers.c.fire_at <= now)
        .order_by(timers.c.fire_at, timers.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return await _all(uow, query)


async def mark_fired(uow: UnitOfWork, timer_ids: list[int], now: datetime) -> None:
    await uow.connection.execute(
        update(timers).where(timers.c.id.in_(timer_ids)).values(fired_at=now))


async def insert_supervision(uow: UnitOfWork, values: dict[str, Any]) -> None:
    await uow.connection.execute(insert(supervisions).values(**values))


async def list_supervisions(uow: UnitOfWork, region_prefixes: list[str] | None, limit: int
                            ) -> list[Any]:
    query = select(supervisions, assignments.c.region_code).join(
        assignments, assignments.c.event_id == supervisions.c.event_id)
    rows = await _all(uow, query.order_by(supervisions.c.created_at.desc()).limit(limit * 5))
    if region_prefixes is None:
        return rows[:limit]
    return [r for r in rows if any(r["region_code"].startswith(p) for p in region_prefixes)][
        :limit]


# -- extensions and co-handling ----------------------------------------------------------------


async def insert_extension(uow: UnitOfWork, values: dict[str, Any]) -> None:
    await uow.connection.execute(insert(extension_requests).values(**values))


async def get_extension(uow: UnitOfWork, request_id: uuid.UUID) -> Any | None:
    return await _one(uow, select(extension_requests).where(
        extension_requests.c.id == request_id).with_for_update())


async def update_extension(uow: UnitOfWork, request_id: uuid.UUID, values: dict[str, Any]
                           ) -> None:
    await uow.connection.execute(update(extension_requests).where(
        extension_requests.c.id == request_id).values(**values))


async def insert_subtasks(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    await uow.connection.execute(insert(subtasks), rows)


async def get_subtask(uow: UnitOfWork, subtask_id: uuid.UUID) -> Any | None:
    return await _one(uow, select(subtasks).where(subtasks.c.id == subtask_id).with_for_update())


async def close_subtask(uow: UnitOfWork, subtask_id: uuid.UUID, values: dict[str, Any]) -> None:
    await uow.connection.execute(update(subtasks).where(subtasks.c.id == subtask_id).values(
        **values))


async def open_subtasks(uow: UnitOfWork, event_id: uuid.UUID) -> list[Any]:
    return await _all(uow, select(subtasks).where(subtasks.c.event_id == event_id,
                                                  subtasks.c.status == "open"))


grid_workers = Table(
    "grid_workers", metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("grid_code", String(15), primary_key=True),
)


async def upsert_region(uow: UnitOfWork, values: dict[str, Any]) -> None:
    stmt = insert(regions).values(**values)
    await uow.connection.execute(stmt.on_conflict_do_update(
        index_elements=["code"], set_={"name": values["name"], "active": values["active"]}))


async def ensure_unit(uow: UnitOfWork, values: dict[str, Any]) -> None:
    await uow.connection.execute(insert(units).values(**values).on_conflict_do_nothing())


async def assign_grid_worker(uow: UnitOfWork, user_id: uuid.UUID, grid_code: str) -> None:
    await uow.connection.execute(insert(grid_workers).values(user_id=user_id, grid_code=grid_code)
                              .on_conflict_do_nothing())


async def grid_worker_ids(uow: UnitOfWork, grid_code: str) -> list[uuid.UUID]:
    rows = await uow.connection.execute(select(grid_workers.c.user_id).where(
        grid_workers.c.grid_code == grid_code))
    return [r[0] for r in rows]
