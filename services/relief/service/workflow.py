"""The review workflow: the town's acceptance, the three agencies' opinions, objections
during the public notice, approval, withdrawal. Each use case locks the application row
(``SELECT ... FOR UPDATE``) before asking the machine, so simultaneous reviewers are applied
one after the other and the last approval starts the notice exactly once."""

from __future__ import annotations

import uuid

from services.relief import messages
from services.relief.context import ReliefContext
from services.relief.domain import Action, Command, Outcome, decide
from services.relief.schemas import ApplicationRead, ObjectionRead
from services.relief.service.common import (
    DECISION_REASON,
    OBJECTION,
    OPINION,
    RESOLUTION,
    actor_of,
    load,
    read_model,
    record_outcome,
    require_view,
    to_domain,
)
from services.relief.store import applications as store
from shared.auth.principal import Principal
from shared.db.uow import UnitOfWork
from shared.problems import Conflict, NotFound


async def _transition(
    *,
    uow: UnitOfWork,
    ctx: ReliefContext,
    principal: Principal,
    application_id: uuid.UUID,
    command: Command,
) -> tuple[Outcome, ApplicationRead]:
    now = ctx.now()
    async with uow:
        row, opinions = await load(uow, application_id, lock=True)
        outcome = decide(to_domain(row, opinions), command, now=now, calendar=ctx.calendar)
        if command.action == Action.REVIEW:
            assert command.actor.agency is not None
            assert command.text is not None
            await store.insert_opinion(
                uow, application_id=application_id, agency=command.actor.agency.value,
                approve=bool(command.approve), reviewer_id=principal.subject, reviewed_at=now,
                opinion_cipher=ctx.pii.encrypt(command.text, context=OPINION),
            )
        if command.action == Action.APPROVE and command.amount_fen is not None:
            await store.save(uow, application_id, monthly_amount_fen=command.amount_fen)
        if command.action == Action.REJECT:
            assert command.text is not None
            await store.save(
                uow, application_id,
                decision_reason_cipher=ctx.pii.encrypt(command.text, context=DECISION_REASON),
            )
        await record_outcome(uow, row=row, outcome=outcome, principal=principal, now=now)
        fresh, opinions = await load(uow, application_id)
        return outcome, read_model(ctx, fresh, opinions, now)


async def act(
    *,
    uow: UnitOfWork,
    ctx: ReliefContext,
    principal: Principal,
    application_id: uuid.UUID,
    action: Action,
    approve: bool | None = None,
    text: str | None = None,
    amount_fen: int | None = None,
) -> ApplicationRead:
    command = Command(
        action, actor_of(principal), approve=approve, text=text, amount_fen=amount_fen
    )
    _, read = await _transition(
        uow=uow, ctx=ctx, principal=principal, application_id=application_id, command=command
    )
    return read


async def file_objection(
    *,
    uow: UnitOfWork,
    ctx: ReliefContext,
    principal: Principal,
    application_id: uuid.UUID,
    text: str,
) -> ObjectionRead:
    """Anyone signed in may object while the notice runs (that is what a notice is for)."""
    now = ctx.now()
    objection_id = uuid.uuid4()
    command = Command(Action.OBJECT, actor_of(principal), text=text)
    async with uow:
        row, opinions = await load(uow, application_id, lock=True)
        if row["applicant_is_minor"]:
            # Never publicised, so nobody outside the case can know it exists.
            require_view(principal, row)
        outcome = decide(to_domain(row, opinions), command, now=now, calendar=ctx.calendar)
        await store.insert_objection(
            uow, id=objection_id, application_id=application_id,
            objector_id=principal.subject, filed_at=now,
            text_cipher=ctx.pii.encrypt(text, context=OBJECTION),
        )
        await record_outcome(uow, row=row, outcome=outcome, principal=principal, now=now)
    return ObjectionRead(
        id=objection_id, application_id=application_id, filed_at=now, resolved_at=None,
        upheld=None, status_label=messages.objection_label(None),
    )


async def resolve_objection(
    *,
    uow: UnitOfWork,
    ctx: ReliefContext,
    principal: Principal,
    application_id: uuid.UUID,
    objection_id: uuid.UUID,
    upheld: bool,
    resolution: str,
) -> ApplicationRead:
    now = ctx.now()
    command = Command(
        Action.RESOLVE_OBJECTION, actor_of(principal), upheld=upheld, text=resolution
    )
    async with uow:
        row, opinions = await load(uow, application_id, lock=True)
        objection = await store.get_objection(uow, objection_id)
        if objection is None or objection["application_id"] != application_id:
            raise NotFound("no such objection", code="objection_not_found")
        if objection["resolved_at"] is not None:
            raise Conflict("already resolved", code="objection_already_resolved")
        outcome = decide(to_domain(row, opinions), command, now=now, calendar=ctx.calendar)
        await store.resolve_objection(
            uow, objection_id, resolved_at=now, resolved_by=principal.subject,
            upheld=upheld, resolution_cipher=ctx.pii.encrypt(resolution, context=RESOLUTION),
        )
        await record_outcome(uow, row=row, outcome=outcome, principal=principal, now=now)
        fresh, opinions = await load(uow, application_id)
        return read_model(ctx, fresh, opinions, now)


async def list_objections(
    *, uow: UnitOfWork, principal: Principal, application_id: uuid.UUID
) -> list[ObjectionRead]:
    async with uow:
        row, _ = await load(uow, application_id)
        require_view(principal, row)
        rows = await store.objections_of(uow, application_id)
    return [
        ObjectionRead(
            id=r["id"], application_id=application_id, filed_at=r["filed_at"],
            resolved_at=r["resolved_at"], upheld=r["upheld"],
            status_label=messages.objection_label(r["upheld"]),
        )
        for r in rows
    ]
