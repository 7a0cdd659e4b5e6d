"""HTTP routes of the feedback service, under /api/v1/feedback."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from services.feedback import scoring
from services.feedback.context import FeedbackContext
from services.feedback.schemas import (
    CountsRead,
    HotspotList,
    HotspotRead,
    NotificationPage,
    NotificationRead,
    OverduePage,
    OverdueRead,
    PeriodRead,
    RatingCreate,
    RatingRead,
    RegionScorecardAnswer,
    RegionScorecardRead,
    StaffNoticePage,
    StaffNoticeRead,
    StaffNoticesMarked,
    StaffNoticeUnread,
    TrendDay,
    TrendRead,
    UnitScorecardPage,
    UnitScorecardRead,
)
from services.feedback.service import (
    command,
    notifications,
    ratings,
    scorecards,
    staff_notices,
)
from services.feedback.service.spreadsheet import XLSX_TYPE, workbook_bytes
from shared.auth import CurrentPrincipal, Principal, require_roles
from shared.auth.principal import Role
from shared.db.uow import UnitOfWork
from shared.problems import BadRequest
from shared.regions import is_region_code
from shared.web.deps import IdempotencyKey, Uow, context_dependency

router = APIRouter(prefix="/api/v1/feedback", tags=["feedback"])
Context = Annotated[FeedbackContext, Depends(context_dependency(FeedbackContext))]
Resident = Annotated[Principal, Depends(require_roles(Role.RESIDENT))]
Staff = Annotated[Principal, Depends(require_roles(*scorecards.SCORECARD_ROLES))]


# -- ratings -----------------------------------------------------------------------------------


@router.post("/ratings", status_code=201, response_model=RatingRead)
async def rate_event(
    body: RatingCreate, principal: Resident, uow: Uow, idempotency_key: IdempotencyKey = None
) -> RatingRead:
    """The reporter rates the latest closure of their case, once. Dissatisfied sends the
    case back to the unit that handled it (rework)."""
    recorded = await ratings.rate(
        uow=uow, rater_id=principal.subject, event_id=body.event_id, rating=body.rating,
        comment=body.comment, idempotency_key=idempotency_key,
    )
    return RatingRead(
        event_id=recorded.event_id, rating=recorded.rating,
        default_applied=recorded.default_applied, rated_at=recorded.rated_at,
        closure_seq=recorded.closure_seq, rework_requested=recorded.rework_requested,
    )


# -- in-app inbox ----------------------------------------------------------------------------


def _notification(row: Any) -> NotificationRead:
    return NotificationRead(
        id=row.id, kind=row.kind, title=row.title, body=row.body, event_id=row.event_id,
        created_at=row.created_at, read_at=row.read_at, wechat_status=row.wechat_status,
    )


@dataclass(frozen=True)
class InboxQuery:
    """Paging of an inbox: newest first, optionally unread only."""

    limit: int
    cursor: str | None
    unread: bool


# async on purpose: FastAPI runs plain-def dependencies (and classes) in its thread pool.
async def _inbox_query(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    unread: bool = False,
) -> InboxQuery:
    return InboxQuery(limit, cursor, unread)


Inbox = Annotated[InboxQuery, Depends(_inbox_query)]


@router.get("/notifications", response_model=NotificationPage)
async def list_notifications(
    principal: CurrentPrincipal, uow: Uow, page: Inbox
) -> NotificationPage:
    """The caller's own notifications, newest first."""
    rows, next_cursor = await notifications.list_inbox(
        uow=uow, user_id=principal.subject, limit=page.limit, cursor=page.cursor,
        unread_only=page.unread,
    )
    return NotificationPage(items=[_notification(r) for r in rows], next_cursor=next_cursor)


@router.post("/notifications/{notification_id}/read", response_model=NotificationRead)
async def mark_notification_read(
    notification_id: uuid.UUID, principal: CurrentPrincipal, uow: Uow
) -> NotificationRead:
    row = await notifications.mark_read(
        uow=uow, user_id=principal.subject, notification_id=notification_id
    )
    return _notification(row)


# -- staff inbox ------------------------------------------------------------------------------
# Separate from the residents' /notifications: those are one person's (read state, WeChat
# delivery); these are addressed to a role over a region, or to a unit's staff, and shared by
# everyone holding it — each reader with their own read marks.
NoticeStaff = Annotated[Principal, Depends(require_roles(*staff_notices.STAFF_ROLES))]


def _staff_notice(row: Any) -> StaffNoticeRead:
    return StaffNoticeRead(
        id=row.id, kind=row.kind, region_code=row.region_code,
        addressed_unit_id=row.addressed_unit_id, event_id=row.event_id,
        grid_task_id=row.grid_task_id,
        case_no=row.case_no, unit_id=row.unit_id, title=row.title, body=row.body,
        occurred_at=row.occurred_at, created_at=row.created_at, read_at=row.read_at,
    )


