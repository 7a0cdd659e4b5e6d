"""HTTP routes of the routing service, under /api/v1/routing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import date, datetime
from functools import partial
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from services.routing import service
from services.routing.context import RoutingContext
from services.routing.schemas import (
    AnswerIn,
    AssignmentList,
    AssignmentRead,
    CoHandlingCountList,
    CoHandlingCountRead,
    CoHandlingIn,
    CreatedId,
    DispatchIn,
    ExtensionDecision,
    ExtensionIn,
    GridWorkers,
    OriginalTexts,
    OverrideUpdate,
    PolicyList,
    PolicyRead,
    PolicyUpdate,
    ReasonIn,
    RegionList,
    RegionRead,
    RegionUpdate,
    RuleAuditList,
    RuleAuditRead,
    RuleList,
    RuleRead,
    RuleUpdate,
    SubtaskFilter,
    SubtaskIds,
    SubtaskList,
    SubtaskRead,
    SupervisionCountList,
    SupervisionCountRead,
    SupervisionList,
    SupervisionOrderCreate,
    SupervisionOrderList,
    SupervisionOrderRead,
    SupervisionRead,
    SupervisionReplyIn,
    SupervisionState,
    Text,
    TransferIn,
    UnitAuditList,
    UnitAuditRead,
    UnitCreate,
    UnitList,
    UnitRead,
    UnitUpdate,
    Urgency,
)
from services.routing.service import directory, supervision
from shared.auth import CurrentPrincipal, Principal
from shared.calendar import WorkingCalendar
from shared.db.uow import UnitOfWork
from shared.pii import PiiCipher
from shared.problems import Forbidden
from shared.web.deps import Uow, context_dependency

router = APIRouter(prefix="/api/v1/routing", tags=["routing"])
Context = Annotated[RoutingContext, Depends(context_dependency(RoutingContext))]
Limit = Annotated[int, Query(ge=1, le=200)]
# A category code as events and routing store it (at most 64 characters, no NUL).
CategoryCode = Annotated[Text, Path(min_length=1, max_length=64)]


def _items(model: type[BaseModel], rows: list[Any]) -> list[dict[str, Any]]:
    """Rows as dicts holding just the fields of ``model`` (reads never leak extra columns)."""
    return [{k: row[k] for k in model.model_fields if k in row} for row in rows]


def _staff_only(principal: Principal) -> None:
    if not principal.is_staff:
        raise Forbidden("for platform staff", code="role_required")


@router.get("/regions", response_model=RegionList)
async def regions(uow: Uow, parent: str | None = None) -> RegionList:
    """Children of a region (no parent: the city). Public."""
    rows = await service.child_regions(uow, parent)
    return RegionList.model_validate({"items": _items(RegionRead, rows)})


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


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


_UNIT_ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    403: _problem("not an admin (`role_required`): only admins manage units"),
    404: _problem("no such unit (`unit_not_found`)"),
    409: _problem("`unit_kind_taken`: the region already has an active unit of that kind; "
                  "`unit_retired`: the unit is retired"),
    422: _problem("`unit_kind_invalid`, `unit_region_invalid`, `unit_level_mismatch`, "
                  "`category_code_invalid`, `validation_error`"),
}


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
    return UnitList.model_validate({"items": _items(UnitRead, rows), "next_cursor": next_cursor})


@router.post("/units", response_model=UnitRead, status_code=201,
             responses={k: v for k, v in _UNIT_ADMIN_ERRORS.items() if k != 404})
async def create_unit(body: UnitCreate, uow: Uow, ctx: Context,
                      principal: CurrentPrincipal) -> UnitRead:
    """Create a unit in a region (admins only; supervisors and dispatchers do not manage
    units). Its level is its region's; a rule naming its ``kind`` at that level routes cases
    of its ``categories`` (all, when empty) to it."""
    row = await directory.create_unit(uow, principal=principal, name=body.name, kind=body.kind,
                                      region_code=body.region_code, categories=body.categories,
                                      now=ctx.clock())
    return UnitRead.model_validate(_items(UnitRead, [row])[0])


@router.get("/units/{unit_id}", response_model=UnitRead,
            responses={404: _UNIT_ADMIN_ERRORS[404]})
async def unit(unit_id: uuid.UUID, uow: Uow, principal: CurrentPrincipal) -> UnitRead:
    """One unit, retired or not (staff)."""
    row = await directory.unit(uow, principal=principal, unit_id=unit_id)
    return UnitRead.model_validate(_items(UnitRead, [row])[0])


@router.patch("/units/{unit_id}", response_model=UnitRead, responses=_UNIT_ADMIN_ERRORS)
async def change_unit(unit_id: uuid.UUID, body: UnitUpdate, uow: Uow, ctx: Context,
                      principal: CurrentPrincipal) -> UnitRead:
    """Rename, move to another region of the same level, or replace the categories (admins).
    The id stays: the unit's cases keep pointing at it; every change is audited."""
    row = await directory.change_unit(uow, principal=principal, unit_id=unit_id,
                                      name=body.name, region_code=body.region_code,
                                      categories=body.categories, now=ctx.clock())
    return UnitRead.model_validate(_items(UnitRead, [row])[0])


