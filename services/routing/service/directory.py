"""The organisation directory and the lists staff work from: regions, units, rules (with their
audit trail), SLA policies, calendar overrides, the dispatcher's queue, a unit's work queue and
the supervision (督办) records."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Any

from services.routing import seed, store
from services.routing.domain import DISPATCHER
from shared.auth import Principal, Role
from shared.contracts.routing import RegionChanged
from shared.db.uow import UnitOfWork
from shared.paging import decode_moment_cursor, decode_number_cursor, moment_cursor, page_of
from shared.pii import mask_optional_text
from shared.problems import Conflict, NotFound, RuleViolation
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
        if active:
            await _require_targetable_kind(uow, unit_kind)
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


# -- unit management (admins) ------------------------------------------------------------------

# A unit kind is what rules name (``police_station``): lower-case words joined by "_".
_KIND = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_CATEGORY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
# Units sit in regions above the grids; a grid is served by its community.
UNIT_LEVELS = ("city", "county", "town", "community")
_SNAPSHOT = ("name", "kind", "level", "region_code", "categories", "active")


def _check_kind(kind: str) -> str:
    if not _KIND.match(kind) or kind == DISPATCHER:
        raise RuleViolation("a unit kind is 2-40 lower-case letters, digits and '_' (and not "
                            "'dispatcher', which rules use for triage)", code="unit_kind_invalid")
    return kind


def _check_categories(codes: list[str]) -> list[str]:
    if any(not _CATEGORY.match(code) for code in codes):
        raise RuleViolation("category codes are lower-case codes as events stores them",
                            code="category_code_invalid")
    return sorted(set(codes))


def _snapshot(row: Any) -> dict[str, Any]:
    return {k: list(row[k]) if k == "categories" else row[k] for k in _SNAPSHOT}


async def _unit_region(uow: UnitOfWork, code: str) -> Any:
    """The active region a unit may sit in (not a grid)."""
    region = await store.get_region(uow, code) if is_region_code(code) else None
    if region is None or not region["active"] or region["level"] not in UNIT_LEVELS:
        raise RuleViolation("a unit sits in a known, active region above the grids",
                            code="unit_region_invalid")
    return region


async def _require_kind_free(uow: UnitOfWork, region_code: str, kind: str) -> None:
    if await store.active_unit_of_kind(uow, region_code, kind) is not None:
        raise Conflict("this region already has an active unit of that kind",
                       code="unit_kind_taken")


async def units(uow: UnitOfWork, *, principal: Principal, region: str | None,
                include_retired: bool, cursor: str | None, limit: int
                ) -> tuple[list[Any], str | None]:
    """Units (optionally under a region), oldest first; retired ones when asked."""
    if not principal.is_staff:
        principal.require_role(Role.ADMIN)  # residents have no use for the directory
    if region is not None and "\x00" in region:
        raise RuleViolation("not a region code", code="region_invalid")
    after = decode_moment_cursor(cursor)
    async with uow:
        rows = await store.list_units(uow, region_prefix=region, include_retired=include_retired,
                                      after=after, limit=limit + 1)
    return page_of(rows, limit, lambda row: moment_cursor(row["created_at"], row["id"]))


async def unit(uow: UnitOfWork, *, principal: Principal, unit_id: uuid.UUID) -> Any:
    if not principal.is_staff:
        principal.require_role(Role.ADMIN)
    async with uow:
        row = await store.get_any_unit(uow, unit_id)
    if row is None:
        raise NotFound("no such unit", code="unit_not_found")
    return row


async def create_unit(uow: UnitOfWork, *, principal: Principal, name: str, kind: str,
                      region_code: str, categories: list[str], now: datetime) -> Any:
    """A new unit (a county department, a town's 司法所, a 派出所): rules naming its kind at
    its level route cases of its categories (all, when none are given) to it."""
    principal.require_role(Role.ADMIN)
    kind, categories = _check_kind(kind), _check_categories(categories)
    unit_id = uuid.uuid4()
    async with uow:
        region = await _unit_region(uow, region_code)
        await _require_kind_free(uow, region_code, kind)
        values = {"id": unit_id, "name": name, "kind": kind, "level": region["level"],
                  "region_code": region_code, "categories": categories, "active": True,
                  "created_at": now}
        await store.insert_unit(uow, values)
        await store.audit_unit(uow, unit_id=unit_id, at=now, actor_id=principal.subject,
                               action="created", before=None, after=_snapshot(values))
        row = await store.get_any_unit(uow, unit_id)
    return row


async def change_unit(uow: UnitOfWork, *, principal: Principal, unit_id: uuid.UUID,
                      name: str | None, region_code: str | None, categories: list[str] | None,
                      now: datetime) -> Any:
    """Rename, move (to another region of the same level) or re-categorise a unit. Its id
    stays, so its cases, sub-tasks and scorecards follow it; the audit keeps the old name."""
    principal.require_role(Role.ADMIN)
    if categories is not None:
        categories = _check_categories(categories)
    async with uow:
        before = await _active_unit_locked(uow, unit_id)
        changes: dict[str, Any] = {}
        if name is not None and name != before["name"]:
            changes["name"] = name
        if region_code is not None and region_code != before["region_code"]:
            region = await _unit_region(uow, region_code)
            if region["level"] != before["level"]:
                raise RuleViolation("a unit moves to another region of its level",
                                    code="unit_level_mismatch")
            await _require_kind_free(uow, region_code, before["kind"])
            changes["region_code"] = region_code
        if categories is not None and categories != sorted(before["categories"]):
            changes["categories"] = categories
        if changes:
            await store.update_unit(uow, unit_id, changes)
            await store.audit_unit(uow, unit_id=unit_id, at=now, actor_id=principal.subject,
                                   action="changed", before=_snapshot(before),
                                   after={**_snapshot(before), **changes})
        row = await store.get_any_unit(uow, unit_id)
    return row


async def _active_unit_locked(uow: UnitOfWork, unit_id: uuid.UUID) -> Any:
    row = await store.get_any_unit(uow, unit_id, lock=True)
    if row is None:
        raise NotFound("no such unit", code="unit_not_found")
    if not row["active"]:
        raise Conflict("this unit is retired", code="unit_retired")
    return row


async def retire_unit(uow: UnitOfWork, *, principal: Principal, unit_id: uuid.UUID,
                      now: datetime) -> Any:
    """Retire a unit: it is no longer listed, dispatched to, routed to or asked to co-handle.
    Refused while it holds open cases or open sub-tasks: transfer them first."""
    principal.require_role(Role.ADMIN)
    async with uow:
        row = await store.get_any_unit(uow, unit_id, lock=True)
        if row is None:
            raise NotFound("no such unit", code="unit_not_found")
        if not row["active"]:
            return row  # retiring twice is retiring once
        held, helping = await store.open_work_of_unit(uow, unit_id)
        if held or helping:
            raise Conflict(f"the unit holds {held} open cases and {helping} open sub-tasks: "
                           "transfer them first", code="unit_has_open_cases")
        await store.update_unit(uow, unit_id, {"active": False, "retired_at": now})
        await store.audit_unit(uow, unit_id=unit_id, at=now, actor_id=principal.subject,
                               action="retired", before=_snapshot(row),
                               after={**_snapshot(row), "active": False})
        return await store.get_any_unit(uow, unit_id)


async def unit_history(uow: UnitOfWork, *, principal: Principal, unit_id: uuid.UUID,
                       cursor: str | None, limit: int) -> tuple[list[Any], str | None]:
    """What admins did to a unit (created, changed, retired), newest first: the names a
    unit's cases knew it by."""
    principal.require_role(Role.ADMIN, Role.SUPERVISOR)
    before = decode_number_cursor(cursor)
    async with uow:
        if await store.get_any_unit(uow, unit_id) is None:
            raise NotFound("no such unit", code="unit_not_found")
        rows = await store.unit_audit_rows(uow, unit_id, before=before, limit=limit + 1)
    return page_of(rows, limit, lambda row: str(row["id"]))


async def _require_targetable_kind(uow: UnitOfWork, unit_kind: str) -> None:
    """A new rule may name a kind no unit has yet (units come later), but not one whose units
    are all retired: it would route cases to nobody."""
    if unit_kind == DISPATCHER:
        return
    active, retired = await store.kind_state(uow, unit_kind)
    if retired and not active:
        raise Conflict("every unit of this kind is retired", code="unit_kind_retired")
