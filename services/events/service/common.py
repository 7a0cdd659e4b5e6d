"""What every use case of the events service shares: the clock, turning a stored case into the
state machine's facts, refusals into problem responses, timeline steps and status events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from services.events import store
from services.events.domain import Actor, Case, Command, Refusal, Status, decide
from shared.contracts.events import EventStatusChanged
from shared.db.uow import UnitOfWork
from shared.problems import BadRequest, Conflict, Forbidden, NotFound, RuleViolation

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def facts(row: Any) -> Case:
    return Case(
        status=Status(row["status"]),
        region_code=row["region_code"],
        reporter_id=row["reporter_id"],
        category_code=row["category_code"],
        assignee_unit_id=row["assignee_unit_id"],
        dispatch_trail=row["dispatch_trail"],
        result_recorded=row["result_recorded"],
        open_subtasks=frozenset(row["open_subtasks"] or ()),
        rating=row["rating"],
    )


def refusal_to_error(refusal: Refusal) -> Exception:
    if refusal.kind == "forbidden":
        return Forbidden(refusal.detail, code=refusal.code)
    if refusal.kind == "illegal":
        return Conflict(refusal.detail, code=refusal.code)
    return RuleViolation(refusal.detail, code=refusal.code)


def decide_or_raise(case: Case, cmd: Command) -> Case:
    try:
        return decide(case, cmd)
    except Refusal as refusal:
        raise refusal_to_error(refusal) from refusal


async def load_case(uow: UnitOfWork, event_id: uuid.UUID, *, lock: bool = False) -> Any:
    row = await store.get_case(uow, event_id, lock=lock)
    if row is None:
        raise NotFound("no such event", code="event_not_found")
    return row


def require_text(value: str | None, code: str, detail: str) -> str:
    if value is None or not value.strip():
        raise BadRequest(detail, code=code)
    return value.strip()


def step_values(
    row: Any,
    *,
    at: datetime,
    action: str,
    actor: Actor,
    from_status: str | None,
    to_status: str | None,
    note: str | None = None,
    unit_name: str | None = None,
    note_original: str | None = None,
) -> dict[str, Any]:
    """The timeline row of a step of the case ``row``. ``note`` is stored as given (callers
    mask typed text: service/originals.py), ``note_original`` its encrypted original."""
    return {
        "event_id": row["id"], "at": at, "action": action, "actor_role": actor.role,
        "actor_id": actor.subject, "actor_unit_id": actor.unit_id, "actor_unit": unit_name,
        "from_status": from_status, "to_status": to_status, "note": note,
        "note_original": note_original,
    }


async def record_step(
    uow: UnitOfWork,
    row: Any,
    *,
    at: datetime,
    action: str,
    actor: Actor,
    from_status: str | None,
    to_status: str | None,
    note: str | None = None,
    note_original: str | None = None,
    unit_name: str | None = None,
    emit: bool = True,
    reason: str | None = None,
    passed: bool | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    """One timeline step, and — when the status moved — the status-changed event.
    ``changes``: set on the case in the same round trip as the step."""
    step = await store.add_step(
        uow,
        case_changes=changes,
        **step_values(row, at=at, action=action, actor=actor, from_status=from_status,
                      to_status=to_status, note=note, unit_name=unit_name,
                      note_original=note_original),
    )
    if emit and to_status is not None:
        await uow.emit(
            "events.event_status_changed",
            EventStatusChanged(
                event_id=row["id"],
                case_no=row["case_no"],
                category_code=row["category_code"],
                region_code=row["region_code"],
                from_status=from_status or to_status,
                to_status=to_status,
                action=action,
                actor_role=actor.role,
                actor_unit_id=actor.unit_id,
                at=at,
                reason=reason,
                passed=passed,
                reporter_id=None if row["sensitive"] else row["reporter_id"],
                reporter_sealed=row["reporter_sealed"] if row["sensitive"] else None,
                step=step,
            ),
        )