@router.get("/staff-notices", response_model=StaffNoticePage)
async def list_staff_notices(principal: NoticeStaff, uow: Uow, page: Inbox) -> StaffNoticePage:
    """The caller's notices, newest first: those addressed to a role they hold over a region
    their scope covers (督办 for supervisors; escalations and returned cases for dispatchers)
    and those addressed to a unit they belong to (new cases, deadline warnings, 督办,
    co-handling requests)."""
    rows, next_cursor = await staff_notices.list_for_staff(
        uow=uow, principal=principal, limit=page.limit, cursor=page.cursor,
        unread_only=page.unread)
    return StaffNoticePage(items=[_staff_notice(r) for r in rows], next_cursor=next_cursor)


@router.get("/staff-notices/unread-count", response_model=StaffNoticeUnread)
async def staff_notices_unread(principal: NoticeStaff, uow: Uow) -> StaffNoticeUnread:
    """How many of the caller's notices they have not read."""
    return StaffNoticeUnread(
        unread=await staff_notices.unread_count(uow=uow, principal=principal))


@router.post("/staff-notices/read-all", response_model=StaffNoticesMarked)
async def mark_all_staff_notices_read(principal: NoticeStaff, uow: Uow) -> StaffNoticesMarked:
    """Marks every notice the caller can see read, for the caller alone."""
    return StaffNoticesMarked(
        marked=await staff_notices.mark_all_read(uow=uow, principal=principal))


@router.post("/staff-notices/{notice_id}/read", response_model=StaffNoticeRead)
async def mark_staff_notice_read(
    notice_id: uuid.UUID, principal: NoticeStaff, uow: Uow
) -> StaffNoticeRead:
    """Marks the notice read for the caller alone (colleagues keep their own state)."""
    row = await staff_notices.mark_read(uow=uow, principal=principal, notice_id=notice_id)
    return _staff_notice(row)


# -- scorecards ------------------------------------------------------------------------------


def _period(
    period: str, day: date | None, start: date | None, end: date | None
) -> tuple[datetime, datetime]:
    try:
        return scoring.period_bounds(scoring.period_named(period), day=day, start=start,
                                     end=end)
    except scoring.PeriodInvalid as exc:
        raise BadRequest(str(exc), code="period_invalid") from None


class PeriodQuery:
    def __init__(
        self,
        period: Annotated[str, Query(pattern="^(day|week|month|range)$")] = "month",
        date_: Annotated[date | None, Query(alias="date")] = None,
        from_: Annotated[date | None, Query(alias="from")] = None,
        to: Annotated[date | None, Query()] = None,
    ) -> None:
        if period != "range" and date_ is None:
            date_ = datetime.now(scoring.SHANGHAI).date()
        self.start, self.end = _period(period, date_, from_, to)
        self.as_of = datetime.now(UTC)

    def read(self) -> PeriodRead:
        return PeriodRead(start=self.start, end=self.end, as_of=self.as_of)


Period = Annotated[PeriodQuery, Depends()]
RankBy = Annotated[str, Query(pattern="^(" + "|".join(scoring.RANKABLE) + ")$")]


@dataclass(frozen=True)
class RankingQuery:
    """How a table of units is ranked: by which figure, from which sample size (None: the
    configured minimum)."""

    rank_by: str
    min_sample: int | None


async def _ranking_query(
    rank_by: RankBy = "closed_loop_rate",
    min_sample: Annotated[int | None, Query(ge=1, le=100000)] = None,
) -> RankingQuery:
    return RankingQuery(rank_by, min_sample)


Ranking = Annotated[RankingQuery, Depends(_ranking_query)]


async def _unit_page(
    principal: Principal, uow: UnitOfWork, ctx: FeedbackContext, when: PeriodQuery,
    ranking: RankingQuery,
) -> UnitScorecardPage:
    minimum = (ctx.settings.ranking_min_sample if ranking.min_sample is None
               else ranking.min_sample)
    rows = await scorecards.unit_scorecards(
        uow=uow, principal=principal, start=when.start, end=when.end, as_of=when.as_of,
        rank_by=ranking.rank_by, min_sample=minimum,
    )
    return UnitScorecardPage(
        period=when.read(), rank_by=ranking.rank_by, min_sample_size=minimum,
        items=[UnitScorecardRead.model_validate(_public(r)) for r in rows],
    )


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "key"}


@router.get("/scorecards/units", response_model=UnitScorecardPage)
async def unit_scorecards(
    principal: Staff, uow: Uow, ctx: Context, ranking: Ranking, when: Period
) -> UnitScorecardPage:
    """Departments' scorecards within the caller's scope, ranked; units with fewer cases
    than the minimum sample size are listed unranked."""
    return await _unit_page(principal, uow, ctx, when, ranking)


@router.get("/scorecards/units.csv", response_class=Response)
async def unit_scorecards_csv(
    principal: Staff, uow: Uow, ctx: Context, ranking: Ranking, when: Period
) -> Response:
    page = await _unit_page(principal, uow, ctx, when, ranking)
    return _csv([i.model_dump() for i in page.items], "unit-scorecards.csv")


@router.get("/scorecards/units.xlsx", response_class=Response)
async def unit_scorecards_xlsx(
    principal: Staff, uow: Uow, ctx: Context, ranking: Ranking, when: Period
) -> Response:
    page = await _unit_page(principal, uow, ctx, when, ranking)
    return _xlsx([i.model_dump() for i in page.items], "unit-scorecards.xlsx")


