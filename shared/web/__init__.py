"""The service app factory and what every service app carries: ids, logs, metrics, health."""

from shared.web.app import create_service_app
from shared.web.deps import IdempotencyKey, Uow, get_runtime
from shared.web.runtime import ServiceRuntime, Worker

__all__ = [
    "IdempotencyKey",
    "ServiceRuntime",
    "Uow",
    "Worker",
    "create_service_app",
    "get_runtime",
]
