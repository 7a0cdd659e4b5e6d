"""Bus consumers of the events service: decode, call service.py, nothing else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from services.events import service
from services.events.service import bus
from shared.contracts import feedback as fb
from shared.contracts import routing as r
from shared.db.uow import UnitOfWork
from shared.messaging.consumer import Handler, Subscription
from shared.messaging.envelope import Envelope


def _decoded(model: type[BaseModel], use_case: Callable[[UnitOfWork, Any], Awaitable[None]]
             ) -> Handler:
    async def handle(envelope: Envelope, uow: UnitOfWork) -> None:
        await use_case(uow, envelope.payload_as(model))

    return handle


_ROUTES: list[tuple[str, type[BaseModel], Callable[[UnitOfWork, Any], Awaitable[None]]]] = [
    ("routing.event_assigned", r.EventAssigned, service.on_assigned),
    ("routing.event_queued", r.EventQueued, service.on_queued),
    ("routing.deadline_warning", r.DeadlineWarning, service.on_deadline_warning),
    ("routing.event_overdue", r.EventOverdue, service.on_overdue),
    ("routing.deadline_changed", r.DeadlineChanged, service.on_deadline_changed),
    ("routing.extension_requested", r.ExtensionRequested, service.on_extension_requested),
    ("routing.extension_decided", r.ExtensionDecided, service.on_extension_decided),
    ("routing.co_handling_started", r.CoHandlingStarted, service.on_co_handling_started),
    ("routing.subtask_closed", r.SubtaskClosed, service.on_subtask_closed),
    ("routing.region_changed", r.RegionChanged, service.on_region_changed),
    # Manual supervision (督办): timeline steps and the search's "supervised" filter; kept by
    # supervision id, so a copy or a late message changes nothing.
    ("routing.supervision_issued", r.SupervisionIssued, bus.on_supervision_issued),
    ("routing.supervision_replied", r.SupervisionReplied, bus.on_supervision_replied),
    ("routing.supervision_overdue", r.SupervisionOverdue, bus.on_supervision_overdue),
    ("routing.supervision_lapsed", r.SupervisionLapsed, bus.on_supervision_lapsed),
]

# One queue for routing's decisions: per-case order matters more than parallel throughput.
SUBSCRIPTIONS: list[Subscription] = [
    *(
        Subscription(event_type, _decoded(model, use_case), purpose="routing")
        for event_type, model, use_case in _ROUTES
    ),
    Subscription("feedback.event_rated", _decoded(fb.EventRated, service.on_feedback_rated),
                 purpose="ratings"),
]
