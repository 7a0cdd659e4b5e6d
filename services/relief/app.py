"""Composition root of the relief service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI

from services.relief.api import router
from services.relief.context import ReliefContext, build_context
from services.relief.handlers import SUBSCRIPTIONS
from services.relief.settings import Settings
from shared.web import create_service_app
from shared.web.runtime import ServiceRuntime


def create_app(
    settings: Settings | None = None,
    *,
    identity_transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] | None = None,
    **wiring: Any,
) -> FastAPI:
    """``wiring`` passes a shared broker or token verifier (embedded mode, tests);
    ``identity_transport`` and ``clock`` replace the network and time in tests."""
    settings = settings or Settings()

    async def start(app: FastAPI, runtime: ServiceRuntime) -> None:
        runtime.context = build_context(
            settings, identity_transport=identity_transport, clock=clock
        )

    async def stop(app: FastAPI, runtime: ServiceRuntime) -> None:
        # Not set when start-up failed before the hook ran.
        if isinstance(runtime.context, ReliefContext):
            await runtime.context.aclose()
            runtime.context = None

    return create_service_app(
        settings,
        title="Ping'an e-Home relief",
        routers=[router],
        subscriptions=SUBSCRIPTIONS,
        on_startup=[start],
        on_shutdown=[stop],
        **wiring,
    )
