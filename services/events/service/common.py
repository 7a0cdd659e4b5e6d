"""What every use case of the events service shares: the clock, turning a stored case into the
state machine's facts, timeline steps and status events."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.events import store
from services.events.domain import Actor, Case, Status
from shared.contracts.events import EventStatusChanged
from shared.db.uow import UnitOfWork
from shared.problems import NotFound

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


async def load_case(uow: UnitOfWork, event_id: uuid.UUID, *, lock: bool = False) -> Any:
    row = await store.get_case(uow, event_id, lock=lock)
    if row is None:
        raise NotFound("no such event", code="event_not_found")
    return row


def former_units(row: Any, *left: uuid.UUID | None, holder: uuid.UUID | None
                 ) -> list[uuid.UUID]:
    """The case's former units with those in ``left`` (units it has left), except the unit
    that holds it (``holder``)."""
    return list(dict.fromkeys([*row["former_unit_ids"],
                               *(u for u in left if u is not None and u != holder)]))


@dataclass(frozen=True)
class Step:
    """One timeline step: what was done, by whom, between which statuses. ``note`` is stored
    as given (callers mask typed text: service/originals.py), ``note_original`` its encrypted
    original."""

    at: datetime
    action: str
    actor: Actor
    from_status: str | None
    to_status: str | None
    note: str | None = None
    unit_name: str | None = None
    note_original: str | None = None

    def values(self, row: Any) -> dict[str, Any]:
        """The timeline row of this step of the case ``row``."""
        return {
            "event_id": row["id"], "at": self.at, "action": self.action,
            "actor_role": self.actor.role, "actor_id": self.actor.subject,
            "actor_unit_id": self.actor.unit_id, "actor_unit": self.unit_name,
            "from_status": self.from_status, "to_status": self.to_status, "note": self.note,
            "note_original": self.note_original,
        }


async def record_step(
    uow: UnitOfWork,
    row: Any,
    step: Step,
    *,
    emit: bool = True,
    reason: str | None = None,
    passed: bool | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    """One timeline step, and — when the status moved — the status-changed event.
    ``changes``: set on the case in the same round trip as the step."""
    step_id = await store.add_step(uow, case_changes=changes, **step.values(row))
    to_status, actor = step.to_status, step.actor
    if emit and to_status is not None:
        await uow.emit(
            "events.event_status_changed",
            EventStatusChanged(
                event_id=row["id"],
                case_no=row["case_no"],
                category_code=row["category_code"],
                region_code=row["region_code"],
                from_status=step.from_status or to_status,
                to_status=to_status,
                action=step.action,
                actor_role=actor.role,
                actor_unit_id=actor.unit_id,
                at=step.at,
                reason=reason,
                passed=passed,
                reporter_id=None if row["sensitive"] else row["reporter_id"],
                reporter_sealed=row["reporter_sealed"] if row["sensitive"] else None,
                step=step_id,
                actor_id=None if actor.role in ("system", "resident") else actor.subject,
            ),
        )
