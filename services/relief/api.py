"""HTTP routes of the relief service, under /api/v1/relief. Routes only: parse, authorise,
call the use case, return its schema. Role and scope checks are the use cases' first lines
(and the state machine's, for workflow steps)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.relief.context import ReliefContext
from services.relief.domain import Action, Kind, Status
from services.relief.schemas import (
    REGION_CODE_PATTERN,
    ApplicationCreate,
    ApplicationCreated,
    ApplicationPage,
    ApplicationRead,
    ApproveCreate,
    DecisionReasons,
    DisbursementCreate,
    DisbursementRead,
    MonthlyRunCreate,
    MonthlyRunRead,
    NoticePage,
    ObjectionCreate,
    ObjectionRead,
    ObjectionResolve,
    PiiAccessCreate,
    PiiAccessRead,
    PiiAuditPage,
    RejectCreate,
    ReviewCreate,
    Timeline,
    TotalsRead,
)
from services.relief.service import applications, ledger, privacy, workflow
from shared.auth.deps import CurrentPrincipal
from shared.web.deps import IdempotencyKey, Uow

router = APIRouter(prefix="/api/v1/relief", tags=["relief"])

Limit = Annotated[int, Query(ge=1, le=200)]
RegionQuery = Annotated[str, Query(pattern=REGION_CODE_PATTERN)]


def _ctx(request: Request) -> ReliefContext:
    return request.app.state.runtime.state["relief"]


@router.post("/applications", status_code=201, response_model=ApplicationCreated)
async def apply(
    body: ApplicationCreate,
    principal: CurrentPrincipal,
    uow: Uow,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> ApplicationCreated:
    """One-click hardship report: identity, household and address come from the registry."""
    return await applications.apply(
        uow=uow, ctx=_ctx(request), principal=principal, body=body,
        idempotency_key=idempotency_key,
    )


@router.get("/applications", response_model=ApplicationPage)
async def list_applications(
    principal: CurrentPrincipal,
    uow: Uow,
    request: Request,
    status: Status | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> ApplicationPage:
    """The caller's applications (resident) or their agency's queue in their regions."""
    return await applications.list_applications(
        uow=uow, ctx=_ctx(request), principal=principal, status=status, cursor=cursor,
        limit=limit,
    )


@router.get("/applications/{application_id}", response_model=ApplicationRead)
async def get_application(
    application_id: uuid.UUID, principal: CurrentPrincipal, uow: Uow, request: Request
) -> ApplicationRead:
    return await applications.get_application(
        uow=uow, ctx=_ctx(request), principal=principal, application_id=application_id
    )


@router.get("/applications/{application_id}/timeline", response_model=Timeline)
async def get_timeline(
    application_id: uuid.UUID, principal: CurrentPrincipal, uow: Uow
) -> Timeline:
    return await applications.timeline(
        uow=uow, principal=principal, application_id=application_id
    )


@router.post("/applications/{application_id}/accept", response_model=ApplicationRead)
async def accept(
    application_id: uuid.UUID, principal: CurrentPrincipal, uow: Uow, request: Request
) -> ApplicationRead:
    """The town accepts (受理): the joint review opens."""
    return await workflow.act(
        uow=uow, ctx=_ctx(request), principal=principal, application_id=application_id,
        action=Action.ACCEPT,
    )


@router.post("/applications/{application_id}/reject", response_model=ApplicationRead)
async def reject(
    application_id: uuid.UUID,
    body: RejectCreate,
    principal: CurrentPrincipal,
    uow: Uow,
    request: Request,
) -> ApplicationRead:
    """The town at intake, or civil affairs at approval, rejects with a reason."""
    return await workflow.act(
        uow=uow, ctx=_ctx(request), principal=principal, application_id=application_id,
        action=Action.REJECT, text=body.reason,
    )


@router.post("/applications/{application_id}/reviews", response_model=ApplicationRead)
async def review(
    application_id: uuid.UUID,
    body: ReviewCreate,
    principal: CurrentPrincipal,
    uow: Uow,
    request: Request,
) -> ApplicationRead:
    """One agency's opinion in the joint review (the agency comes from the token)."""
    return await workflow.act(
        uow=uow, ctx=_ctx(request), principal=principal, application_id=application_id,
        action=Action.REVIEW, approve=body.approve, text=body.opinion,
    )


@router.post(
    "/applications/{application_id}/objections", status_code=201, response_model=ObjectionRead
)
async def file_objection(
    application_id: uuid.UUID,
    body: ObjectionCreate,
    principal: CurrentPrincipal,
    uow: Uow,
    request: Request,
) -> ObjectionRead:
    return await workflow.file_objection(
        uow=uow, ctx=_ctx(request), principal=principal, application_id=application_id,
        text=body.text,
    )


@router.get("/applications/{application_id}/objections", response_model=list[ObjectionRead])
async def list_objections(
    application_id: uuid.UUID, principal: CurrentPrincipal, uow: Uow
) -> list[ObjectionRead]:
    return await workflow.list_objections(
        uow=uow, principal=principal, application_id=application_id
    )


