"""Composition root of the routing service."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware

from services.routing.api import router
from services.routing.context import RoutingContext, build_context
from services.routing.fastlane import PatrolPointsLane, PointsPool
from services.routing.handlers import build_subscriptions
from services.routing.service import TimerScanner
from services.routing.service.supervision import fire_overdue_supervisions
from services.routing.settings import Settings
from shared.periodic import PeriodicWorker, Worker
from shared.web import create_service_app
from shared.web.runtime import ServiceRuntime


def create_app(settings: Settings | None = None, **wiring: Any) -> FastAPI:
    """``wiring`` passes a shared broker or token verifier (embedded mode, tests), and
    optionally ``clock`` (a callable returning an aware datetime) for tests that move time."""
    settings = settings or Settings()
    # Built here, not at start: the bus handlers are bound to it before the app starts.
    ctx = build_context(settings, wiring.pop("clock", None))

    async def set_context(_: FastAPI, runtime: ServiceRuntime) -> None:
        runtime.context = ctx

    def scanner(runtime: ServiceRuntime) -> Worker:
        return timer_scanner(runtime, settings)

    def overdue(runtime: ServiceRuntime) -> Worker:
        return supervision_overdue_worker(runtime, settings)

    points = PointsPool(settings)
    app = create_service_app(
        settings,
        title="Ping'an e-Home routing",
        routers=[router],
        subscriptions=build_subscriptions(ctx),
        workers=[scanner, overdue] if settings.run_timer_scanner else [],
        on_startup=[set_context, points.open],
        on_shutdown=[points.close],
        **wiring,
    )

    def current_runtime() -> ServiceRuntime | None:
        return getattr(app.state, "runtime", None)

    # Innermost user middleware: inside the request-context middleware (ids, logs, metrics).
    app.user_middleware.append(
        Middleware(PatrolPointsLane, runtime=current_runtime, points=points))
    return app


def timer_scanner(runtime: ServiceRuntime, settings: Settings) -> TimerScanner:
    ctx = runtime.context_as(RoutingContext)
    return TimerScanner(runtime.uow, clock=ctx.clock, cal=ctx.calendar,
                        fractions=ctx.reminder_fractions, interval=settings.timer_scan_seconds,
                        batch=settings.timer_batch_size)


def supervision_overdue_worker(runtime: ServiceRuntime, settings: Settings) -> PeriodicWorker:
    """Manual supervision orders past their reply-by: marked overdue and raised a level, on
    the timer scanner's interval and batch (and switched with it)."""
    ctx = runtime.context_as(RoutingContext)

    async def tick() -> bool:
        fired = await fire_overdue_supervisions(runtime.uow(), now=ctx.clock(),
                                                limit=settings.timer_batch_size)
        return fired >= settings.timer_batch_size

    return PeriodicWorker("routing-supervision-overdue", tick, settings.timer_scan_seconds)