@router.get("/units/{unit_id}/history", response_model=UnitAuditList,
            responses={403: _problem("`role_required`: admins and supervisors"),
                       404: _UNIT_ADMIN_ERRORS[404]})
async def unit_history(unit_id: uuid.UUID, uow: Uow, principal: CurrentPrincipal,
                       cursor: str | None = None, limit: Limit = 50) -> UnitAuditList:
    """Every change to a unit, newest first (admins, supervisors): its earlier names and
    regions, for the cases that point at it by id."""
    rows, next_cursor = await directory.unit_history(uow, principal=principal, unit_id=unit_id,
                                                     cursor=cursor, limit=limit)
    return UnitAuditList.model_validate({"items": _items(UnitAuditRead, rows),
                                         "next_cursor": next_cursor})


@router.post("/units/{unit_id}/retire", response_model=UnitRead, responses={
    **_UNIT_ADMIN_ERRORS,
    409: _problem("`unit_has_open_cases`: the unit holds open cases or sub-tasks; transfer "
                  "them first (nothing is changed)")})
async def retire_unit(unit_id: uuid.UUID, uow: Uow, ctx: Context,
                      principal: CurrentPrincipal) -> UnitRead:
    """Retire a unit (admins): no longer listed, dispatched to, routed to or asked to co-handle,
    and no new rule may name a kind whose units are all retired. Retiring twice is a no-op."""
    row = await directory.retire_unit(uow, principal=principal, unit_id=unit_id,
                                      now=ctx.clock())
    return UnitRead.model_validate(_items(UnitRead, [row])[0])


@router.get("/rules", response_model=RuleList)
async def rules(uow: Uow, principal: CurrentPrincipal) -> RuleList:
    _staff_only(principal)
    return RuleList.model_validate({"items": _items(RuleRead, await service.rules(uow))})


@router.put("/rules/{category_code}/{level}", status_code=204, responses={
    409: _problem("`unit_kind_retired`: every unit of that kind is retired")})
async def put_rule(category_code: CategoryCode, level: str, body: RuleUpdate, uow: Uow,
                   ctx: Context, principal: CurrentPrincipal) -> None:
    """Set which unit kind owns a category at a level (audited)."""
    await service.put_rule(uow, principal=principal, category_code=category_code, level=level,
                           unit_kind=body.unit_kind, entry=body.entry, active=body.active,
                           now=ctx.clock())


@router.get("/rules/audit", response_model=RuleAuditList)
async def rule_audit(uow: Uow, principal: CurrentPrincipal, limit: Limit = 50) -> RuleAuditList:
    rows = await service.rule_audit(uow, principal=principal, limit=limit)
    return RuleAuditList.model_validate({"items": _items(RuleAuditRead, rows)})


@router.get("/sla-policies", response_model=PolicyList)
async def policies(uow: Uow, principal: CurrentPrincipal) -> PolicyList:
    _staff_only(principal)
    return PolicyList.model_validate({"items": _items(PolicyRead, await service.policies(uow))})


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


