"""Everything a running service holds: settings, database, broker, relay, consumers, workers.
Built in the app's lifespan; the embedded mode injects a shared broker and token keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from shared.auth.tokens import TokenVerifier
from shared.db.database import Database
from shared.db.uow import UnitOfWork
from shared.messaging.broker import Broker
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.outbox import OutboxRelay
from shared.periodic import Worker
from shared.settings import ServiceSettings

C = TypeVar("C")


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    database: Database
    broker: Broker
    verifier: TokenVerifier
    relay: OutboxRelay | None = None
    consumers: ConsumerRunner | None = None
    workers: list[Worker] = field(default_factory=list)
    # The service's own collaborators (clients, ciphers, clock, pools): one typed object
    # its start hook builds; routes reach it through a typed dependency (``shared.web.deps``).
    context: object | None = None
    accepting: bool = True

    def context_as(self, kind: type[C]) -> C:
        """The service's context, checked to be the type the caller expects."""
        if not isinstance(self.context, kind):
            raise RuntimeError(f"{self.settings.service_name}: no {kind.__name__} set up "
                               f"(the service's start hook builds it)")
        return self.context

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.database, producer=self.settings.service_name)
