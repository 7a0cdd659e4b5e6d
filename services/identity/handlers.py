"""Bus consumers of the identity service: decode, call service.py, nothing else."""

from __future__ import annotations

from services.identity.service import grid_workers
from services.identity.settings import Settings
from shared.contracts.routing import GridWorkerEnrolled, GridWorkerLeft
from shared.db.uow import UnitOfWork
from shared.messaging.consumer import Subscription
from shared.messaging.envelope import Envelope


def build_subscriptions(settings: Settings) -> list[Subscription]:
    """The consumers, with what they need of the service's settings."""
    token_ttl_seconds = settings.access_token_ttl_seconds

    async def on_grid_worker_left(envelope: Envelope, uow: UnitOfWork) -> None:
        await grid_workers.retire_leaver(uow, envelope.payload_as(GridWorkerLeft),
                                         token_ttl_seconds=token_ttl_seconds)

    async def on_grid_worker_enrolled(envelope: Envelope, uow: UnitOfWork) -> None:
        await grid_workers.follow_enrolment(uow, envelope.payload_as(GridWorkerEnrolled),
                                            token_ttl_seconds=token_ttl_seconds)

    # One queue: the two are ordered per account by their moment (``grid_work_at``).
    return [
        Subscription("routing.grid_worker_enrolled", on_grid_worker_enrolled,
                     purpose="accounts"),
        Subscription("routing.grid_worker_left", on_grid_worker_left, purpose="accounts"),
    ]


# With the default settings; the app builds its own from its settings.
SUBSCRIPTIONS: list[Subscription] = build_subscriptions(Settings.model_construct())