def _assignments(rows: list[Any], now: datetime) -> AssignmentList:
    items = []
    for row in rows:
        due = row["accept_by"] if row["status"] == "dispatched" else row["resolve_by"]
        items.append(AssignmentRead.model_validate(
            {**_items(AssignmentRead, [row])[0], "overdue": due is not None and due < now}))
    return AssignmentList(items=items)


@router.get("/queue", response_model=AssignmentList)
async def queue(uow: Uow, ctx: Context, principal: CurrentPrincipal,
                limit: Limit = 50) -> AssignmentList:
    """The dispatcher's queue: unmatched and returned cases in the caller's regions."""
    rows = await service.dispatcher_queue(uow, principal=principal, limit=limit)
    return _assignments(rows, ctx.clock())


@router.get("/units/{unit_id}/work-queue", response_model=AssignmentList)
async def work_queue(unit_id: uuid.UUID, uow: Uow, ctx: Context,
                     principal: CurrentPrincipal, limit: Limit = 50) -> AssignmentList:
    """A unit's open cases: overdue first, then by the nearest deadline."""
    now = ctx.clock()
    rows = await service.work_queue(uow, principal=principal, unit_id=unit_id, now=now,
                                    limit=limit)
    return _assignments(rows, now)


@router.get("/supervisions", response_model=SupervisionList)
async def supervisions(uow: Uow, principal: CurrentPrincipal,
                       limit: Limit = 50) -> SupervisionList:
    rows = await service.supervisions(uow, principal=principal, limit=limit)
    return SupervisionList.model_validate({"items": _items(SupervisionRead, rows)})


class CaseMove(Protocol):
    """Dispatch, transfer or escalation, its own fields already bound."""

    def __call__(self, uow: UnitOfWork, *, principal: Principal, event_id: uuid.UUID,
                 now: datetime, cal: WorkingCalendar, fractions: list[float], pii: PiiCipher
                 ) -> Awaitable[None]: ...


async def _move_case(move: CaseMove, uow: UnitOfWork, ctx: RoutingContext,
                     principal: Principal, event_id: uuid.UUID, status: str) -> dict[str, str]:
    """A case moved to another unit: at the context's time, calendar and reminders, its note
    kept by the context's cipher."""
    await move(uow, principal=principal, event_id=event_id, now=ctx.clock(), cal=ctx.calendar,
               fractions=ctx.reminder_fractions, pii=ctx.pii)
    return {"status": status}


@router.post("/assignments/{event_id}/dispatch", status_code=202)
async def dispatch(event_id: uuid.UUID, body: DispatchIn, uow: Uow, ctx: Context,
                   principal: CurrentPrincipal) -> dict[str, str]:
    """The dispatcher assigns a queued case (unmatched or returned) to a unit."""
    return await _move_case(partial(service.dispatch, unit_id=body.unit_id, note=body.note),
                            uow, ctx, principal, event_id, "dispatched")


@router.post("/assignments/{event_id}/transfer", status_code=202)
async def transfer(event_id: uuid.UUID, body: TransferIn, uow: Uow, ctx: Context,
                   principal: CurrentPrincipal) -> dict[str, str]:
    return await _move_case(partial(service.transfer, unit_id=body.unit_id, reason=body.reason),
                            uow, ctx, principal, event_id, "dispatched")


@router.post("/assignments/{event_id}/escalate", status_code=202)
async def escalate(event_id: uuid.UUID, body: ReasonIn, uow: Uow, ctx: Context,
                   principal: CurrentPrincipal) -> dict[str, str]:
    """上报: community → town → county department."""
    return await _move_case(partial(service.escalate, reason=body.reason),
                            uow, ctx, principal, event_id, "escalated")


@router.post("/assignments/{event_id}/extensions", status_code=201, response_model=CreatedId)
async def request_extension(event_id: uuid.UUID, body: ExtensionIn, uow: Uow, ctx: Context,
                            principal: CurrentPrincipal) -> CreatedId:
    request_id = await service.request_extension(
        uow, principal=principal, event_id=event_id, extra_working_hours=body.extra_working_hours,
        reason=body.reason, now=ctx.clock(), pii=ctx.pii)
    return CreatedId(id=request_id)


