"""Lifecycle actions taken on the case itself (accept, return, start, result, verify, reject,
close, rating): each is decided by the state machine, written with its timeline step and
announced as ``events.event_status_changed`` in one transaction. Who handles a case and by when
is routing's business; it learns of these steps from the bus."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.events import messages, store
from services.events.domain import SYSTEM, Action, Actor, Case, Command, Status, decide
from services.events.schemas import BaseSchema, StatusRead
from shared.auth import Principal
from shared.contracts.events import EventClosed, EventRated, Rating
from shared.db import idempotency
from shared.db.uow import UnitOfWork
from shared.pii import PiiCipher, mask_optional_text
from shared.problems import BadRequest

from .common import Clock, Step, facts, former_units, load_case, record_step
from .originals import NOTE, protect, with_original

ROLE_PREFERENCE: dict[Action, tuple[str, ...]] = {
    Action.ACCEPT: ("dept_staff", "dept_admin", "grid_worker"),
    Action.RETURN: ("dept_staff", "dept_admin", "grid_worker"),
    Action.START: ("dept_staff", "dept_admin", "grid_worker"),
    Action.SUBMIT_RESULT: ("dept_staff", "dept_admin", "grid_worker"),
    Action.VERIFY: ("grid_worker", "dispatcher", "supervisor"),
    Action.REJECT: ("dispatcher", "supervisor"),
    Action.CLOSE: ("dispatcher", "supervisor"),
}


def actor_for(principal: Principal, action: Action, row: Any) -> Actor:
    """The role the caller acts in for this action and the unit it acts for."""
    preferred = ROLE_PREFERENCE.get(action, ())
    role = next((r for r in preferred if r in principal.roles), None)
    role = role or next(iter(sorted(principal.roles)), "unknown")
    unit_id = None
    if row["assignee_unit_id"] in principal.departments:
        unit_id = row["assignee_unit_id"]
    elif principal.departments:
        unit_id = principal.departments[0]
    return Actor(
        role=role,
        subject=principal.subject,
        roles=frozenset(principal.roles),
        regions=principal.regions,
        departments=principal.departments,
        unit_id=unit_id,
    )


def _unit_name(row: Any, actor: Actor) -> str | None:
    return row["assignee_unit_name"] if actor.unit_id == row["assignee_unit_id"] else None


class ActionRequest(BaseSchema):
    """What a retried action must repeat, word for word, to be answered as its first
    attempt was (its fingerprint under the Idempotency-Key; the texts as typed)."""

    reason: str | None = None
    note: str | None = None
    result: str | None = None
    passed: bool | None = None
    attachments: list[uuid.UUID] | None = None


async def take_action(
    uow: UnitOfWork,
    *,
    principal: Principal,
    event_id: uuid.UUID,
    action: Action,
    clock: Clock,
    reason: str | None = None,
    note: str | None = None,
    result: str | None = None,
    passed: bool | None = None,
    attachments: list[uuid.UUID] | None = None,
    pii: PiiCipher,
    idempotency_key: str | None = None,
) -> StatusRead:
    """Take ``action`` on the case. With an Idempotency-Key (the grid app's offline queue
    retries with a fixed one), a retry after a lost answer gets the first answer instead of
    a 409 from the state machine: the key is reserved in the action's own transaction, so it
    and the state change commit together or not at all."""
    request = ActionRequest(reason=reason, note=note, result=result, passed=passed,
                            attachments=attachments)

    async def work() -> tuple[int, StatusRead]:
        return 200, await _apply(uow, principal=principal, event_id=event_id, action=action,
                                 request=request, clock=clock, pii=pii)

    async with uow:
        _, answer = await idempotency.once(
            uow, scope=f"events.action:{principal.subject}:{event_id}:{action.value}",
            key=idempotency_key, request=request, answer=StatusRead, work=work)
    return answer


async def _apply(
    uow: UnitOfWork,
    *,
    principal: Principal,
    event_id: uuid.UUID,
    action: Action,
    request: ActionRequest,
    clock: Clock,
    pii: PiiCipher,
) -> StatusRead:
    """The action decided by the state machine, written with its timeline step, in the
    caller's transaction."""
    # What the handler typed is stored, shown and published with phone and ID numbers masked.
    typed = request.result if action == Action.SUBMIT_RESULT else (
        request.reason or request.note)
    reason, note, result = (mask_optional_text(text)
                            for text in (request.reason, request.note, request.result))
    passed, attachments = request.passed, request.attachments
    row = await load_case(uow, event_id, lock=True)
    actor = actor_for(principal, action, row)
    before = facts(row)
    after = decide(
        before,
        Command(action=action, actor=actor, reason=reason or note, result=result,
                passed=passed),
    )
    text, note_original = protect(pii, event_id, NOTE, typed) if typed else (None, None)
    now = clock()  # read once the case's lock is held, as the steps before it were
    changes = _status_changes(action, row, after, now)
    if action == Action.SUBMIT_RESULT:
        changes.update(await _result_changes(
            uow, row, event_id, principal=principal, result=result, typed=typed,
            attachments=attachments, pii=pii, now=now))
    elif action == Action.VERIFY and attachments:
        changes["attachment_ids"] = await _claimed(uow, row, event_id, principal, attachments)
    await store.update_case(uow, event_id, changes)
    await record_step(
        uow, row,
        Step(at=now, action=action.value, actor=actor, from_status=before.status.value,
             to_status=after.status.value, note=text, note_original=note_original,
             unit_name=_unit_name(row, actor)),
        reason=reason or note, passed=passed,
    )
    await _close_when_done(uow, event_id, action, after, passed, now)
    final = await load_case(uow, event_id)
    return StatusRead(id=final["id"], case_no=final["case_no"], status=final["status"])