@router.post(
    "/applications/{application_id}/objections/{objection_id}/resolution",
    response_model=ApplicationRead,
)
async def resolve_objection(
    application_id: uuid.UUID,
    objection_id: uuid.UUID,
    body: ObjectionResolve,
    principal: CurrentPrincipal,
    uow: Uow,
    request: Request,
) -> ApplicationRead:
    return await workflow.resolve_objection(
        uow=uow, ctx=_ctx(request), principal=principal, application_id=application_id,
        objection_id=objection_id, upheld=body.upheld, resolution=body.resolution,
    )


@router.post("/applications/{application_id}/approve", response_model=ApplicationRead)
async def approve(
    application_id: uuid.UUID,
    principal: CurrentPrincipal,
    uow: Uow,
    request: Request,
    body: ApproveCreate | None = None,
) -> ApplicationRead:
    """Civil affairs approves once the notice has ended with no open objection, granting
    the monthly amount (低保, 特困) the monthly run pays."""
    return await workflow.act(
        uow=uow, ctx=_ctx(request), principal=principal, application_id=application_id,
        action=Action.APPROVE, amount_fen=body.monthly_amount_fen if body else None,
    )


@router.post("/applications/{application_id}/withdraw", response_model=ApplicationRead)
async def withdraw(
    application_id: uuid.UUID, principal: CurrentPrincipal, uow: Uow, request: Request
) -> ApplicationRead:
    return await workflow.act(
        uow=uow, ctx=_ctx(request), principal=principal, application_id=application_id,
        action=Action.WITHDRAW,
    )


@router.get("/applications/{application_id}/decision", response_model=DecisionReasons)
async def decision_reasons(
    application_id: uuid.UUID, principal: CurrentPrincipal, uow: Uow, request: Request
) -> DecisionReasons:
    """The applicant reads the reasons (plaintext; the read is audited)."""
    return await privacy.decision_reasons(
        uow=uow, ctx=_ctx(request), principal=principal, application_id=application_id
    )


@router.post("/applications/{application_id}/pii-access", response_model=PiiAccessRead)
async def reveal_pii(
    application_id: uuid.UUID,
    body: PiiAccessCreate,
    principal: CurrentPrincipal,
    uow: Uow,
    request: Request,
) -> PiiAccessRead:
    """Plaintext of PII fields for a reviewer in scope, with a reason; every field audited."""
    return await privacy.reveal(
        uow=uow, ctx=_ctx(request), principal=principal, application_id=application_id,
        fields=list(body.fields), reason=body.reason,
    )


@router.get("/pii-access-log", response_model=PiiAuditPage)
async def pii_access_log(
    principal: CurrentPrincipal,
    uow: Uow,
    application_id: uuid.UUID | None = None,
    limit: Limit = 50,
    cursor: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> PiiAuditPage:
    return await privacy.audit_log(
        uow=uow, principal=principal, application_id=application_id, cursor=cursor,
        limit=limit,
    )


@router.get("/notices", response_model=NoticePage)
async def notices(
    region_code: RegionQuery,
    principal: CurrentPrincipal,
    uow: Uow,
    request: Request,
    limit: Limit = 50,
    cursor: str | None = None,
) -> NoticePage:
    """The running public notice (公示) of a region, for anyone signed in."""
    return await applications.public_notices(
        uow=uow, ctx=_ctx(request), region_code=region_code, cursor=cursor, limit=limit
    )


@router.post("/disbursements", status_code=201, response_model=DisbursementRead)
async def post_disbursement(
    body: DisbursementCreate,
    principal: CurrentPrincipal,
    uow: Uow,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> DisbursementRead:
    """Post one month's payment; a retry (with or without the same key) never pays twice."""
    status, answer = await ledger.post(
        uow=uow, ctx=_ctx(request), principal=principal, body=body,
        idempotency_key=idempotency_key,
    )
    response.status_code = status
    return answer


@router.post("/disbursements/monthly-runs", status_code=201, response_model=MonthlyRunRead)
async def monthly_run(
    body: MonthlyRunCreate,
    principal: CurrentPrincipal,
    uow: Uow,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> MonthlyRunRead:
    """Pay a month to every approved 低保/特困 recipient of a region; re-running the month
    pays nobody twice."""
    return await ledger.monthly_run(
        uow=uow, ctx=_ctx(request), principal=principal, body=body,
        idempotency_key=idempotency_key,
    )


@router.get("/disbursements/totals", response_model=TotalsRead)
async def disbursement_totals(
    region_code: RegionQuery,
    from_month: Annotated[str, Query(alias="from", pattern=r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$")],
    to_month: Annotated[str, Query(alias="to", pattern=r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$")],
    principal: CurrentPrincipal,
    uow: Uow,
    kind: Kind | None = None,
) -> TotalsRead:
    """Yuan paid and person-times in a region (and below) over a period of months."""
    return await ledger.totals(
        uow=uow, principal=principal, region_code=region_code, from_month=from_month,
        to_month=to_month, kind=kind,
    )