@router.post("/extensions/{request_id}/decision", status_code=204)
async def decide_extension(request_id: uuid.UUID, body: ExtensionDecision, uow: Uow,
                           ctx: Context, principal: CurrentPrincipal) -> None:
    await service.decide_extension(uow, principal=principal, request_id=request_id,
                                   approve=body.approve, now=ctx.clock(), cal=ctx.calendar,
                                   fractions=ctx.reminder_fractions)


@router.post("/assignments/{event_id}/co-handling", status_code=201, response_model=SubtaskIds)
async def co_handling(event_id: uuid.UUID, body: CoHandlingIn, uow: Uow, ctx: Context,
                      principal: CurrentPrincipal) -> SubtaskIds:
    """The lead unit asks assisting units for sub-tasks."""
    ids = await service.start_co_handling(
        uow, principal=principal, event_id=event_id, unit_ids=body.unit_ids, task=body.task,
        due_working_hours=body.due_working_hours or ctx.co_handling_default_hours,
        now=ctx.clock(), cal=ctx.calendar, pii=ctx.pii)
    return SubtaskIds(subtask_ids=ids)


@router.post("/subtasks/{subtask_id}/answer", status_code=204, responses={
    403: _problem("`not_assigned`: another unit's sub-task"),
    404: _problem("`subtask_not_found`"),
    409: _problem("`subtask_closed`: already answered, timed out or lapsed")})
async def answer(subtask_id: uuid.UUID, body: AnswerIn, uow: Uow, ctx: Context,
                 principal: CurrentPrincipal) -> None:
    """Staff of the assisting unit answer (``attachment_ids``: uploads the answer points at);
    the lead unit reads it on ``GET /assignments/{event_id}/subtasks``."""
    await service.answer_subtask(uow, principal=principal, subtask_id=subtask_id,
                                 answer=body.answer, now=ctx.clock(), pii=ctx.pii,
                                 attachment_ids=body.attachment_ids)


def _subtasks(rows: list[Any], now: datetime, next_cursor: str | None = None) -> SubtaskList:
    items = [SubtaskRead.model_validate({
        **_items(SubtaskRead, [row])[0],
        "answer_attachment_ids": list(row["answer_attachment_ids"] or []),
        "overdue": row["status"] == "timed_out" or (row["status"] == "open"
                                                    and row["due_at"] <= now)})
        for row in rows]
    return SubtaskList(items=items, next_cursor=next_cursor)


_QUEUE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _problem("`cursor_invalid`"),
    403: _problem("`out_of_scope`: not the unit's staff nor a supervisor over it, or (no "
                  "``unit_id``) the caller belongs to no unit"),
    404: _problem("`unit_not_found`"),
}


@router.get("/subtasks", response_model=SubtaskList, responses=_QUEUE_ERRORS)
async def my_subtasks(uow: Uow, ctx: Context, principal: CurrentPrincipal,
                      unit_id: uuid.UUID | None = None, state: SubtaskFilter | None = None,
                      cursor: str | None = None, limit: Limit = 50) -> SubtaskList:
    """The assisting unit's work queue: sub-tasks asked of the caller's units (or of
    ``unit_id``: its staff, supervisors over it), nearest due first, a page at a time;
    ``state``: open, answered or overdue. Each item names the case, lead unit and due time."""
    now = ctx.clock()
    rows, next_cursor = await service.unit_subtasks(
        uow, principal=principal, unit_id=unit_id, state=state, cursor=cursor, limit=limit,
        now=now)
    return _subtasks(rows, now, next_cursor)


@router.get("/units/{unit_id}/subtasks", response_model=SubtaskList, responses=_QUEUE_ERRORS)
async def unit_subtasks(unit_id: uuid.UUID, uow: Uow, ctx: Context,
                        principal: CurrentPrincipal, state: SubtaskFilter | None = None,
                        cursor: str | None = None, limit: Limit = 50) -> SubtaskList:
    """A unit's sub-task queue, as ``GET /subtasks?unit_id=``."""
    return await my_subtasks(uow, ctx, principal, unit_id=unit_id, state=state, cursor=cursor,
                             limit=limit)


