"""Routing's decisions as they reach the case file: assignments move the state machine;
deadlines, reminders, supervision, extensions and co-handling are timeline steps and the
read model (assignee, deadlines, open sub-tasks) that the actions' scope checks use."""

from __future__ import annotations

import uuid
from typing import Any

from services.events import messages, store
from services.events.domain import REFUSALS, SYSTEM, Action, Actor, Command, decide
from services.events.store.attachment_rows import link_answer_attachments
from services.events.store.supervisions import note_supervision
from shared.contracts import feedback as fb
from shared.contracts import routing as r
from shared.contracts.events import ASSIGNMENT_ACTIONS
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.pii import mask_personal_numbers

from .actions import apply_rating
from .common import Step, facts, former_units, record_step

log = get_logger(__name__)


async def _case(uow: UnitOfWork, event_id: uuid.UUID) -> Any | None:
    row = await store.get_case(uow, event_id, lock=True)
    if row is None:
        log.warning("routing_event_for_unknown_case", event_id=str(event_id))
    return row


def _routing_actor(msg: r.EventAssigned) -> Actor:
    """Who assigned: a staff member (``actor_id``) acting for a unit or for none, or the
    platform ("system": rules and timers)."""
    return Actor(role=msg.actor_role or "system", subject=msg.actor_id,
                 unit_id=msg.actor_unit_id)


def _step_unit(msg: r.EventAssigned) -> str | None:
    """The unit a step names. A case moved away (escalated, transferred) names the unit that
    moved it, none when the platform, a dispatcher or a supervisor did; a dispatch names the
    unit it went to, as before."""
    if msg.reason in ("escalated", "transfer"):
        return msg.actor_unit_name if msg.actor_unit_id is not None else None
    return msg.unit.name


async def on_assigned(uow: UnitOfWork, msg: r.EventAssigned) -> None:
    row = await _case(uow, msg.event_id)
    if row is None:
        return
    if msg.seq <= row["assign_seq"]:
        # A stale assignment delivered after a newer one: the case has left its units since.
        formers = former_units(row, msg.previous_unit_id, msg.actor_unit_id, msg.unit.unit_id,
                               holder=row["assignee_unit_id"])
        if formers != list(row["former_unit_ids"]):
            await store.update_case(uow, msg.event_id, {"former_unit_ids": formers})
        return
    before = facts(row)
    # The unit it held before (also when routing queued it between: no unit a level up), the
    # one routing says it left and the one whose staff moved it.
    formers = former_units(row, row["assignee_unit_id"], msg.previous_unit_id,
                           msg.actor_unit_id, holder=msg.unit.unit_id)
    try:
        after = decide(before, Command(action=Action.ASSIGN, actor=SYSTEM, unit_id=msg.unit.unit_id,
                                       assign_reason=msg.reason))
    except REFUSALS as refusal:
        # The case moved on (closed, rejected) before routing's decision arrived.
        log.warning("assignment_not_applied", event_id=str(msg.event_id), code=refusal.code)
        await store.update_case(uow, msg.event_id, {"assign_seq": msg.seq})
        return
    changes: dict[str, Any] = {
        "former_unit_ids": formers,
        "status": after.status.value, "assignee_unit_id": msg.unit.unit_id,
        "assignee_unit_name": msg.unit.name, "assignee_unit_level": msg.unit.level,
        "assign_seq": msg.seq, "accept_by": msg.accept_by, "resolve_by": msg.resolve_by,
        "dispatch_trail": True, "updated_at": msg.assigned_at,
        "handling_unit_ids": list(dict.fromkeys([*row["handling_unit_ids"], msg.unit.unit_id])),
        "first_dispatched_at": row["first_dispatched_at"] or msg.assigned_at,
    }
    # The unit it leaves takes its co-handling along (routing lets the sub-tasks lapse), also
    # when it returned the case first and the dispatcher re-dispatches it.
    changes.update(open_subtasks=[], co_units=[])
    if msg.reason == "escalated":
        changes["escalation_count"] = row["escalation_count"] + 1
    action = ASSIGNMENT_ACTIONS[msg.reason]
    # A dispatcher's note may quote the report: masked here too (routing keeps the original).
    note = (mask_personal_numbers(msg.note) if msg.note
            else messages.note_assigned(msg.reason, msg.unit.name))
    if msg.automatic:
        note = messages.note_automatic(note)
    await record_step(
        uow, row,
        Step(at=msg.assigned_at, action=action, actor=_routing_actor(msg),
             from_status=before.status.value, to_status=after.status.value, note=note,
             unit_name=_step_unit(msg)),
        changes=changes,
    )


