"""HTTP routes of the relief service, under /api/v1/relief. Routes only: parse, authorise,
call the use case, return its schema. Role and scope checks are the use cases' first lines
(and the state machine's, for workflow steps)."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel

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
from shared.web.deps import IdempotencyKey, Uow, context_dependency

router = APIRouter(prefix="/api/v1/relief", tags=["relief"])

Context = Annotated[ReliefContext, Depends(context_dependency(ReliefContext))]
Limit = Annotated[int, Query(ge=1, le=200)]
RegionQuery = Annotated[str, Query(pattern=REGION_CODE_PATTERN)]


def _no_fields(body: Any) -> dict[str, Any]:
    return {}


def _with_body(
    route: Callable[..., Awaitable[Any]], model: type[BaseModel] | None, *, optional: bool
) -> None:
    """Give ``route`` a request body of ``model`` (or none): FastAPI reads the body from the
    route's signature, as it would from a decorated function declaring ``body: model``."""
    signature = inspect.signature(route, eval_str=True)
    params = [p for p in signature.parameters.values() if p.name != "body"]
    if model is not None:
        params.append(inspect.Parameter(
            "body", inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=(model | None) if optional else model,
            default=None if optional else inspect.Parameter.empty,
        ))
    route.__dict__["__signature__"] = signature.replace(parameters=params)


def _on_application(
    method: str,
    path: str,
    call: Callable[..., Awaitable[Any]],
    *,
    name: str,
    response_model: Any = ApplicationRead,
    status_code: int | None = None,
    body: type[BaseModel] | None = None,
    optional: bool = False,
    fields: Callable[[Any], dict[str, Any]] = _no_fields,
    doc: str | None = None,
) -> None:
    """Declare ``method /applications/{application_id}<path>``: ``call`` gets the unit of
    work, the context, the principal and the application's id as keywords, plus what
    ``fields`` takes from the request ``body`` (a model; ``optional``: it may be left out).
    ``name`` and ``doc`` are the OpenAPI operation's, as a decorated function's would be."""

    async def route(
        application_id: uuid.UUID, principal: CurrentPrincipal, uow: Uow, ctx: Context,
        body: Any = None,
    ) -> Any:
        extra = fields(body) if body is not None else {}
        return await call(
            uow=uow, ctx=ctx, principal=principal, application_id=application_id, **extra
        )

    _with_body(route, body, optional=optional)
    route.__doc__ = doc
    router.add_api_route(
        f"/applications/{{application_id}}{path}", route, methods=[method], name=name,
        response_model=response_model, status_code=status_code,
    )


def _act(action: Action) -> Callable[..., Awaitable[ApplicationRead]]:
    """A workflow step: ``action`` on the application, answered with the application."""
    return partial(workflow.act, action=action)


@router.post("/applications", status_code=201, response_model=ApplicationCreated)
async def apply(
    body: ApplicationCreate,
    principal: CurrentPrincipal,
    uow: Uow,
    ctx: Context,
    idempotency_key: IdempotencyKey = None,
) -> ApplicationCreated:
    """One-click hardship report: identity, household and address come from the registry."""
    return await applications.apply(
        uow=uow, ctx=ctx, principal=principal, body=body, idempotency_key=idempotency_key
    )


@router.get("/applications", response_model=ApplicationPage)
async def list_applications(
    principal: CurrentPrincipal,
    uow: Uow,
    ctx: Context,
    status: Status | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> ApplicationPage:
    """The caller's applications (resident) or their agency's queue in their regions."""
    return await applications.list_applications(
        uow=uow, ctx=ctx, principal=principal, status=status, cursor=cursor, limit=limit
    )


_on_application("GET", "", applications.get_application, name="get_application")


@router.get("/applications/{application_id}/timeline", response_model=Timeline)
async def get_timeline(
    application_id: uuid.UUID, principal: CurrentPrincipal, uow: Uow
) -> Timeline:
    return await applications.timeline(
        uow=uow, principal=principal, application_id=application_id
    )


_on_application(
    "POST", "/accept", _act(Action.ACCEPT), name="accept",
    doc="The town accepts (受理): the joint review opens.",
)
_on_application(
    "POST", "/reject", _act(Action.REJECT), name="reject",
    body=RejectCreate, fields=lambda body: {"text": body.reason},
    doc="The town at intake, or civil affairs at approval, rejects with a reason.",
)
_on_application(
    "POST", "/reviews", _act(Action.REVIEW), name="review",
    body=ReviewCreate, fields=lambda body: {"approve": body.approve, "text": body.opinion},
    doc="One agency's opinion in the joint review (the agency comes from the token).",
)
_on_application(
    "POST", "/objections", workflow.file_objection, name="file_objection",
    status_code=201, response_model=ObjectionRead,
    body=ObjectionCreate, fields=lambda body: {"text": body.text},
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
    ctx: Context,
) -> ApplicationRead:
    return await workflow.resolve_objection(
        uow=uow, ctx=ctx, principal=principal, application_id=application_id,
        objection_id=objection_id, upheld=body.upheld, resolution=body.resolution,
    )


_on_application(
    "POST", "/approve", _act(Action.APPROVE), name="approve",
    body=ApproveCreate, optional=True,
    fields=lambda body: {"amount_fen": body.monthly_amount_fen},
    doc="Civil affairs approves once the notice has ended with no open objection, granting\n"
        "the monthly amount (低保, 特困) the monthly run pays.",
)
_on_application("POST", "/withdraw", _act(Action.WITHDRAW), name="withdraw")
_on_application(
    "GET", "/decision", privacy.decision_reasons, name="decision_reasons",
    response_model=DecisionReasons,
    doc="The applicant reads the reasons (plaintext; the read is audited).",
)
_on_application(
    "POST", "/pii-access", privacy.reveal, name="reveal_pii", response_model=PiiAccessRead,
    body=PiiAccessCreate, fields=lambda body: {"fields": list(body.fields), "reason": body.reason},
    doc="Plaintext of PII fields for a reviewer in scope, with a reason; every field audited.",
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
    uow: Uow,
    ctx: Context,
    limit: Limit = 50,
    cursor: str | None = None,
) -> NoticePage:
    """The running public notice (公示) of a region, for anyone: no token needed (a notice is
    public by law); names masked, minors never listed."""
    return await applications.public_notices(
        uow=uow, ctx=ctx, region_code=region_code, cursor=cursor, limit=limit
    )


@router.post("/disbursements", status_code=201, response_model=DisbursementRead)
async def post_disbursement(
    body: DisbursementCreate,
    principal: CurrentPrincipal,
    uow: Uow,
    ctx: Context,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> DisbursementRead:
    """Post one month's payment; a retry (with or without the same key) never pays twice."""
    status, answer = await ledger.post(
        uow=uow, ctx=ctx, principal=principal, body=body, idempotency_key=idempotency_key
    )
    response.status_code = status
    return answer


@router.post("/disbursements/monthly-runs", status_code=201, response_model=MonthlyRunRead)
async def monthly_run(
    body: MonthlyRunCreate,
    principal: CurrentPrincipal,
    uow: Uow,
    ctx: Context,
    idempotency_key: IdempotencyKey = None,
) -> MonthlyRunRead:
    """Pay a month to every approved 低保/特困 recipient of a region; re-running the month
    pays nobody twice."""
    return await ledger.monthly_run(
        uow=uow, ctx=ctx, principal=principal, body=body, idempotency_key=idempotency_key
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