async def _region_answer(
    principal: Principal, uow: UnitOfWork, region_code: str, when: PeriodQuery
) -> RegionScorecardAnswer:
    if not is_region_code(region_code):
        raise BadRequest("not a region code", code="region_invalid")
    own, children = await scorecards.region_scorecard(
        uow=uow, principal=principal, region_code=region_code, start=when.start,
        end=when.end, as_of=when.as_of,
    )
    return RegionScorecardAnswer(
        period=when.read(),
        region=RegionScorecardRead.model_validate(_public(own)),
        children=[RegionScorecardRead.model_validate(_public(c)) for c in children],
    )


@router.get("/scorecards/regions/{region_code}", response_model=RegionScorecardAnswer)
async def region_scorecard(
    region_code: str, principal: Staff, uow: Uow, when: Period
) -> RegionScorecardAnswer:
    """A region's scorecard (every case below it) and one per child region."""
    return await _region_answer(principal, uow, region_code, when)


@router.get("/scorecards/regions/{region_code}/export.csv", response_class=Response)
async def region_scorecard_csv(
    region_code: str, principal: Staff, uow: Uow, when: Period
) -> Response:
    answer = await _region_answer(principal, uow, region_code, when)
    rows = [answer.region.model_dump()] + [c.model_dump() for c in answer.children]
    return _csv(rows, f"region-{region_code}-scorecards.csv")


@router.get("/scorecards/regions/{region_code}/export.xlsx", response_class=Response)
async def region_scorecard_xlsx(
    region_code: str, principal: Staff, uow: Uow, when: Period
) -> Response:
    answer = await _region_answer(principal, uow, region_code, when)
    rows = [answer.region.model_dump()] + [c.model_dump() for c in answer.children]
    return _xlsx(rows, f"region-{region_code}-scorecards.xlsx")


def _xlsx(rows: list[dict[str, Any]], filename: str) -> Response:
    return Response(
        content=workbook_bytes(rows, "scorecards"), media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _csv(rows: list[dict[str, Any]], filename: str) -> Response:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return Response(
        content="\ufeff" + buffer.getvalue(),  # BOM: Excel opens UTF-8 names correctly
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# -- command centre --------------------------------------------------------------------------

CommandStaff = Annotated[
    Principal, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.DISPATCHER))
]


def _region(region_code: str) -> str:
    if not is_region_code(region_code):
        raise BadRequest("not a region code", code="region_invalid")
    return region_code


@router.get("/command-centre/{region_code}/counts", response_model=CountsRead)
async def command_counts(
    region_code: str, principal: CommandStaff, uow: Uow, when: Period
) -> CountsRead:
    """Cases reported in the period by status, category, major risk and child region."""
    found = await command.counts(uow=uow, principal=principal, region_code=_region(region_code),
                                 start=when.start, end=when.end)
    return CountsRead(period=when.read(), region_code=region_code, by_status=found["status"],
                      by_category=found["category"], by_major_risk=found["major_risk"],
                      by_region=found.get("region", {}))


@router.get("/command-centre/{region_code}/trend", response_model=TrendRead)
async def command_trend(
    region_code: str, principal: CommandStaff, uow: Uow, when: Period
) -> TrendRead:
    """Per day of the period: cases reported and cases closed."""
    days = await command.trend(uow=uow, principal=principal, region_code=_region(region_code),
                               start=when.start, end=when.end)
    return TrendRead(region_code=region_code, items=[TrendDay(**d) for d in days])


@router.get("/command-centre/{region_code}/overdue", response_model=OverduePage)
async def command_overdue(
    region_code: str, principal: CommandStaff, uow: Uow,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> OverduePage:
    """Open cases past their accept-by or resolve-by deadline, most overdue first."""
    rows, next_cursor = await command.overdue(
        uow=uow, principal=principal, region_code=_region(region_code), limit=limit,
        cursor=cursor)
    items = [
        OverdueRead(
            event_id=r.event_id, case_no=r.case_no, category_code=r.category_code,
            region_code=r.region_code, status=r.status, unit_id=r.unit_id,
            missed="accept" if r.accepted_at is None and r.missed_deadline == r.accept_by
            else "resolve",
            missed_deadline=r.missed_deadline, reported_at=r.reported_at,
        )
        for r in rows
    ]
    return OverduePage(items=items, next_cursor=next_cursor)


@router.get("/command-centre/{region_code}/hotspots", response_model=HotspotList)
async def command_hotspots(region_code: str, principal: CommandStaff, uow: Uow) -> HotspotList:
    """Communities with many reports of one category lately: flagged for proactive handling."""
    rows = await command.hotspots(uow=uow, principal=principal,
                                  region_code=_region(region_code))
    return HotspotList(items=[
        HotspotRead(id=r.id, region_code=r.region_code, category_code=r.category_code,
                    report_count=r.report_count, window_start=r.window_start,
                    flagged_at=r.flagged_at)
        for r in rows
    ])