@router.get("/subtasks/{subtask_id}", response_model=SubtaskRead,
            responses={404: _problem("`subtask_not_found`: none, or not the caller's to see")})
async def open_subtask(subtask_id: uuid.UUID, uow: Uow, ctx: Context,
                       principal: CurrentPrincipal) -> SubtaskRead:
    """One sub-task: for the assisting and the lead unit's staff and supervisors over it."""
    row = await service.open_subtask(uow, principal=principal, subtask_id=subtask_id)
    return _subtasks([row], ctx.clock()).items[0]


@router.get("/assignments/{event_id}/subtasks", response_model=SubtaskList,
            responses={403: _problem("`out_of_scope`"),
                       404: _problem("`event_not_found`: routing knows no such case")})
async def case_subtasks(event_id: uuid.UUID, uow: Uow, ctx: Context,
                        principal: CurrentPrincipal) -> SubtaskList:
    """A case's sub-tasks and answers (who, when, what, attachments), oldest first, for the
    case page: the lead unit, the unit holding the case and staff over its region; an
    assisting unit sees only its own."""
    rows = await service.case_subtasks(uow, principal=principal, event_id=event_id)
    return _subtasks(rows, ctx.clock())


@router.get("/cohandling-counts", response_model=CoHandlingCountList, responses={
    403: _problem("`role_required`: staff who read scorecards"),
    422: _problem("`date_range_invalid`: ``to`` before ``from`` or over three years")})
async def cohandling_counts(uow: Uow, ctx: Context, principal: CurrentPrincipal,
                            first: Annotated[date, Query(alias="from")],
                            last: Annotated[date, Query(alias="to")]) -> CoHandlingCountList:
    """Assisting work per unit on sub-tasks asked ``from``..``to`` (Shanghai days, inclusive),
    for the scorecard: the caller's own unit and units in their regions."""
    rows = await service.cohandling_counts(uow, principal=principal, first=first, last=last,
                                           now=ctx.clock())
    return CoHandlingCountList.model_validate({"items": _items(CoHandlingCountRead, rows)})


@router.post("/assignments/{event_id}/original-text", response_model=OriginalTexts)
async def original_text(event_id: uuid.UUID, body: ReasonIn, uow: Uow, ctx: Context,
                        principal: CurrentPrincipal) -> OriginalTexts:
    """The case's notes, extension reasons, sub-task tasks and answers as typed: phone and ID
    numbers are stored and published masked. Staff who work the case or oversee its region
    (a sensitive tip's: supervisors and admins) give a reason; every read is audited."""
    return await service.reveal_original_text(
        uow, principal=principal, event_id=event_id, reason=body.reason, pii=ctx.pii,
        now=ctx.clock())


# -- manual supervision (人工督办) -------------------------------------------------------------

_SUPERVISION_ERRORS: dict[int | str, dict[str, Any]] = {
    403: _problem("`role_required`: supervisors and admins issue; `out_of_scope`: the case is "
                  "outside the caller's regions"),
    404: _problem("`event_not_found`: routing knows no such case"),
    409: _problem("`case_closed`: the case is closed; `case_unassigned`: no unit holds it yet"),
    422: _problem("`reply_by_past`: the reply-by time is not in the future; `validation_error`"),
}
States = Annotated[list[SupervisionState] | None, Query()]


def _orders(rows: list[Any], next_cursor: str | None = None) -> SupervisionOrderList:
    return SupervisionOrderList.model_validate(
        {"items": _items(SupervisionOrderRead, rows), "next_cursor": next_cursor})


@router.post("/assignments/{event_id}/supervisions", status_code=201,
             response_model=SupervisionOrderRead, responses=_SUPERVISION_ERRORS)
async def issue_supervision(event_id: uuid.UUID, body: SupervisionOrderCreate, uow: Uow,
                            ctx: Context, principal: CurrentPrincipal) -> SupervisionOrderRead:
    """A supervisor over the case's region (or an admin) orders the unit holding an open case
    to act and reply by ``reply_by``, at a level: ``reminder`` 提醒, ``supervision`` 督办,
    ``listed`` 挂牌督办. Announced as ``routing.supervision_issued``."""
    row = await supervision.issue_supervision(
        uow, principal=principal, event_id=event_id, level=body.level,
        instruction=body.instruction, reply_by=body.reply_by, now=ctx.clock(), pii=ctx.pii)
    return SupervisionOrderRead.model_validate(_items(SupervisionOrderRead, [row])[0])