def _status_changes(action: Action, row: Any, after: Case, now: datetime) -> dict[str, Any]:
    """The case's columns the action changes, results aside."""
    changes: dict[str, Any] = {"status": after.status.value, "updated_at": now,
                               "assignee_unit_id": after.assignee_unit_id,
                               "result_recorded": after.result_recorded}
    if action == Action.ACCEPT:
        changes["accepted_at"] = now
    elif action == Action.RETURN:
        changes.update(return_count=row["return_count"] + 1, assignee_unit_name=None,
                       assignee_unit_level=None, accept_by=None, resolve_by=None)
        # The unit that returned it keeps following it (read only).
        changes["former_unit_ids"] = former_units(row, row["assignee_unit_id"],
                                                  holder=after.assignee_unit_id)
    return changes


async def _result_changes(
    uow: UnitOfWork,
    row: Any,
    event_id: uuid.UUID,
    *,
    principal: Principal,
    result: str | None,
    typed: str | None,
    attachments: list[uuid.UUID] | None,
    pii: PiiCipher,
    now: datetime,
) -> dict[str, Any]:
    """A submitted result: its masked text, its sealed original, and the caller's
    attachments claimed for the case (all of them, or a 400 and nothing written)."""
    sealed = protect(pii, event_id, "result", typed)[1] if typed else None
    changes: dict[str, Any] = {
        "result_text": result, "result_submitted_at": now,
        "text_originals": with_original(row["text_originals"], "result", sealed),
    }
    if attachments:
        changes["attachment_ids"] = await _claimed(uow, row, event_id, principal, attachments)
    return changes


async def _claimed(uow: UnitOfWork, row: Any, event_id: uuid.UUID, principal: Principal,
                   attachments: list[uuid.UUID]) -> list[uuid.UUID]:
    """The case's attachments with the caller's new ones claimed for it (all of them, or a
    400 and nothing written)."""
    linked = await store.claim_attachments(
        uow, ids=attachments, owner_id=principal.subject, event_id=event_id
    )
    if linked != len(set(attachments)):
        raise BadRequest("an attachment is unknown, not yours or already used",
                         code="attachment_invalid")
    return list(row["attachment_ids"]) + list(attachments)


async def _close_when_done(
    uow: UnitOfWork, event_id: uuid.UUID, action: Action, after: Case, passed: bool | None,
    now: datetime,
) -> None:
    """A passed check closes the case (结案), if the four musts hold; a close closes it."""
    if action == Action.VERIFY and passed:
        closed = decide(after, Command(action=Action.CLOSE, actor=SYSTEM))
        await _close(uow, event_id, closed.status, now)
    elif action == Action.CLOSE:
        await _close(uow, event_id, after.status, now, step=False)


