"""The organisation directory, rules, SLA policies and the calendar overrides."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert

from services.routing.store.common import fetch_all, fetch_one
from services.routing.store.tables import (
    assignments,
    calendar_overrides,
    grid_workers,
    regions,
    rule_audit,
    rules,
    sla_policies,
    subtasks,
    unit_audit,
    units,
)
from shared.db.statements import Statement
from shared.db.uow import UnitOfWork

# -- directory ---------------------------------------------------------------------------------


async def child_regions(uow: UnitOfWork, parent_code: str | None) -> list[Any]:
    query = select(regions).where(regions.c.active)
    query = query.where(
        regions.c.parent_code == parent_code if parent_code else regions.c.level == "city"
    )
    return await fetch_all(uow, query.order_by(regions.c.code))


async def get_region(uow: UnitOfWork, code: str) -> Any | None:
    return await fetch_one(uow, select(regions).where(regions.c.code == code))


async def get_unit(uow: UnitOfWork, unit_id: uuid.UUID) -> Any | None:
    """The active unit, share-locked: a case given to it by hand and its retirement (which
    counts its open cases under an update lock) take turns, so neither misses the other."""
    return await fetch_one(uow, select(units).where(units.c.id == unit_id, units.c.active)
                           .with_for_update(read=True))


_UNIT_AT = select(units).where(units.c.region_code == bindparam("region_code"),
                               units.c.kind == bindparam("kind"), units.c.active)


async def unit_at(uow: UnitOfWork, region_code: str, kind: str) -> Any | None:
    return await fetch_one(uow, _UNIT_AT, {"region_code": region_code, "kind": kind})


async def list_units(uow: UnitOfWork, *, region_prefix: str | None, include_retired: bool,
                     after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[Any]:
    """Units by (created_at, id), the page after ``after``; a unit with a decision's
    categories only, a retired one only when asked."""
    query = select(units)
    if not include_retired:
        query = query.where(units.c.active)
    if region_prefix:
        query = query.where(units.c.region_code.startswith(region_prefix, autoescape=True))
    if after is not None:
        at, unit_id = after
        query = query.where(or_(units.c.created_at > at,
                                and_(units.c.created_at == at, units.c.id > unit_id)))
    return await fetch_all(uow, query.order_by(units.c.created_at, units.c.id).limit(limit))


async def get_any_unit(uow: UnitOfWork, unit_id: uuid.UUID, *, lock: bool = False
                       ) -> Any | None:
    """The unit, active or retired; ``lock``: for changing it (a retirement waits for a
    concurrent rename and the other way round)."""
    query = select(units).where(units.c.id == unit_id)
    return await fetch_one(uow, query.with_for_update() if lock else query)


async def active_unit_of_kind(uow: UnitOfWork, region_code: str, kind: str) -> Any | None:
    return await fetch_one(uow, select(units.c.id).where(
        units.c.region_code == region_code, units.c.kind == kind, units.c.active))


async def insert_unit(uow: UnitOfWork, values: dict[str, Any]) -> None:
    await uow.connection.execute(insert(units).values(**values))


async def update_unit(uow: UnitOfWork, unit_id: uuid.UUID, values: dict[str, Any]) -> None:
    await uow.connection.execute(update(units).where(units.c.id == unit_id).values(**values))


async def audit_unit(uow: UnitOfWork, **values: Any) -> None:
    await uow.connection.execute(insert(unit_audit).values(**values))


async def unit_audit_rows(uow: UnitOfWork, unit_id: uuid.UUID, *, before: int | None,
                          limit: int) -> list[Any]:
    """The unit's changes, newest first, those older than audit row ``before``."""
    query = select(unit_audit).where(unit_audit.c.unit_id == unit_id)
    if before is not None:
        query = query.where(unit_audit.c.id < before)
    return await fetch_all(uow, query.order_by(unit_audit.c.id.desc()).limit(limit))


_OPEN = ("closed", "rated", "rejected")


