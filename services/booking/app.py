"""Composition root of the booking service."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware

from services.booking.admission import AdmissionLimiter, AdmissionMiddleware
from services.booking.api import router
from services.booking.domain import PickupCodes
from services.booking.fastlane import BookingFastLane
from services.booking.handlers import SUBSCRIPTIONS
from services.booking.service.releases import NoShowReleaser
from services.booking.settings import Settings
from services.booking.store.claims import open_hot_pool
from shared.web import ServiceRuntime, create_service_app


def create_app(settings: Settings | None = None, **wiring: Any) -> FastAPI:
    """``wiring`` passes a shared broker or token verifier (embedded mode, tests)."""
    settings = settings or Settings()

    async def wire_booking(app: FastAPI, runtime: ServiceRuntime) -> None:
        runtime.state["admission"] = _admission_limiter(settings)
        runtime.state["hot_pool"] = await open_hot_pool(
            settings.database_url,
            schema=runtime.database.schema,
            size=settings.hot_pool_size,
            application_name="ehome-booking-hot",
            plan_cache_mode=runtime.database.plan_cache_mode,
        )
        runtime.state["pickup_codes"] = PickupCodes(settings.pickup_code_secret)
        runtime.state["stripes_per_slot"] = settings.stripes_per_slot
        _register_admission_counters(app)

    def no_show_releaser(runtime: ServiceRuntime) -> NoShowReleaser:
        return NoShowReleaser(runtime, period_seconds=settings.no_show_scan_seconds)

    app = create_service_app(
        settings,
        title="Ping'an e-Home booking",
        routers=[router],
        subscriptions=SUBSCRIPTIONS,
        workers=[no_show_releaser],
        on_startup=[wire_booking],
        on_shutdown=[_close_hot_pool],
        **wiring,
    )

    def current_limiter() -> AdmissionLimiter | None:
        runtime = getattr(app.state, "runtime", None)
        return runtime.state.get("admission") if runtime is not None else None

    def current_runtime() -> ServiceRuntime | None:
        return getattr(app.state, "runtime", None)

    app.add_middleware(AdmissionMiddleware, limiter=current_limiter)
    # Innermost user middleware: inside the request-context middleware (ids, logs, metrics).
    app.user_middleware.append(Middleware(BookingFastLane, runtime=current_runtime))
    return app


def _admission_limiter(settings: Settings) -> AdmissionLimiter:
    """Admission for the hot path: as many at once as the hot pool has connections, unless
    configured otherwise."""
    return AdmissionLimiter(
        concurrency=settings.admission_concurrency or settings.hot_pool_size,
        queue=settings.admission_queue,
        wait_seconds=settings.admission_wait_seconds,
        retry_after_seconds=settings.retry_after_seconds,
    )


def _register_admission_counters(app: FastAPI) -> None:
    """Admitted and shed requests on /metrics, registered once per app."""
    if getattr(app.state, "booking_metrics_registered", False):
        return
    app.state.booking_metrics_registered = True
    app.state.metrics.register_counters(
        {
            "booking_admitted_total": lambda: float(
                app.state.runtime.state["admission"].admitted_total
            ),
            "booking_shed_total": lambda: float(app.state.runtime.state["admission"].shed_total),
        }
    )


async def _close_hot_pool(app: FastAPI, runtime: ServiceRuntime) -> None:
    pool = runtime.state.pop("hot_pool", None)
    if pool is not None:
        await pool.close()
