"""A unit's work beyond its own cases, from the bus: co-handling sub-tasks asked of it and
supervisions (督办) issued to it, for its scorecard. Every message only fills in what it
knows (see store.unit_work), so redelivery and reordering cannot skew the counts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.feedback.store import cases
from services.feedback.store import unit_work as store
from shared.db.uow import UnitOfWork
from shared.messaging.envelope import Envelope


def _uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(str(value))


def _at(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


async def on_co_handling_started(uow: UnitOfWork, envelope: Envelope) -> None:
    """Each assisting unit was asked for a sub-task due at its ``due_at`` (subtask_closed
    carries no due time: it is known from here). The assisting units are remembered too, so
    a unit that never held a case of its own still has a name on its scorecard."""
    payload = envelope.payload
    asked_at = _at(payload["at"])
    for subtask in payload["subtasks"]:
        await cases.save_unit(uow, subtask["unit"], asked_at)
        await store.merge_subtask(
            uow, subtask_id=_uuid(subtask["subtask_id"]), event_id=_uuid(payload["event_id"]),
            unit_id=_uuid(subtask["unit"]["unit_id"]), asked_at=asked_at,
            due_at=_at(subtask["due_at"]))


async def on_subtask_closed(uow: UnitOfWork, envelope: Envelope) -> None:
    payload = envelope.payload
    await store.merge_subtask(
        uow, subtask_id=_uuid(payload["subtask_id"]), event_id=_uuid(payload["event_id"]),
        unit_id=_uuid(payload["unit_id"]), closed_at=_at(payload["at"]),
        outcome=str(payload["outcome"]))


async def on_supervision_issued(uow: UnitOfWork, envelope: Envelope) -> None:
    payload = envelope.payload
    await store.merge_supervision(
        uow, supervision_id=_uuid(payload["supervision_id"]),
        event_id=_uuid(payload["event_id"]), unit_id=_uuid(payload["unit_id"]),
        issued_at=_at(payload["at"]), reply_by=_at(payload["reply_by"]))


async def on_supervision_replied(uow: UnitOfWork, envelope: Envelope) -> None:
    payload = envelope.payload
    await store.merge_supervision(
        uow, supervision_id=_uuid(payload["supervision_id"]),
        event_id=_uuid(payload["event_id"]), unit_id=_uuid(payload["unit_id"]),
        replied_at=_at(payload["at"]), replied_late=bool(payload["late"]))


async def on_supervision_overdue(uow: UnitOfWork, envelope: Envelope) -> None:
    payload = envelope.payload
    await store.merge_supervision(
        uow, supervision_id=_uuid(payload["supervision_id"]),
        event_id=_uuid(payload["event_id"]), unit_id=_uuid(payload["unit_id"]),
        reply_by=_at(payload["reply_by"]), overdue_at=_at(payload["at"]))
