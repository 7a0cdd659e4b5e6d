"""Routes of the org directory: regions, grids, units, routing rules, SLA policies, calendar."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from services.routing import service
from services.routing.schemas import (
    CalendarDayRead,
    CalendarYear,
    GridWorkers,
    OverrideUpdate,
    PolicyList,
    PolicyRead,
    PolicyUpdate,
    RegionList,
    RegionRead,
    RegionUpdate,
    RuleAuditList,
    RuleAuditRead,
    RuleList,
    RuleRead,
    RuleUpdate,
    UnitAuditList,
    UnitAuditRead,
    UnitCreate,
    UnitList,
    UnitRead,
    UnitUpdate,
    Urgency,
)
from services.routing.service import directory
from services.routing.service.calendar import calendar_year, remove_override
from shared.auth import CurrentPrincipal
from shared.web.deps import Uow

from .deps import (
    UNIT_ADMIN_ERRORS,
    CategoryCode,
    Context,
    Limit,
    fields_of,
    problem_doc,
    staff_only,
)

router = APIRouter()


@router.get("/regions", response_model=RegionList)
async def regions(uow: Uow, parent: str | None = None) -> RegionList:
    """Children of a region (no parent: the city). Public."""
    rows = await service.child_regions(uow, parent)
    return RegionList.model_validate({"items": fields_of(RegionRead, rows)})


@router.put("/regions/{code}", status_code=204)
async def put_region(code: str, body: RegionUpdate, uow: Uow,
                     principal: CurrentPrincipal) -> None:
    """Add, rename or retire a region (admins); new towns and communities get their unit."""
    await service.put_region(uow, principal=principal, code=code, name=body.name,
                             active=body.active)


@router.put("/grids/{grid_code}/workers/{user_id}", status_code=204)
async def add_grid_worker(grid_code: str, user_id: uuid.UUID, uow: Uow,
                          principal: CurrentPrincipal) -> None:
    """Assign a grid worker (网格员) to a grid."""
    await service.add_grid_worker(uow, principal=principal, grid_code=grid_code,
                                  user_id=user_id)


@router.get("/grids/{grid_code}/workers", response_model=GridWorkers)
async def grid_workers(grid_code: str, uow: Uow, principal: CurrentPrincipal) -> GridWorkers:
    ids = await service.grid_workers(uow, principal=principal, grid_code=grid_code)
    return GridWorkers(grid_code=grid_code, user_ids=ids)


@router.get("/units", response_model=UnitList)
async def units(uow: Uow, principal: CurrentPrincipal, region: str | None = None,
                include_retired: bool = False, cursor: str | None = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 200) -> UnitList:
    """Units (communities, town centres, county departments, town offices, police stations),
    optionally under a region, oldest first, a page at a time (``next_cursor``). Retired
    units only with ``include_retired``: they are offered for no dispatch or rule."""
    rows, next_cursor = await directory.units(
        uow, principal=principal, region=region, include_retired=include_retired,
        cursor=cursor, limit=limit)
    return UnitList.model_validate({"items": fields_of(UnitRead, rows), "next_cursor": next_cursor})


@router.post("/units", response_model=UnitRead, status_code=201,
             responses={k: v for k, v in UNIT_ADMIN_ERRORS.items() if k != 404})
async def create_unit(body: UnitCreate, uow: Uow, ctx: Context,
                      principal: CurrentPrincipal) -> UnitRead:
    """Create a unit in a region (admins only; supervisors and dispatchers do not manage
    units). Its level is its region's; a rule naming its ``kind`` at that level routes cases
    of its ``categories`` (all, when empty) to it."""
    row = await directory.create_unit(uow, principal=principal, name=body.name, kind=body.kind,
                                      region_code=body.region_code, categories=body.categories,
                                      now=ctx.clock())
    return UnitRead.model_validate(fields_of(UnitRead, [row])[0])


@router.get("/units/{unit_id}", response_model=UnitRead,
            responses={404: UNIT_ADMIN_ERRORS[404]})
async def unit(unit_id: uuid.UUID, uow: Uow, principal: CurrentPrincipal) -> UnitRead:
    """One unit, retired or not (staff)."""
    row = await directory.unit(uow, principal=principal, unit_id=unit_id)
    return UnitRead.model_validate(fields_of(UnitRead, [row])[0])


@router.patch("/units/{unit_id}", response_model=UnitRead, responses=UNIT_ADMIN_ERRORS)
async def change_unit(unit_id: uuid.UUID, body: UnitUpdate, uow: Uow, ctx: Context,
                      principal: CurrentPrincipal) -> UnitRead:
    """Rename, move to another region of the same level, or replace the categories (admins).
    The id stays: the unit's cases keep pointing at it; every change is audited."""
    row = await directory.change_unit(uow, principal=principal, unit_id=unit_id,
                                      name=body.name, region_code=body.region_code,
                                      categories=body.categories, now=ctx.clock())
    return UnitRead.model_validate(fields_of(UnitRead, [row])[0])


