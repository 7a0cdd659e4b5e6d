"""Everything a running service holds: settings, database, broker, relay, consumers, workers.
Built in the app's lifespan; the embedded mode injects a shared broker and token keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.auth.tokens import TokenVerifier
from shared.db.database import Database
from shared.db.uow import UnitOfWork
from shared.messaging.broker import Broker
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.outbox import OutboxRelay
from shared.periodic import Worker
from shared.settings import ServiceSettings


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    database: Database
    broker: Broker
    verifier: TokenVerifier
    relay: OutboxRelay | None = None
    consumers: ConsumerRunner | None = None
    workers: list[Worker] = field(default_factory=list)
    # Service-specific collaborators (clients, stores) set up by the service's own start hook.
    state: dict[str, Any] = field(default_factory=dict)
    accepting: bool = True

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.database, producer=self.settings.service_name)
