"""Grid workers' work from the bus, for their monthly figures (#19).

Each message records one piece of work keyed by what it is — the case, task, visit or
patrol — so a redelivered message, or the same fact republished under a new message id,
is counted once (the inbox already drops a redelivery of the same message). Who the worker
is (name, kind, grids, whether they left) comes from routing's enrolment messages.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from services.feedback import grid_scoring
from services.feedback.store import grid_work as store
from shared.contracts.identity import HouseholdVisited, ResidentEntered, UserVerified
from shared.contracts.routing import (
    GridTaskCompleted,
    GridWorkerEnrolled,
    GridWorkerLeft,
    PatrolFinished,
)
from shared.db.uow import UnitOfWork
from shared.messaging.envelope import Envelope
from shared.regions import is_region_code


def is_grid_worker_report(envelope: Envelope) -> bool:
    """Only reports a grid worker made count (a resident's or a partner's do not)."""
    return envelope.payload.get("channel") == "grid_worker"


def _item(key: str, kind: str, worker_id: uuid.UUID, region_code: str | None,
          at: datetime, **extra: Any) -> dict[str, Any]:
    region = region_code if region_code and is_region_code(region_code) else None
    return {"key": key, "kind": kind, "worker_id": worker_id, "region_code": region,
            "month": grid_scoring.month_of(at), "at": at, **extra}


async def record_report(
    uow: UnitOfWork, envelope: Envelope, reporter_id: uuid.UUID | None
) -> bool:
    """A case the worker reported (``reporter_id`` opened by the caller: a sensitive tip's
    is sealed). A report naming no reporter counts for nobody."""
    if reporter_id is None or not is_grid_worker_report(envelope):
        return False
    payload = envelope.payload
    at = datetime.fromisoformat(str(payload["reported_at"]))
    return await store.add_item(uow, _item(
        f"report:{payload['event_id']}", grid_scoring.REPORT, reporter_id,
        str(payload["region_code"]), at))


async def record_task_completed(uow: UnitOfWork, envelope: Envelope) -> bool:
    done = envelope.payload_as(GridTaskCompleted)
    kind = grid_scoring.VERIFICATION if done.kind == "verification" else grid_scoring.TASK
    return await store.add_item(uow, _item(
        f"task:{done.task_id}", kind, done.worker_id, done.grid_code, done.completed_at,
        on_time=done.on_time))


async def record_visit(uow: UnitOfWork, envelope: Envelope) -> bool:
    visit = envelope.payload_as(HouseholdVisited)
    return await store.add_item(uow, _item(
        f"visit:{visit.visit_id}", grid_scoring.VISIT, visit.worker_id, visit.grid_code,
        visit.visited_at))


async def record_patrol(uow: UnitOfWork, envelope: Envelope) -> bool:
    patrol = envelope.payload_as(PatrolFinished)
    seconds = max((patrol.ended_at - patrol.started_at).total_seconds(), 0.0)
    return await store.add_item(uow, _item(
        f"patrol:{patrol.patrol_id}", grid_scoring.PATROL, patrol.worker_id,
        patrol.grid_code, patrol.started_at, hours=seconds / 3600,
        distance_m=max(patrol.distance_m, 0.0)))


async def record_resident_entered(uow: UnitOfWork, envelope: Envelope) -> bool:
    """A resident newly entered by a worker (an update of an existing record, or an import
    by nobody in particular, is no entry of theirs). The contract names no moment: the
    message's own is the entry's. A person identity linked at once to a verified account
    (``linked_user_id``) is verified from the start: no user_verified follows for them."""
    entered = envelope.payload_as(ResidentEntered)
    if not entered.created or entered.entered_by is None:
        return False
    at = envelope.occurred_at
    await store.merge_resident(
        uow, registry_person_id=entered.registry_person_id, entered_by=entered.entered_by,
        region_code=entered.region_code if is_region_code(entered.region_code) else None,
        month=grid_scoring.month_of(at), entered_at=at,
        verified_at=at if entered.linked_user_id is not None else None)
    return True


async def record_user_verified(uow: UnitOfWork, envelope: Envelope) -> bool:
    """A registry person passed real-name verification (counted for whoever entered them,
    whether their entry is known here yet or arrives later)."""
    verified = envelope.payload_as(UserVerified)
    if verified.registry_person_id is None:
        return False
    await store.merge_resident(uow, registry_person_id=verified.registry_person_id,
                               verified_at=verified.verified_at)
    return True


async def record_enrolled(uow: UnitOfWork, envelope: Envelope) -> bool:
    """A worker enrolled, re-enrolled or re-gridded. ``display_name`` is read when the
    message carries one (the contract may add it); otherwise a known name is kept."""
    enrolled = envelope.payload_as(GridWorkerEnrolled)
    name = envelope.payload.get("display_name")
    return await store.save_worker(uow, {
        "user_id": enrolled.user_id,
        "display_name": str(name)[:100] if name else None,
        "kind": enrolled.kind, "grid_codes": sorted(set(enrolled.grid_codes)),
        "started_on": enrolled.started_on, "status": "active", "left_on": None,
        "changed_at": enrolled.at,
    })


async def record_left(uow: UnitOfWork, envelope: Envelope) -> bool:
    """A worker left: their row stays (their month's figures still count) marked left."""
    left = envelope.payload_as(GridWorkerLeft)
    return await store.save_worker(uow, {
        "user_id": left.user_id, "grid_codes": sorted(set(left.grid_codes)),
        "status": "left", "left_on": left.left_on, "changed_at": left.at,
    })