async def _note(
    uow: UnitOfWork, event_id: uuid.UUID, *, at: Any, action: str, note: str,
    unit_id: uuid.UUID | None = None, changes: dict[str, Any] | None = None,
    unit_name: str | None = None, actor: Actor | None = None,
) -> None:
    row = await _case(uow, event_id)
    if row is None:
        return
    actor = actor or Actor(role="system", unit_id=unit_id)
    await record_step(uow, row, Step(at=at, action=action, actor=actor, from_status=None,
                                     to_status=None, note=note, unit_name=unit_name),
                      emit=False, changes=changes)


async def on_queued(uow: UnitOfWork, msg: r.EventQueued) -> None:
    await _note(uow, msg.event_id, at=msg.queued_at, action="queue",
                note=messages.note_queued(msg.reason))


async def on_deadline_warning(uow: UnitOfWork, msg: r.DeadlineWarning) -> None:
    await _note(uow, msg.event_id, at=msg.at, action="remind", unit_id=msg.unit_id,
                note=messages.note_deadline_warning(msg.kind, msg.deadline, msg.fraction))


async def on_overdue(uow: UnitOfWork, msg: r.EventOverdue) -> None:
    await _note(uow, msg.event_id, at=msg.at, action="supervise", unit_id=msg.unit_id,
                note=messages.note_overdue(msg.kind))


async def _current_unit(uow: UnitOfWork, event_id: uuid.UUID, unit_id: uuid.UUID) -> bool:
    """Deadline news about a unit the case has since left is history, not the current clock."""
    row = await store.get_case(uow, event_id)
    return row is not None and row["assignee_unit_id"] == unit_id


async def on_deadline_changed(uow: UnitOfWork, msg: r.DeadlineChanged) -> None:
    if not await _current_unit(uow, msg.event_id, msg.unit_id):
        return
    await _note(uow, msg.event_id, at=msg.at, action="deadline", unit_id=msg.unit_id,
                note=messages.note_deadline_changed(msg.resolve_by, msg.reason),
                changes={"accept_by": msg.accept_by, "resolve_by": msg.resolve_by})


async def on_extension_requested(uow: UnitOfWork, msg: r.ExtensionRequested) -> None:
    await _note(uow, msg.event_id, at=msg.at, action="extension_request", unit_id=msg.unit_id,
                note=messages.note_extension_requested(msg.extra_working_hours))


async def on_extension_decided(uow: UnitOfWork, msg: r.ExtensionDecided) -> None:
    current = await _current_unit(uow, msg.event_id, msg.unit_id)
    changes = {"resolve_by": msg.resolve_by} if msg.approved and current else None
    await _note(uow, msg.event_id, at=msg.at, action="extend" if msg.approved else
                "extension_rejected", unit_id=msg.unit_id,
                note=messages.note_extension_decided(msg.approved, msg.resolve_by),
                changes=changes)


async def on_co_handling_started(uow: UnitOfWork, msg: r.CoHandlingStarted) -> None:
    row = await _case(uow, msg.event_id)
    if row is None:
        return
    if msg.lead_unit_id != row["assignee_unit_id"]:
        return  # co-handling of a unit the case has since left: its sub-tasks lapsed
    closed = set(row["closed_subtasks"])  # a close may be handled before its start
    subtasks = [s.subtask_id for s in msg.subtasks if s.subtask_id not in closed]
    units = [s.unit.unit_id for s in msg.subtasks]
    await _note(
        uow, msg.event_id, at=msg.at, action="co_handle", unit_id=msg.lead_unit_id,
        note=messages.note_co_handling(s.unit.name for s in msg.subtasks),
        changes={
            "open_subtasks": list(dict.fromkeys([*row["open_subtasks"], *subtasks])),
            "co_units": list(dict.fromkeys([*row["co_units"], *units])),
            "handling_unit_ids": list(dict.fromkeys([*row["handling_unit_ids"], *units])),
        },
    )


async def on_subtask_closed(uow: UnitOfWork, msg: r.SubtaskClosed) -> None:
    row = await _case(uow, msg.event_id)
    if row is None:
        return
    remaining = [s for s in row["open_subtasks"] if s != msg.subtask_id]
    # The answer's author acts for the assisting unit; a time-out (or an older producer) is
    # the platform's.
    actor = (Actor(role="dept_staff", subject=msg.answered_by, unit_id=msg.unit_id)
             if msg.answered_by is not None else None)
    await _note(uow, msg.event_id, at=msg.at, action=f"subtask_{msg.outcome}",
                unit_id=msg.unit_id, note=messages.note_subtask_closed(msg.outcome),
                unit_name=msg.unit_name, actor=actor,
                changes={"open_subtasks": remaining,
                         "closed_subtasks": [*row["closed_subtasks"], msg.subtask_id]})
    if msg.outcome == "answered":
        await _link_answer_attachments(uow, msg)


