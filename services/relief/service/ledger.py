"""The disbursement ledger: monthly payments posted exactly once per recipient, kind and
month — a retried posting (same Idempotency-Key or not) never pays twice — and totals per
region and period in yuan and person-times."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import partial

from sqlalchemy.engine import RowMapping

from services.relief import messages
from services.relief.context import ReliefContext
from services.relief.domain import (
    MONTHLY_KINDS,
    PAYABLE_STATUSES,
    Action,
    Actor,
    Agency,
    Command,
    Kind,
    Status,
    decide,
    month_start,
    yuan,
)
from services.relief.schemas import (
    DisbursementCreate,
    DisbursementRead,
    MonthlyRunCreate,
    MonthlyRunRead,
    TotalsRead,
)
from services.relief.service.common import (
    actor_of,
    agency_of,
    load,
    record_outcome,
    to_domain,
)
from services.relief.store import applications as applications_store
from services.relief.store import ledger
from shared.auth.principal import Principal, Role
from shared.contracts.relief import Disbursed
from shared.db.idempotency import once
from shared.db.uow import UnitOfWork
from shared.problems import BadRequest, Conflict, Forbidden


def _read(row: RowMapping, *, already_posted: bool = False) -> DisbursementRead:
    return DisbursementRead(
        id=row["id"], application_id=row["application_id"],
        recipient_user_id=row["recipient_user_id"], kind=row["kind"],
        kind_label=messages.kind_label(row["kind"]),
        region_code=row["region_code"], month=row["month"].strftime("%Y-%m"),
        amount_fen=row["amount_fen"], amount_yuan=yuan(row["amount_fen"]),
        posted_at=row["posted_at"], already_posted=already_posted,
    )


async def post(
    *,
    uow: UnitOfWork,
    ctx: ReliefContext,
    principal: Principal,
    body: DisbursementCreate,
    idempotency_key: str | None,
) -> tuple[int, DisbursementRead]:
    """201 with the new payment; 200 with the existing one when that month is already paid
    with the same amount; 409 ``already_disbursed`` when it was paid with another amount."""
    async with uow:
        return await once(
            uow, scope=f"disburse:{principal.subject}", key=idempotency_key, request=body,
            answer=DisbursementRead, work=partial(_post_once, uow, ctx, principal, body),
        )


async def _post_once(
    uow: UnitOfWork, ctx: ReliefContext, principal: Principal, body: DisbursementCreate
) -> tuple[int, DisbursementRead]:
    """The payment, or the one already posted for that recipient's month."""
    month, now = month_start(body.month), ctx.now()
    row, opinions = await load(uow, body.application_id, lock=True)
    command = Command(
        Action.DISBURSE, actor_of(principal), month=month, amount_fen=body.amount_fen
    )
    # Checked before the ledger is read: an already-paid month is answered with the
    # payment (or its id), and the machine below is not asked on that path.
    _require_payer(command.actor, row["region_code"])
    paid = {"recipient_user_id": row["applicant_user_id"], "kind": row["kind"], "month": month}
    existing = await ledger.find(uow, **paid)
    if existing is not None:
        return _existing(existing, body)
    outcome = decide(to_domain(row, opinions), command, now=now, calendar=ctx.calendar)
    posted = await ledger.post_once(
        uow,
        {
            "id": uuid.uuid4(), "application_id": row["id"], **paid,
            "region_code": row["region_code"], "amount_fen": body.amount_fen,
            "posted_by": principal.subject, "posted_at": now,
        },
    )
    if posted is None:  # a concurrent posting of the same month won the race
        raced = await ledger.find(uow, **paid)
        assert raced is not None
        return _existing(raced, body)
    await record_outcome(
        uow, row=row, outcome=outcome, principal=principal, now=now,
        note=messages.note_paid(body.month),
    )
    await uow.emit("relief.disbursed", _disbursed(posted, now))
    return 201, _read(posted)


def _disbursed(posted: RowMapping, now: datetime) -> Disbursed:
    return Disbursed(
        disbursement_id=posted["id"], application_id=posted["application_id"],
        recipient_user_id=posted["recipient_user_id"], kind=posted["kind"],
        region_code=posted["region_code"], month=posted["month"],
        amount_fen=posted["amount_fen"], posted_at=now,
    )


def _require_payer(actor: Actor, region_code: str) -> None:
    if not (actor.is_admin or actor.is_reviewer_of(Agency.CIVIL_AFFAIRS)):
        raise Forbidden("payments are posted by civil affairs", code="agency_required")
    if not actor.covers(region_code):
        raise Forbidden("this application is outside your region", code="out_of_scope")


def _existing(row: RowMapping, body: DisbursementCreate) -> tuple[int, DisbursementRead]:
    if row["amount_fen"] != body.amount_fen or row["application_id"] != body.application_id:
        raise Conflict(
            "this recipient's month is already paid with another amount",
            code="already_disbursed",
            extra={"disbursement_id": str(row["id"])},
        )
    return 200, _read(row, already_posted=True)


async def totals(
    *,
    uow: UnitOfWork,
    principal: Principal,
    region_code: str,
    from_month: str,
    to_month: str,
    kind: Kind | None,
) -> TotalsRead:
    principal.require_role(Role.REVIEWER, Role.SUPERVISOR, Role.ADMIN)
    principal.require_region(region_code)
    first, last = month_start(from_month), month_start(to_month)
    if last < first:
        raise BadRequest("the period ends before it starts", code="period_invalid")
    async with uow:
        found = await ledger.totals(
            uow, region_code=region_code, first=first, last=last,
            kind=kind.value if kind else None,
        )
    return TotalsRead(
        region_code=region_code, from_month=from_month, to_month=to_month, kind=kind,
        kind_label=messages.kind_label(kind.value) if kind else None,
        amount_fen=found.amount_fen, amount_yuan=yuan(found.amount_fen),
        person_times=found.person_times, recipients=found.recipients,
    )


async def monthly_run(
    *,
    uow: UnitOfWork,
    ctx: ReliefContext,
    principal: Principal,
    body: MonthlyRunCreate,
    idempotency_key: str | None,
) -> MonthlyRunRead:
    if not (
        Role.ADMIN in principal.roles
        or (Role.REVIEWER in principal.roles and agency_of(principal) == Agency.CIVIL_AFFAIRS)
    ):
        raise Forbidden("the monthly run is civil affairs' to start", code="agency_required")
    principal.require_region(body.region_code)
    month, now = month_start(body.month), ctx.now()

    async def run() -> tuple[int, MonthlyRunRead]:
        posted = await ledger.post_month(
            uow, region_code=body.region_code, month=month,
            kinds=[k.value for k in MONTHLY_KINDS], statuses=[s.value for s in PAYABLE_STATUSES],
            posted_by=principal.subject, now=now,
        )
        await applications_store.record_payments(
            uow, [row["application_id"] for row in posted],
            status=Status.DISBURSING.value, at=now, actor_id=principal.subject,
            note=messages.note_paid(body.month, monthly_run=True),
        )
        for row in posted:
            await uow.emit("relief.disbursed", _disbursed(row, now))
        total = sum(int(row["amount_fen"]) for row in posted)
        return 201, MonthlyRunRead(
            region_code=body.region_code, month=body.month, posted=len(posted),
            amount_fen=total, amount_yuan=yuan(total),
        )

    async with uow:
        _, answer = await once(
            uow, scope=f"monthly-run:{principal.subject}", key=idempotency_key, request=body,
            answer=MonthlyRunRead, work=run,
        )
    return answer
