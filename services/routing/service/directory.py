"""The organisation directory and the lists staff work from: regions, units, rules (with their
audit trail), SLA policies, calendar overrides, the dispatcher's queue, a unit's work queue and
the supervision (督办) records."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from services.routing import seed, store
from shared.auth import Principal, Role
from shared.contracts.routing import RegionChanged
from shared.db.uow import UnitOfWork
from shared.pii import mask_optional_text
from shared.problems import NotFound, RuleViolation
from shared.regions import is_region_code, region_level

from .common import scope_prefixes

LEVELS = ("community", "town", "county")


async def child_regions(uow: UnitOfWork, parent: str | None) -> list[Any]:
    async with uow:
        if parent is not None:
            if not is_region_code(parent):
                raise RuleViolation("not a region code", code="region_invalid")
            if await store.get_region(uow, parent) is None:
                raise NotFound("no such region", code="region_unknown")
        return await store.child_regions(uow, parent)


async def units(uow: UnitOfWork, *, principal: Principal, region: str | None) -> list[Any]:
    if not principal.is_staff:
        principal.require_role(Role.ADMIN)  # residents have no use for the directory
    if region is not None and "\x00" in region:
        raise RuleViolation("not a region code", code="region_invalid")
    async with uow:
        return await store.list_units(uow, region_prefix=region)


async def rules(uow: UnitOfWork) -> list[Any]:
    async with uow:
        return await store.all_rules(uow)


async def put_rule(uow: UnitOfWork, *, principal: Principal, category_code: str, level: str,
                   unit_kind: str, entry: bool, active: bool, now: datetime) -> None:
    principal.require_role(Role.ADMIN, Role.SUPERVISOR)
    if level not in LEVELS:
        raise RuleViolation("level is community, town or county", code="level_invalid")
    async with uow:
        # A rule routes the category in every county of the city: a supervisor changes it only
        # with the whole city in scope (a county's 平安办 cannot reroute its neighbours' cases).
        for city in await store.child_regions(uow, None):
            principal.require_region(city["code"])
        before = await store.get_rule(uow, category_code, level)
        rule_id = before["id"] if before else uuid.uuid4()
        values = {"id": rule_id, "category_code": category_code, "level": level,
                  "unit_kind": unit_kind, "entry": entry, "active": active, "updated_at": now}
        await store.upsert_rule(uow, values)

        def snapshot(row: Any) -> dict[str, Any] | None:
            if row is None:
                return None
            return {k: row[k] for k in ("category_code", "level", "unit_kind", "entry",
                                        "active")}

        await store.audit_rule(uow, rule_id=rule_id, at=now, actor_id=principal.subject,
                               before=snapshot(before), after=snapshot(values))


async def rule_audit(uow: UnitOfWork, *, principal: Principal, limit: int) -> list[Any]:
    principal.require_role(Role.ADMIN, Role.SUPERVISOR)
    async with uow:
        return await store.rule_audit_rows(uow, limit)


async def policies(uow: UnitOfWork) -> list[Any]:
    async with uow:
        return await store.all_policies(uow)


async def put_policy(uow: UnitOfWork, *, principal: Principal, values: dict[str, Any]) -> None:
    principal.require_role(Role.ADMIN)
    async with uow:
        await store.upsert_policy(uow, values)


# Overrides correct the holiday schedule of years the platform runs in. The calendar's edges
# must never be stored: the driver sends 0001-01-01 and 9999-12-31 as -infinity / infinity,
# which no later decision could read back.
OVERRIDE_YEARS = range(2000, 2200)


async def put_override(uow: UnitOfWork, *, principal: Principal, day: date, workday: bool,
                       note: str | None) -> None:
    principal.require_role(Role.ADMIN)
    if day.year not in OVERRIDE_YEARS:
        raise RuleViolation(
            f"overrides are for days from {OVERRIDE_YEARS.start} to {OVERRIDE_YEARS.stop - 1}",
            code="day_invalid",
        )
    async with uow:
        # A note belongs to no case and nobody reads it back: masked, no original kept.
        await store.set_override(uow, day, workday, mask_optional_text(note))


async def dispatcher_queue(uow: UnitOfWork, *, principal: Principal, limit: int) -> list[Any]:
    principal.require_role(Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN)
    async with uow:
        return await store.queued(uow, scope_prefixes(principal), limit)


async def work_queue(uow: UnitOfWork, *, principal: Principal, unit_id: uuid.UUID,
                     now: datetime, limit: int) -> list[Any]:
    principal.require_department(unit_id)
    async with uow:
        return await store.work_queue(uow, unit_id, now, limit)


async def supervisions(uow: UnitOfWork, *, principal: Principal, limit: int) -> list[Any]:
    principal.require_role(Role.SUPERVISOR, Role.DISPATCHER, Role.ADMIN)
    async with uow:
        return await store.list_supervisions(uow, scope_prefixes(principal), limit)


UNIT_FOR_LEVEL = {"community": ("community", "居委会"), "town": ("town_office", "综治中心")}


async def put_region(uow: UnitOfWork, *, principal: Principal, code: str, name: str,
                     active: bool) -> None:
    """Add, rename or retire a region (admins). A new town or community gets its default
    unit; the events service learns the region from ``routing.region_changed``."""
    principal.require_role(Role.ADMIN)
    level = region_level(code) if is_region_code(code) else "province"
    if level == "province":
        raise RuleViolation("not a region code below the province", code="region_invalid")
    parent_code = None if level == "city" else (code[:4] + "00" if level == "county"
                                                else code[:-3])
    async with uow:
        if parent_code is not None and await store.get_region(uow, parent_code) is None:
            raise RuleViolation("the parent region is unknown", code="region_parent_unknown")
        await store.upsert_region(uow, {"code": code, "name": name, "level": level,
                                        "parent_code": parent_code, "active": active})
        if level in UNIT_FOR_LEVEL:
            kind, suffix = UNIT_FOR_LEVEL[level]
            await store.ensure_unit(uow, {"id": seed.unit_id(code, kind), "name": name + suffix,
                                          "kind": kind, "level": level, "region_code": code,
                                          "active": True})
        await uow.emit("routing.region_changed", RegionChanged(
            code=code, name=name, level=level, parent_code=parent_code,
            active=active))


def _require_region_code(code: str) -> None:
    if not is_region_code(code):
        raise RuleViolation("not a region code", code="region_invalid")


async def add_grid_worker(uow: UnitOfWork, *, principal: Principal, grid_code: str,
                          user_id: uuid.UUID) -> None:
    principal.require_role(Role.ADMIN, Role.DEPT_ADMIN, Role.SUPERVISOR)
    _require_region_code(grid_code)
    principal.require_region(grid_code)
    async with uow:
        region = await store.get_region(uow, grid_code)
        if region is None or region["level"] != "grid":
            raise NotFound("no such grid", code="region_unknown")
        await store.assign_grid_worker(uow, user_id, grid_code)


async def grid_workers(uow: UnitOfWork, *, principal: Principal, grid_code: str
                       ) -> list[uuid.UUID]:
    _require_region_code(grid_code)
    principal.require_region(grid_code)
    async with uow:
        return await store.grid_worker_ids(uow, grid_code)