async def _link_answer_attachments(uow: UnitOfWork, msg: r.SubtaskClosed) -> None:
    """The answer's attachments become the case's, so whoever sees the case (the lead unit)
    opens them; only the answering user's or its unit's staff's uploads (ids only logged)."""
    wanted = list(dict.fromkeys(msg.attachment_ids))
    linked = await link_answer_attachments(uow, ids=wanted, event_id=msg.event_id,
                                           answered_by=msg.answered_by, unit_id=msg.unit_id)
    ignored = [str(a) for a in wanted if a not in set(linked)]
    if ignored:
        log.warning("answer_attachments_not_linked", event_id=str(msg.event_id),
                    subtask_id=str(msg.subtask_id), attachment_ids=ignored)


# -- manual supervision (督办) -------------------------------------------------------------------


async def _supervision_step(uow: UnitOfWork, *, supervision_id: uuid.UUID,
                            event_id: uuid.UUID, kind: str, open_: bool, step: Step) -> None:
    """Apply one of routing's messages about a supervision (kind: issued, replied, overdue,
    lapsed) and write its step once: a copy, or a message about a supervision that a later
    one already settled, adds no second step and never reopens it. Each step carries its own
    time, whatever order they arrive in."""
    row = await _case(uow, event_id)
    if row is None:
        return
    if await note_supervision(uow, supervision_id=supervision_id, event_id=event_id,
                              open_=open_, at=step.at, kind=kind):
        await record_step(uow, row, step, emit=False)


async def on_supervision_issued(uow: UnitOfWork, msg: r.SupervisionIssued) -> None:
    # The instruction comes masked from routing; masked here too, as every typed note is.
    note = messages.note_supervision_issued(msg.level, msg.unit_name or str(msg.unit_id),
                                            msg.reply_by, mask_personal_numbers(msg.instruction))
    await _supervision_step(
        uow, supervision_id=msg.supervision_id, event_id=msg.event_id, kind="issued",
        open_=True,
        step=Step(at=msg.at, action="supervision_issued", from_status=None, to_status=None,
                  actor=Actor(role="supervisor", subject=msg.issued_by), note=note,
                  unit_name=msg.issued_for))


async def on_supervision_overdue(uow: UnitOfWork, msg: r.SupervisionOverdue) -> None:
    """Unanswered past its reply-by: still awaiting the reply (and issued, if that message
    comes later), now raised to the supervisors a level up."""
    note = messages.note_supervision_overdue(msg.level, msg.reply_by,
                                             msg.supervisor_region_code)
    await _supervision_step(
        uow, supervision_id=msg.supervision_id, event_id=msg.event_id, kind="overdue",
        open_=True,
        step=Step(at=msg.at, action="supervision_overdue", from_status=None, to_status=None,
                  actor=Actor(role="system", unit_id=msg.unit_id), note=note))


async def on_supervision_replied(uow: UnitOfWork, msg: r.SupervisionReplied) -> None:
    reply = mask_personal_numbers(msg.reply) if msg.reply else None
    # The reply's author acts for the supervised unit; an older producer names no one.
    actor = Actor(role="dept_staff" if msg.replied_by else "system", subject=msg.replied_by,
                  unit_id=msg.unit_id)
    await _supervision_step(
        uow, supervision_id=msg.supervision_id, event_id=msg.event_id, kind="replied",
        open_=False,
        step=Step(at=msg.at, action="supervision_replied", from_status=None, to_status=None,
                  actor=actor,
                  note=messages.note_supervision_replied(msg.level, reply, late=msg.late),
                  unit_name=msg.unit_name))


async def on_supervision_lapsed(uow: UnitOfWork, msg: r.SupervisionLapsed) -> None:
    """The case ended before the unit replied: no longer awaited (the case is no longer
    supervised once none is open)."""
    await _supervision_step(
        uow, supervision_id=msg.supervision_id, event_id=msg.event_id, kind="lapsed",
        open_=False,
        step=Step(at=msg.at, action="supervision_lapsed", from_status=None, to_status=None,
                  actor=Actor(role="system", unit_id=msg.unit_id),
                  note=messages.note_supervision_lapsed(msg.level, msg.case_status,
                                                        was_overdue=msg.was_overdue)))


async def on_region_changed(uow: UnitOfWork, msg: r.RegionChanged) -> None:
    if msg.level in ("community", "grid"):
        await store.upsert_region(uow, code=msg.code, name=msg.name, active=msg.active)


async def on_feedback_rated(uow: UnitOfWork, msg: fb.EventRated) -> None:
    """The reporter's rating (or the default one) as recorded by feedback. A rating of an
    earlier closure — the case has been reopened or closed again since — changes nothing."""
    row = await _case(uow, msg.event_id)
    if row is None:
        return
    if row["status"] != "closed" or row["closed_at"] != msg.closure_closed_at:
        log.info("rating_for_another_closure", event_id=str(msg.event_id),
                 status=row["status"])
        return
    await apply_rating(uow, event_id=msg.event_id, rating=msg.rating,
                       default_applied=msg.default_applied, at=msg.rated_at)
