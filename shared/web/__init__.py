"""The service app factory and what every service app carries: ids, logs, metrics, health.

Names are resolved lazily so that importing ``shared.web.metrics`` (the gateway does) does not
pull in the database and broker stack that ``create_service_app`` needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.periodic import Worker
    from shared.web.app import create_service_app
    from shared.web.deps import IdempotencyKey, Uow, get_runtime
    from shared.web.runtime import ServiceRuntime

_EXPORTS = {
    "create_service_app": "shared.web.app",
    "IdempotencyKey": "shared.web.deps",
    "Uow": "shared.web.deps",
    "get_runtime": "shared.web.deps",
    "ServiceRuntime": "shared.web.runtime",
    "Worker": "shared.periodic",
}

__all__ = [
    "IdempotencyKey",
    "ServiceRuntime",
    "Uow",
    "Worker",
    "create_service_app",
    "get_runtime",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(name)
    return getattr(importlib.import_module(module), name)
