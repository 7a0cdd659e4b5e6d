"""Routes of manual supervision (人工督办): issue, lists, replies, counts."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.routing.schemas import (
    SupervisionCountList,
    SupervisionCountRead,
    SupervisionOrderCreate,
    SupervisionOrderList,
    SupervisionOrderRead,
    SupervisionReplyIn,
    SupervisionState,
)
from services.routing.service import supervision
from shared.auth import CurrentPrincipal
from shared.web.deps import Uow

from .deps import UNIT_ADMIN_ERRORS, Context, Limit, fields_of, problem_doc

router = APIRouter()


# -- manual supervision (人工督办) -------------------------------------------------------------

_SUPERVISION_ERRORS: dict[int | str, dict[str, Any]] = {
    403: problem_doc("`role_required`: supervisors and admins issue; `out_of_scope`: the case is "
                  "outside the caller's regions"),
    404: problem_doc("`event_not_found`: routing knows no such case"),
    409: problem_doc("`case_closed`: the case is closed; `case_unassigned`: no unit holds it yet"),
    422: problem_doc("`reply_by_past`: the reply-by time is not in the future; `validation_error`"),
}
States = Annotated[list[SupervisionState] | None, Query()]


def _orders(rows: list[Any], next_cursor: str | None = None) -> SupervisionOrderList:
    return SupervisionOrderList.model_validate(
        {"items": fields_of(SupervisionOrderRead, rows), "next_cursor": next_cursor})


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
    return SupervisionOrderRead.model_validate(fields_of(SupervisionOrderRead, [row])[0])


@router.get("/assignments/{event_id}/supervisions", response_model=SupervisionOrderList,
            responses={403: problem_doc("`out_of_scope`"), 404: _SUPERVISION_ERRORS[404]})
async def case_supervisions(event_id: uuid.UUID, uow: Uow,
                            principal: CurrentPrincipal) -> SupervisionOrderList:
    """A case's supervision orders, oldest first (for the case page): staff over its region
    and the units that held it."""
    rows = await supervision.case_supervisions(uow, principal=principal, event_id=event_id)
    return _orders(rows)


@router.get("/units/{unit_id}/supervisions", response_model=SupervisionOrderList,
            responses={403: problem_doc("`out_of_scope`"), 404: UNIT_ADMIN_ERRORS[404]})
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
            responses={403: problem_doc("`role_required`: supervisors and admins")})
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
             responses={403: problem_doc("`not_assigned`: another unit's order; `role_required`"),
                        404: problem_doc("`supervision_not_found`"),
                        409: problem_doc("`supervision_replied`: already answered")})
async def reply_supervision(supervision_id: uuid.UUID, body: SupervisionReplyIn, uow: Uow,
                            ctx: Context, principal: CurrentPrincipal) -> SupervisionOrderRead:
    """Staff of the supervised unit answer; that closes the order (``routing.supervision_
    replied``, ``late`` when past its reply-by)."""
    row = await supervision.reply_supervision(
        uow, principal=principal, supervision_id=supervision_id, reply=body.reply,
        now=ctx.clock(), pii=ctx.pii)
    return SupervisionOrderRead.model_validate(fields_of(SupervisionOrderRead, [row])[0])


@router.get("/supervision-counts", response_model=SupervisionCountList, responses={
    403: problem_doc("`role_required`: staff who read scorecards"),
    422: problem_doc("`date_range_invalid`: ``to`` before ``from`` or over three years")})
async def supervision_counts(uow: Uow, principal: CurrentPrincipal,
                             first: Annotated[date, Query(alias="from")],
                             last: Annotated[date, Query(alias="to")]) -> SupervisionCountList:
    """Supervision orders per supervised unit, issued ``from``..``to`` (Shanghai days,
    inclusive), for the scorecard: the caller's own unit and units in their regions."""
    rows = await supervision.supervision_counts(uow, principal=principal, first=first,
                                                last=last)
    return SupervisionCountList.model_validate({"items": fields_of(SupervisionCountRead, rows)})
