"""Bus consumers of the feedback service: decode, call service, nothing else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.feedback.service import (
    grid_work,
    notifications,
    projection,
    staff_directory,
    staff_notices,
    unit_work,
)
from services.feedback.settings import Settings
from shared.contracts.events import ReporterSeal
from shared.db.uow import UnitOfWork
from shared.messaging.consumer import Subscription
from shared.messaging.envelope import Envelope


async def on_case_fact(envelope: Envelope, uow: UnitOfWork) -> None:
    """A message about the case that names no reporter: one more fact about the case."""
    await projection.project(uow, [projection.fact_from_envelope(envelope)])


async def on_event_assigned(envelope: Envelope, uow: UnitOfWork) -> None:
    await projection.learn_unit(uow, envelope)
    await projection.project(uow, [projection.fact_from_envelope(envelope)])
    # The unit's staff are told on the same queue: a second queue for one message type would
    # double every assignment's handling for no gain in isolation.
    await staff_notices.record_for_assignment(uow, envelope)


async def on_booking_confirmed(envelope: Envelope, uow: UnitOfWork) -> None:
    await notifications.record_for_booking_confirmed(uow, envelope)


async def on_relief_decided(envelope: Envelope, uow: UnitOfWork) -> None:
    await notifications.record_for_relief_decision(uow, envelope)


async def on_event_overdue(envelope: Envelope, uow: UnitOfWork) -> None:
    await staff_notices.record_for_overdue(uow, envelope)


async def on_event_escalated(envelope: Envelope, uow: UnitOfWork) -> None:
    await staff_notices.record_for_escalation(uow, envelope)


async def on_event_queued(envelope: Envelope, uow: UnitOfWork) -> None:
    await staff_notices.record_for_queued(uow, envelope)


async def on_deadline_warning(envelope: Envelope, uow: UnitOfWork) -> None:
    await staff_notices.record_for_deadline_warning(uow, envelope)


async def on_supervision_issued(envelope: Envelope, uow: UnitOfWork) -> None:
    await staff_notices.record_for_supervision_issued(uow, envelope)


async def on_supervision_overdue(envelope: Envelope, uow: UnitOfWork) -> None:
    await staff_notices.record_for_supervision_overdue(uow, envelope)


async def on_co_handling_started(envelope: Envelope, uow: UnitOfWork) -> None:
    await staff_notices.record_for_co_handling(uow, envelope)


async def on_staff_directory_changed(envelope: Envelope, uow: UnitOfWork) -> None:
    await staff_directory.apply_change(uow, envelope)


# A unit's work for its scorecard, on the read model's queue ("cases"): apart from the
# notices queue, so a notice that fails to record cannot hold back the counts.
_UNIT_WORK = (
    ("routing.co_handling_started", unit_work.on_co_handling_started),
    ("routing.subtask_closed", unit_work.on_subtask_closed),
    ("routing.supervision_issued", unit_work.on_supervision_issued),
    ("routing.supervision_replied", unit_work.on_supervision_replied),
    ("routing.supervision_overdue", unit_work.on_supervision_overdue),
)


async def on_grid_task_assigned(envelope: Envelope, uow: UnitOfWork) -> None:
    await staff_notices.record_for_grid_task(uow, envelope)


# A grid worker's work for their monthly figures (#19), on the read model's queue ("cases")
# like a unit's work; a report they made is counted by the cases' own on_event_reported.
_GRID_WORK = (
    ("routing.grid_task_completed", grid_work.record_task_completed),
    ("routing.patrol_finished", grid_work.record_patrol),
    ("routing.grid_worker_enrolled", grid_work.record_enrolled),
    ("routing.grid_worker_left", grid_work.record_left),
    ("identity.household_visited", grid_work.record_visit),
    ("identity.resident_entered", grid_work.record_resident_entered),
    ("identity.user_verified", grid_work.record_user_verified),
)


def _grid_work_handler(
    record: Callable[[UnitOfWork, Envelope], Awaitable[bool]],
) -> Callable[[Envelope, UnitOfWork], Awaitable[None]]:
    async def handle(envelope: Envelope, uow: UnitOfWork) -> None:
        await record(uow, envelope)

    return handle


def _unit_work_handler(
    record: Callable[[UnitOfWork, Envelope], Awaitable[None]],
) -> Callable[[Envelope, UnitOfWork], Awaitable[None]]:
    async def handle(envelope: Envelope, uow: UnitOfWork) -> None:
        await record(uow, envelope)

    return handle


def build_subscriptions(seal: ReporterSeal) -> list[Subscription]:
    """``seal`` opens the reporter of a sensitive tip (the app's configured keyring)."""

    async def on_event_reported(envelope: Envelope, uow: UnitOfWork) -> None:
        reporter = projection.reporter_of(envelope, seal)
        await projection.project(
            uow, [projection.fact_from_envelope(envelope, reporter_id=reporter)])
        await grid_work.record_report(uow, envelope, reporter)

    async def on_status_changed(envelope: Envelope, uow: UnitOfWork) -> None:
        reporter = projection.reporter_of(envelope, seal)
        await projection.project(
            uow, [projection.fact_from_envelope(envelope, reporter_id=reporter)])
        await notifications.record_for_status_change(uow, envelope, reporter_id=reporter)

    async def on_event_closed(envelope: Envelope, uow: UnitOfWork) -> None:
        reporter = projection.reporter_of(envelope, seal)
        await projection.project(
            uow, [projection.fact_from_envelope(envelope, reporter_id=reporter)])
        await notifications.record_for_closure(uow, envelope, reporter_id=reporter)

    return [
        Subscription("events.event_reported", on_event_reported, purpose="cases"),
        Subscription("events.event_status_changed", on_status_changed, purpose="cases"),
        Subscription("events.event_closed", on_event_closed, purpose="cases"),
        Subscription("routing.event_assigned", on_event_assigned, purpose="cases"),
        Subscription("routing.deadline_changed", on_case_fact, purpose="cases"),
        Subscription("booking.booking_confirmed", on_booking_confirmed, purpose="notices"),
        Subscription("relief.application_decided", on_relief_decided, purpose="notices"),
        Subscription("routing.event_overdue", on_event_overdue, purpose="notices"),
        Subscription("routing.event_escalated", on_event_escalated, purpose="notices"),
        Subscription("routing.event_queued", on_event_queued, purpose="notices"),
        Subscription("routing.deadline_warning", on_deadline_warning, purpose="notices"),
        Subscription("routing.supervision_issued", on_supervision_issued, purpose="notices"),
        Subscription("routing.supervision_overdue", on_supervision_overdue,
                     purpose="notices"),
        Subscription("routing.co_handling_started", on_co_handling_started,
                     purpose="notices"),
        # A read model like the cases' (and beside the assignments that notify a unit).
        Subscription("identity.staff_directory_changed", on_staff_directory_changed,
                     purpose="cases"),
        *(Subscription(event_type, _unit_work_handler(record), purpose="cases")
          for event_type, record in _UNIT_WORK),
        Subscription("routing.grid_task_assigned", on_grid_task_assigned, purpose="notices"),
        *(Subscription(event_type, _grid_work_handler(record), purpose="cases")
          for event_type, record in _GRID_WORK),
    ]


def seal_of(settings: Settings) -> ReporterSeal:
    return ReporterSeal(settings.reporter_seal_keys)


# With the default (development) keyring; the app builds its own from its settings.
SUBSCRIPTIONS: list[Subscription] = build_subscriptions(
    ReporterSeal(Settings.model_fields["reporter_seal_keys"].default)
)