async def open_work_of_unit(uow: UnitOfWork, unit_id: uuid.UUID) -> tuple[int, int]:
    """How many open cases the unit holds, and open sub-tasks it was asked to help with."""
    held = await uow.connection.scalar(select(func.count()).select_from(assignments).where(
        assignments.c.unit_id == unit_id, assignments.c.status.not_in(_OPEN)))
    helping = await uow.connection.scalar(select(func.count()).select_from(subtasks).where(
        subtasks.c.unit_id == unit_id, subtasks.c.status == "open"))
    return int(held or 0), int(helping or 0)


async def kind_state(uow: UnitOfWork, kind: str) -> tuple[int, int]:
    """How many active and how many retired units are of ``kind``."""
    row = (await uow.connection.execute(select(
        func.count().filter(units.c.active), func.count().filter(~units.c.active),
    ).where(units.c.kind == kind))).one()
    return int(row[0]), int(row[1])


_ACTIVE_RULES = select(rules).where(rules.c.active).order_by(rules.c.category_code)


async def all_rules(uow: UnitOfWork) -> list[Any]:
    return await fetch_all(uow, _ACTIVE_RULES)


async def get_rule(uow: UnitOfWork, category_code: str, level: str) -> Any | None:
    return await fetch_one(uow, select(rules).where(rules.c.category_code == category_code,
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
    return await fetch_all(uow, select(rule_audit).order_by(rule_audit.c.id.desc()).limit(limit))


# The policies a case of this category and urgency may fall under: its own or the default
# ("*"), at its urgency or "normal"; which one wins is service.common.pick_policy's rule.
_POLICY_CANDIDATES = select(sla_policies).where(
    sla_policies.c.category_code.in_([bindparam("category_code"), "*"]),
    sla_policies.c.urgency.in_([bindparam("urgency"), "normal"]),
)


async def policy_candidates(uow: UnitOfWork, category_code: str, urgency: str) -> list[Any]:
    return await fetch_all(uow, _POLICY_CANDIDATES,
                      {"category_code": category_code, "urgency": urgency})


async def upsert_policy(uow: UnitOfWork, values: dict[str, Any]) -> None:
    stmt = insert(sla_policies).values(**values)
    await uow.connection.execute(stmt.on_conflict_do_update(
        index_elements=["category_code", "urgency"],
        set_={k: stmt.excluded[k] for k in values if k not in ("category_code", "urgency")},
    ))


async def all_policies(uow: UnitOfWork) -> list[Any]:
    return await fetch_all(uow, select(sla_policies).order_by(sla_policies.c.category_code))


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
_DECISION_INPUTS = Statement(text(
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
       WHERE region_code = ANY(CAST(:regions AS varchar[])) AND active
         AND (categories = '{}' OR :category_code = ANY(categories))) AS units
    """
))


async def decision_inputs(uow: UnitOfWork, *, category_code: str, urgency: str,
                          regions: list[str]) -> DecisionInputs:
    row = await uow.fetchrow(_DECISION_INPUTS, {
        "category_code": category_code, "urgency": urgency, "regions": regions,
    })
    assert row is not None  # one row of four aggregates, always
    return DecisionInputs(
        rules=row["rules"],
        overrides={date.fromisoformat(day): workday for day, workday in row["overrides"]},
        policies=[{**p, "accept_hours": float(p["accept_hours"]),
                   "resolve_amount": float(p["resolve_amount"])} for p in row["policies"]],
        units=[{**u, "id": uuid.UUID(u["id"])} for u in row["units"]],
    )


async def overrides_of_year(uow: UnitOfWork, year: int) -> list[Any]:
    """The year's overrides with their notes, for the admin's calendar."""
    return await fetch_all(uow, select(calendar_overrides).where(
        calendar_overrides.c.day.between(date(year, 1, 1), date(year, 12, 31))))


async def delete_override(uow: UnitOfWork, day: date) -> None:
    await uow.connection.execute(delete(calendar_overrides).where(calendar_overrides.c.day == day))


async def set_override(uow: UnitOfWork, day: date, workday: bool, note: str | None) -> None:
    stmt = insert(calendar_overrides).values(day=day, workday=workday, note=note)
    await uow.connection.execute(stmt.on_conflict_do_update(
        index_elements=["day"], set_={"workday": workday, "note": note}))


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
