"""Routes of a case's routing: queues, dispatch, transfer, escalation, extensions, co-handling."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from fastapi import APIRouter

from services.routing import service
from services.routing.context import RoutingContext
from services.routing.schemas import (
    AssignmentList,
    AssignmentRead,
    CoHandlingIn,
    CreatedId,
    DispatchIn,
    ExtensionDecision,
    ExtensionIn,
    ReasonIn,
    SubtaskIds,
    SupervisionList,
    SupervisionRead,
    TransferIn,
)
from shared.auth import CurrentPrincipal, Principal
from shared.calendar import WorkingCalendar
from shared.db.uow import UnitOfWork
from shared.pii import PiiCipher
from shared.web.deps import Uow

from .deps import Context, Limit, fields_of

router = APIRouter()


def _assignments(rows: list[Any], now: datetime) -> AssignmentList:
    items = []
    for row in rows:
        due = row["accept_by"] if row["status"] == "dispatched" else row["resolve_by"]
        items.append(AssignmentRead.model_validate(
            {**fields_of(AssignmentRead, [row])[0], "overdue": due is not None and due < now,
             "returned_by_unit_id": _returned_by(row)}))
    return AssignmentList(items=items)


def _returned_by(row: Any) -> uuid.UUID | None:
    """The unit a returned case left last (former units are kept most recent last)."""
    former = list(row.get("former_unit_ids") or ())
    return former[-1] if row.get("queue_reason") == "returned" and former else None


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
    return SupervisionList.model_validate({"items": fields_of(SupervisionRead, rows)})


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
