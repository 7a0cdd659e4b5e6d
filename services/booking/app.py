"""Composition root of the booking service."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware

from services.booking.admission import AdmissionLimiter, AdmissionMiddleware
from services.booking.api import router
from services.booking.context import BookingContext, build_context
from services.booking.fastlane import BookingFastLane
from services.booking.handlers import SUBSCRIPTIONS
from services.booking.service.releases import no_show_releaser
from services.booking.settings import Settings
from shared.periodic import PeriodicWorker
from shared.web import ServiceRuntime, create_service_app


def create_app(settings: Settings | None = None, **wiring: Any) -> FastAPI:
    """``wiring`` passes a shared broker or token verifier (embedded mode, tests)."""
    settings = settings or Settings()

    async def wire_booking(app: FastAPI, runtime: ServiceRuntime) -> None:
        runtime.context = await build_context(
            settings,
            schema=runtime.database.schema,
            plan_cache_mode=runtime.database.plan_cache_mode,
        )
        _register_admission_counters(app)

    def releaser(runtime: ServiceRuntime) -> PeriodicWorker:
        return no_show_releaser(runtime.uow, interval=settings.no_show_scan_seconds)

    app = create_service_app(
        settings,
        title="Ping'an e-Home booking",
        routers=[router],
        subscriptions=SUBSCRIPTIONS,
        workers=[releaser],
        on_startup=[wire_booking],
        on_shutdown=[_close_context],
        **wiring,
    )

    def current_runtime() -> ServiceRuntime | None:
        return getattr(app.state, "runtime", None)

    def current_limiter() -> AdmissionLimiter | None:
        context = _context_of(app)
        return context.admission if context is not None else None

    app.add_middleware(AdmissionMiddleware, limiter=current_limiter)
    # Innermost user middleware: inside the request-context middleware (ids, logs, metrics).
    app.user_middleware.append(Middleware(BookingFastLane, runtime=current_runtime))
    return app


def _context_of(app: FastAPI) -> BookingContext | None:
    """The context once the start hook has built it; None before (and in a failed start)."""
    runtime: ServiceRuntime | None = getattr(app.state, "runtime", None)
    context = runtime.context if runtime is not None else None
    return context if isinstance(context, BookingContext) else None


def _register_admission_counters(app: FastAPI) -> None:
    """Admitted and shed requests on /metrics, registered once per app."""
    if getattr(app.state, "booking_metrics_registered", False):
        return
    app.state.booking_metrics_registered = True

    def admission() -> AdmissionLimiter:
        runtime: ServiceRuntime = app.state.runtime
        return runtime.context_as(BookingContext).admission

    app.state.metrics.register_counters(
        {
            "booking_admitted_total": lambda: float(admission().admitted_total),
            "booking_shed_total": lambda: float(admission().shed_total),
        }
    )


async def _close_context(app: FastAPI, runtime: ServiceRuntime) -> None:
    if isinstance(runtime.context, BookingContext):
        await runtime.context.aclose()
