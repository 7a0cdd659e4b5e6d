"""Routes of co-handling sub-tasks: the assisting unit's queue, answers, counts, texts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.routing import service
from services.routing.schemas import (
    AnswerIn,
    CoHandlingCountList,
    CoHandlingCountRead,
    OriginalTexts,
    ReasonIn,
    SubtaskFilter,
    SubtaskList,
    SubtaskRead,
)
from shared.auth import CurrentPrincipal
from shared.web.deps import Uow

from .deps import Context, Limit, fields_of, problem_doc

router = APIRouter()


@router.post("/subtasks/{subtask_id}/answer", status_code=204, responses={
    403: problem_doc("`not_assigned`: another unit's sub-task"),
    404: problem_doc("`subtask_not_found`"),
    409: problem_doc("`subtask_closed`: already answered, timed out or lapsed")})
async def answer(subtask_id: uuid.UUID, body: AnswerIn, uow: Uow, ctx: Context,
                 principal: CurrentPrincipal) -> None:
    """Staff of the assisting unit answer (``attachment_ids``: uploads the answer points at);
    the lead unit reads it on ``GET /assignments/{event_id}/subtasks``."""
    await service.answer_subtask(uow, principal=principal, subtask_id=subtask_id,
                                 answer=body.answer, now=ctx.clock(), pii=ctx.pii,
                                 attachment_ids=body.attachment_ids)


def _subtasks(rows: list[Any], now: datetime, next_cursor: str | None = None) -> SubtaskList:
    items = [SubtaskRead.model_validate({
        **fields_of(SubtaskRead, [row])[0],
        "answer_attachment_ids": list(row["answer_attachment_ids"] or []),
        "overdue": row["status"] == "timed_out" or (row["status"] == "open"
                                                    and row["due_at"] <= now)})
        for row in rows]
    return SubtaskList(items=items, next_cursor=next_cursor)


_QUEUE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: problem_doc("`cursor_invalid`"),
    403: problem_doc("`out_of_scope`: not the unit's staff nor a supervisor over it, or (no "
                  "``unit_id``) the caller belongs to no unit"),
    404: problem_doc("`unit_not_found`"),
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
            responses={404: problem_doc("`subtask_not_found`: none, or not the caller's to see")})
async def open_subtask(subtask_id: uuid.UUID, uow: Uow, ctx: Context,
                       principal: CurrentPrincipal) -> SubtaskRead:
    """One sub-task: for the assisting and the lead unit's staff and supervisors over it."""
    row = await service.open_subtask(uow, principal=principal, subtask_id=subtask_id)
    return _subtasks([row], ctx.clock()).items[0]


@router.get("/assignments/{event_id}/subtasks", response_model=SubtaskList,
            responses={403: problem_doc("`out_of_scope`"),
                       404: problem_doc("`event_not_found`: routing knows no such case")})
async def case_subtasks(event_id: uuid.UUID, uow: Uow, ctx: Context,
                        principal: CurrentPrincipal) -> SubtaskList:
    """A case's sub-tasks and answers (who, when, what, attachments), oldest first, for the
    case page: the lead unit, the unit holding the case and staff over its region; an
    assisting unit sees only its own."""
    rows = await service.case_subtasks(uow, principal=principal, event_id=event_id)
    return _subtasks(rows, ctx.clock())


@router.get("/cohandling-counts", response_model=CoHandlingCountList, responses={
    403: problem_doc("`role_required`: staff who read scorecards"),
    422: problem_doc("`date_range_invalid`: ``to`` before ``from`` or over three years")})
async def cohandling_counts(uow: Uow, ctx: Context, principal: CurrentPrincipal,
                            first: Annotated[date, Query(alias="from")],
                            last: Annotated[date, Query(alias="to")]) -> CoHandlingCountList:
    """Assisting work per unit on sub-tasks asked ``from``..``to`` (Shanghai days, inclusive),
    for the scorecard: the caller's own unit and units in their regions."""
    rows = await service.cohandling_counts(uow, principal=principal, first=first, last=last,
                                           now=ctx.clock())
    return CoHandlingCountList.model_validate({"items": fields_of(CoHandlingCountRead, rows)})


@router.post("/assignments/{event_id}/original-text", response_model=OriginalTexts)
async def original_text(event_id: uuid.UUID, body: ReasonIn, uow: Uow, ctx: Context,
                        principal: CurrentPrincipal) -> OriginalTexts:
    """The case's notes, extension reasons, sub-task tasks and answers as typed: phone and ID
    numbers are stored and published masked. Staff who work the case or oversee its region
    (a sensitive tip's: supervisors and admins) give a reason; every read is audited."""
    return await service.reveal_original_text(
        uow, principal=principal, event_id=event_id, reason=body.reason, pii=ctx.pii,
        now=ctx.clock())
