"""Composition root of the events service."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware

from services.events.api import router
from services.events.api_internal import router as internal_router
from services.events.api_points import router as points_router
from services.events.context import build_context
from services.events.fastlane import ReportFastLane
from services.events.handlers import SUBSCRIPTIONS
from services.events.settings import Settings
from shared.web import create_service_app
from shared.web.runtime import ServiceRuntime


def create_app(settings: Settings | None = None, **wiring: Any) -> FastAPI:
    """``wiring`` passes a shared broker or token verifier (embedded mode, tests), and
    optionally ``clock`` (a callable returning an aware datetime) and ``storage``."""
    settings = settings or Settings()
    context = build_context(settings, clock=wiring.pop("clock", None),
                            storage=wiring.pop("storage", None))

    async def collaborators(_: FastAPI, runtime: ServiceRuntime) -> None:
        runtime.context = context

    app = create_service_app(
        settings,
        title="Ping'an e-Home events",
        routers=[router, points_router, internal_router],
        subscriptions=SUBSCRIPTIONS,
        on_startup=[collaborators],
        **wiring,
    )

    def current_runtime() -> ServiceRuntime | None:
        return getattr(app.state, "runtime", None)

    # Innermost user middleware: inside the request-context middleware (ids, logs, metrics).
    app.user_middleware.append(Middleware(ReportFastLane, runtime=current_runtime))
    return app
