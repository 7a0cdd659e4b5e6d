"""Bus consumers of the routing service: decode, call service.py, nothing else."""

from __future__ import annotations

import uuid

from services.routing import service
from services.routing.context import RoutingContext, build_context
from services.routing.service import workforce
from services.routing.settings import Settings
from shared.contracts.events import ASSIGNMENT_ACTIONS, EventReported, EventStatusChanged
from shared.contracts.identity import StaffDirectoryChanged
from shared.db.uow import UnitOfWork
from shared.messaging.consumer import Subscription
from shared.messaging.envelope import Envelope

# Steps that record routing's own decisions on the case file: routing set the status and the
# clocks when it decided, so their echo needs no transaction here.
OWN_DECISION_STEPS = frozenset(ASSIGNMENT_ACTIONS.values())


def not_our_own_decision(envelope: Envelope) -> bool:
    return envelope.payload.get("action") not in OWN_DECISION_STEPS


def build_subscriptions(ctx: RoutingContext) -> list[Subscription]:
    """The handlers decide at the context's clock (an injected one reaches bus-driven
    decisions too), on its calendar and reminder fractions."""

    async def on_event_reported(envelope: Envelope, uow: UnitOfWork) -> None:
        await service.on_event_reported(uow, envelope.payload_as(EventReported), now=ctx.clock(),
                                        cal=ctx.calendar, fractions=ctx.reminder_fractions)

    async def on_status_changed(envelope: Envelope, uow: UnitOfWork) -> None:
        await service.on_status_changed(uow, envelope.payload_as(EventStatusChanged),
                                        now=ctx.clock(), cal=ctx.calendar,
                                        fractions=ctx.reminder_fractions)

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
        *workforce_subscriptions(ctx),
    ]


def workforce_subscriptions(ctx: RoutingContext) -> list[Subscription]:
    """Grid workers' verification duties (核查) follow the cases of their grids, and identity's
    staff accounts are kept for enrolment, on a queue of their own so neither holds up
    routing's intake."""

    async def on_case_step(envelope: Envelope, uow: UnitOfWork) -> None:
        # The verifier, when the case file's message names them (an addition events may make).
        verifier = envelope.payload.get("actor_id")
        await workforce.on_case_step(
            uow, envelope.payload_as(EventStatusChanged), now=ctx.clock(), base=ctx.calendar,
            due_days=ctx.grid_verification_due_days,
            verifier_id=uuid.UUID(str(verifier)) if verifier else None)

    async def on_staff_changed(envelope: Envelope, uow: UnitOfWork) -> None:
        await workforce.keep_account(uow, envelope.payload_as(StaffDirectoryChanged))

    return [
        Subscription("events.event_status_changed", on_case_step, purpose="workforce",
                     with_topics=False,
                     wants=lambda envelope: workforce.concerns_duties(envelope.payload)),
        Subscription("identity.staff_directory_changed", on_staff_changed,
                     purpose="workforce"),
    ]


# With the default settings (read from no environment); the app builds its own.
SUBSCRIPTIONS: list[Subscription] = build_subscriptions(build_context(Settings.model_construct()))
