"""The partner app's collaborators, built once by its start hook and kept as
``runtime.context``: routes reach it through ``Context`` (api.py), the webhook sender and
the shutdown hook through ``runtime.context_as(PartnerContext)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from gateway.partner.clients import EventsClient, IdentityClient
from gateway.partner.settings import Settings
from shared.http.egress import Resolver

if TYPE_CHECKING:  # both read this context: imported for the annotations only
    from gateway.partner.auth import AppRateLimits
    from gateway.partner.webhooks import DeliveryWorker


@dataclass
class PartnerContext:
    settings: Settings
    clock: Callable[[], datetime]
    limiter: AppRateLimits
    identity: IdentityClient
    events: EventsClient
    # The host → addresses lookup the webhook sender checks and connects by (tests: a fake).
    webhook_resolver: Resolver
    # Ends the revocation-feed subscription that makes the credentials cache forget an app.
    unsubscribe_revocations: Callable[[], None] | None = None
    # Set when the worker starts (not at all where this replica runs no workers).
    deliveries: DeliveryWorker | None = None

    def now(self) -> datetime:
        return self.clock()

    async def aclose(self) -> None:
        if self.unsubscribe_revocations is not None:
            self.unsubscribe_revocations()
            self.unsubscribe_revocations = None
        await self.identity.aclose()
        await self.events.aclose()
