"""Bus consumers of the routing service: decode, call service.py, nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from services.routing import service
from shared.calendar import WorkingCalendar
from shared.contracts.events import ASSIGNMENT_ACTIONS, EventReported, EventStatusChanged
from shared.db.uow import UnitOfWork
from shared.messaging.consumer import Subscription
from shared.messaging.envelope import Envelope

Context = Callable[[], dict[str, Any]]

# Steps that record routing's own decisions on the case file: routing set the status and the
# clocks when it decided, so their echo needs no transaction here.
OWN_DECISION_STEPS = frozenset(ASSIGNMENT_ACTIONS.values())


def not_our_own_decision(envelope: Envelope) -> bool:
    return envelope.payload.get("action") not in OWN_DECISION_STEPS


def build_subscriptions(context: Context) -> list[Subscription]:
    """``context()`` gives the handlers the app's clock (``now``), calendar and reminder
    fractions, so an injected clock reaches bus-driven decisions too."""

    async def on_event_reported(envelope: Envelope, uow: UnitOfWork) -> None:
        await service.on_event_reported(uow, envelope.payload_as(EventReported), **context())

    async def on_status_changed(envelope: Envelope, uow: UnitOfWork) -> None:
        await service.on_status_changed(uow, envelope.payload_as(EventStatusChanged),
                                        **context())

    return [
        Subscription("events.event_reported", on_event_reported, purpose="intake"),
        Subscription(
            "events.event_status_changed",
            on_status_changed,
            purpose="intake",
            # Steps recording its own assignments travel under the "assignment" topic
            # (status_change_topic), which this queue leaves unbound; ``wants`` still declines
            # any that come without it.
            with_topics=False,
            wants=not_our_own_decision,
        ),
    ]


def _default_context() -> dict[str, Any]:
    return {"now": datetime.now(UTC), "cal": WorkingCalendar(), "fractions": [0.5, 0.8]}


SUBSCRIPTIONS: list[Subscription] = build_subscriptions(_default_context)
