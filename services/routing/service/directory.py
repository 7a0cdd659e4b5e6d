"""The organisation directory and the lists staff work from: regions, units, rules (with their
audit trail), SLA policies, calendar overrides, the dispatcher's queue, a unit's work queue and
the supervision (督办) records."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from services.routing import store
from shared.auth import Principal, Role
from shared.db.uow import UnitOfWork
from shared.errors import NotFound, RuleViolation
from shared.regions import is_region_code

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


async def put_override(uow: UnitOfWork, *, principal: Principal, day: date, workday: bool,
                       note: str | None) -> None:
    principal.require_role(Role.ADMIN)
    async with uow:
        await store.set_override(uow, day, workday, note)


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
