"""Bus consumers of the feedback service: decode, call service, nothing else."""

from __future__ import annotations

from services.feedback.service import notifications, projection
from shared.db.uow import UnitOfWork
from shared.messaging.consumer import Subscription
from shared.messaging.envelope import Envelope


async def on_case_fact(envelope: Envelope, uow: UnitOfWork) -> None:
    """Any lifecycle message: one more fact about the case."""
    await projection.project(uow, [projection.fact_from_envelope(envelope)])


async def on_status_changed(envelope: Envelope, uow: UnitOfWork) -> None:
    await projection.project(uow, [projection.fact_from_envelope(envelope)])
    await notifications.record_for_status_change(uow, envelope)


async def on_event_closed(envelope: Envelope, uow: UnitOfWork) -> None:
    await projection.project(uow, [projection.fact_from_envelope(envelope)])
    await notifications.record_for_closure(uow, envelope)


async def on_event_assigned(envelope: Envelope, uow: UnitOfWork) -> None:
    await projection.learn_unit(uow, envelope)
    await projection.project(uow, [projection.fact_from_envelope(envelope)])


async def on_booking_confirmed(envelope: Envelope, uow: UnitOfWork) -> None:
    await notifications.record_for_booking_confirmed(uow, envelope)


async def on_relief_decided(envelope: Envelope, uow: UnitOfWork) -> None:
    await notifications.record_for_relief_decision(uow, envelope)


SUBSCRIPTIONS: list[Subscription] = [
    Subscription("events.event_reported", on_case_fact, purpose="cases"),
    Subscription("events.event_status_changed", on_status_changed, purpose="cases"),
    Subscription("events.event_closed", on_event_closed, purpose="cases"),
    Subscription("routing.event_assigned", on_event_assigned, purpose="cases"),
    Subscription("routing.deadline_changed", on_case_fact, purpose="cases"),
    Subscription("booking.booking_confirmed", on_booking_confirmed, purpose="notices"),
    Subscription("relief.application_decided", on_relief_decided, purpose="notices"),
]