@router.get("/assignments/{event_id}/supervisions", response_model=SupervisionOrderList,
            responses={403: _problem("`out_of_scope`"), 404: _SUPERVISION_ERRORS[404]})
async def case_supervisions(event_id: uuid.UUID, uow: Uow,
                            principal: CurrentPrincipal) -> SupervisionOrderList:
    """A case's supervision orders, oldest first (for the case page): staff over its region
    and the units that held it."""
    rows = await supervision.case_supervisions(uow, principal=principal, event_id=event_id)
    return _orders(rows)


@router.get("/units/{unit_id}/supervisions", response_model=SupervisionOrderList,
            responses={403: _problem("`out_of_scope`"), 404: _UNIT_ADMIN_ERRORS[404]})
async def unit_supervisions(unit_id: uuid.UUID, uow: Uow, principal: CurrentPrincipal,
                            status: States = None, cursor: str | None = None,
                            limit: Limit = 50) -> SupervisionOrderList:
    """The orders a unit must answer (``status`` repeated to choose; default open and
    overdue), nearest reply-by first, a page at a time: its staff, supervisors over it."""
    rows, next_cursor = await supervision.unit_supervisions(
        uow, principal=principal, unit_id=unit_id, statuses=list(status or []) or None,
        cursor=cursor, limit=limit)
    return _orders(rows, next_cursor)


@router.get("/supervision-orders", response_model=SupervisionOrderList,
            responses={403: _problem("`role_required`: supervisors and admins")})
async def supervision_orders(uow: Uow, principal: CurrentPrincipal, status: States = None,
                             escalated: bool = False, cursor: str | None = None,
                             limit: Limit = 50) -> SupervisionOrderList:
    """The command centre's list: supervision orders on cases in the caller's regions
    (admins: all), newest first, optionally by ``status``. ``escalated``: instead, the orders
    left unanswered past their reply-by and raised to the caller's regions (one level above
    the unit's own supervisors)."""
    rows, next_cursor = await supervision.supervisions_in_scope(
        uow, principal=principal, statuses=list(status or []) or None, cursor=cursor,
        limit=limit, escalated=escalated)
    return _orders(rows, next_cursor)


@router.post("/supervisions/{supervision_id}/reply", response_model=SupervisionOrderRead,
             responses={403: _problem("`not_assigned`: another unit's order; `role_required`"),
                        404: _problem("`supervision_not_found`"),
                        409: _problem("`supervision_replied`: already answered")})
async def reply_supervision(supervision_id: uuid.UUID, body: SupervisionReplyIn, uow: Uow,
                            ctx: Context, principal: CurrentPrincipal) -> SupervisionOrderRead:
    """Staff of the supervised unit answer; that closes the order (``routing.supervision_
    replied``, ``late`` when past its reply-by)."""
    row = await supervision.reply_supervision(
        uow, principal=principal, supervision_id=supervision_id, reply=body.reply,
        now=ctx.clock(), pii=ctx.pii)
    return SupervisionOrderRead.model_validate(_items(SupervisionOrderRead, [row])[0])


@router.get("/supervision-counts", response_model=SupervisionCountList, responses={
    403: _problem("`role_required`: staff who read scorecards"),
    422: _problem("`date_range_invalid`: ``to`` before ``from`` or over three years")})
async def supervision_counts(uow: Uow, principal: CurrentPrincipal,
                             first: Annotated[date, Query(alias="from")],
                             last: Annotated[date, Query(alias="to")]) -> SupervisionCountList:
    """Supervision orders per supervised unit, issued ``from``..``to`` (Shanghai days,
    inclusive), for the scorecard: the caller's own unit and units in their regions."""
    rows = await supervision.supervision_counts(uow, principal=principal, first=first,
                                                last=last)
    return SupervisionCountList.model_validate({"items": _items(SupervisionCountRead, rows)})