@router.get("/units/{unit_id}/history", response_model=UnitAuditList,
            responses={403: problem_doc("`role_required`: admins and supervisors"),
                       404: UNIT_ADMIN_ERRORS[404]})
async def unit_history(unit_id: uuid.UUID, uow: Uow, principal: CurrentPrincipal,
                       cursor: str | None = None, limit: Limit = 50) -> UnitAuditList:
    """Every change to a unit, newest first (admins, supervisors): its earlier names and
    regions, for the cases that point at it by id."""
    rows, next_cursor = await directory.unit_history(uow, principal=principal, unit_id=unit_id,
                                                     cursor=cursor, limit=limit)
    return UnitAuditList.model_validate({"items": fields_of(UnitAuditRead, rows),
                                         "next_cursor": next_cursor})


@router.post("/units/{unit_id}/retire", response_model=UnitRead, responses={
    **UNIT_ADMIN_ERRORS,
    409: problem_doc("`unit_has_open_cases`: the unit holds open cases or sub-tasks; transfer "
                  "them first (nothing is changed)")})
async def retire_unit(unit_id: uuid.UUID, uow: Uow, ctx: Context,
                      principal: CurrentPrincipal) -> UnitRead:
    """Retire a unit (admins): no longer listed, dispatched to, routed to or asked to co-handle,
    and no new rule may name a kind whose units are all retired. Retiring twice is a no-op."""
    row = await directory.retire_unit(uow, principal=principal, unit_id=unit_id,
                                      now=ctx.clock())
    return UnitRead.model_validate(fields_of(UnitRead, [row])[0])


@router.get("/rules", response_model=RuleList)
async def rules(uow: Uow, principal: CurrentPrincipal) -> RuleList:
    staff_only(principal)
    return RuleList.model_validate({"items": fields_of(RuleRead, await service.rules(uow))})


@router.put("/rules/{category_code}/{level}", status_code=204, responses={
    409: problem_doc("`unit_kind_retired`: every unit of that kind is retired")})
async def put_rule(category_code: CategoryCode, level: str, body: RuleUpdate, uow: Uow,
                   ctx: Context, principal: CurrentPrincipal) -> None:
    """Set which unit kind owns a category at a level (audited)."""
    await service.put_rule(uow, principal=principal, category_code=category_code, level=level,
                           unit_kind=body.unit_kind, entry=body.entry, active=body.active,
                           now=ctx.clock())


@router.get("/rules/audit", response_model=RuleAuditList)
async def rule_audit(uow: Uow, principal: CurrentPrincipal, limit: Limit = 50) -> RuleAuditList:
    rows = await service.rule_audit(uow, principal=principal, limit=limit)
    return RuleAuditList.model_validate({"items": fields_of(RuleAuditRead, rows)})


@router.get("/sla-policies", response_model=PolicyList)
async def policies(uow: Uow, principal: CurrentPrincipal) -> PolicyList:
    staff_only(principal)
    return PolicyList.model_validate({"items": fields_of(PolicyRead, await service.policies(uow))})


@router.put("/sla-policies/{category_code}/{urgency}", status_code=204)
async def put_policy(category_code: CategoryCode, urgency: Urgency, body: PolicyUpdate, uow: Uow,
                     principal: CurrentPrincipal) -> None:
    """Deadlines for a category ("*" for the default) and urgency."""
    await service.put_policy(uow, principal=principal, values={
        "category_code": category_code, "urgency": urgency, **body.model_dump()})


@router.put("/calendar/overrides/{day}", status_code=204)
async def put_override(day: date, body: OverrideUpdate, uow: Uow,
                       principal: CurrentPrincipal) -> None:
    """Mark a date as workday or holiday where the holiday library is wrong or silent."""
    await service.put_override(uow, principal=principal, day=day, workday=body.workday,
                               note=body.note)


@router.get("/calendar/{year}", response_model=CalendarYear, responses={
    422: problem_doc("`day_invalid`: a year outside 2000-2199")})
async def calendar(year: int, uow: Uow, principal: CurrentPrincipal) -> CalendarYear:
    """A year's official holidays and make-up workdays with the admins' overrides laid over
    them (platform staff)."""
    staff_only(principal)
    days = await calendar_year(uow, year=year)
    return CalendarYear(year=year, items=[CalendarDayRead.model_validate(d) for d in days])


@router.delete("/calendar/overrides/{day}", status_code=204)
async def delete_override(day: date, uow: Uow, principal: CurrentPrincipal) -> None:
    """Undo an admin's override: the day follows the published schedule again (admins)."""
    await remove_override(uow, principal=principal, day=day)