async def _close(
    uow: UnitOfWork, event_id: uuid.UUID, status: Status, now: datetime, *, step: bool = True
) -> None:
    row = await load_case(uow, event_id)
    await store.update_case(uow, event_id, {"status": status.value, "closed_at": now,
                                            "updated_at": now})
    if step:
        await record_step(uow, row, Step(at=now, action="close", actor=SYSTEM,
                                         from_status=row["status"], to_status=status.value,
                                         note=messages.NOTE_CLOSED_AFTER_CHECK))

    def on_time(done: datetime | None, due: datetime | None) -> bool | None:
        return None if done is None or due is None else done <= due

    await uow.emit(
        "events.event_closed",
        EventClosed(
            event_id=event_id, case_no=row["case_no"], category_code=row["category_code"],
            major_risk=row["major_risk"], urgency=row["urgency"], region_code=row["region_code"],
            lead_unit_id=row["assignee_unit_id"],
            handling_unit_ids=list(dict.fromkeys([*row["handling_unit_ids"], *row["co_units"]])),
            reported_at=row["reported_at"], first_dispatched_at=row["first_dispatched_at"],
            accepted_at=row["accepted_at"], result_submitted_at=row["result_submitted_at"],
            closed_at=now, accept_by=row["accept_by"], resolve_by=row["resolve_by"],
            accepted_on_time=on_time(row["accepted_at"], row["accept_by"]),
            resolved_on_time=on_time(row["result_submitted_at"], row["resolve_by"]),
            escalation_count=row["escalation_count"], return_count=row["return_count"],
            rework_count=row["rework_count"], classified=bool(row["category_code"]),
            dispatch_trail_recorded=row["dispatch_trail"],
            result_recorded=row["result_recorded"],
            reporter_id=None if row["sensitive"] else row["reporter_id"],
            reporter_sealed=row["reporter_sealed"] if row["sensitive"] else None,
        ),
    )


async def apply_rating(
    uow: UnitOfWork,
    *,
    event_id: uuid.UUID,
    rating: Rating,
    default_applied: bool,
    at: datetime,
    rater: Actor = SYSTEM,
) -> StatusRead:
    """The reporter's rating (relayed by feedback) or the default one. Satisfied ratings make
    the case closed-loop complete; a dissatisfied one sends it back to work (重办)."""
    async with uow:
        row = await load_case(uow, event_id, lock=True)
        before = facts(row)
        rated = decide(before, Command(action=Action.RATE, actor=rater, rating=rating))
        changes: dict[str, Any] = {"status": rated.status.value, "rating": rating,
                                   "updated_at": at}
        rework = rating == "dissatisfied"
        if not rework:
            changes["closed_loop_at"] = at
        await store.update_case(uow, event_id, changes)
        note = messages.note_rating(rating, default_applied=default_applied)
        await record_step(uow, row, Step(at=at, action="rate", actor=rater,
                                         from_status=before.status.value,
                                         to_status=rated.status.value, note=note))
        await uow.emit(
            "events.event_rated",
            EventRated(
                event_id=event_id, case_no=row["case_no"], region_code=row["region_code"],
                lead_unit_id=row["assignee_unit_id"], rating=rating,
                default_applied=default_applied, rated_at=at,
                closed_loop_complete=not rework, rework=rework,
            ),
        )
        if rework:
            again = decide(rated, Command(action=Action.REWORK, actor=SYSTEM))
            row = await load_case(uow, event_id)
            await store.update_case(uow, event_id, {
                "status": again.status.value, "result_recorded": False, "rating": None,
                "rework_count": row["rework_count"] + 1, "closed_at": None, "updated_at": at,
            })
            await record_step(uow, row, Step(
                at=at, action="rework", actor=SYSTEM, from_status=rated.status.value,
                to_status=again.status.value,
                note=messages.NOTE_REWORK))
        final = await load_case(uow, event_id)
    return StatusRead(id=final["id"], case_no=final["case_no"], status=final["status"])
