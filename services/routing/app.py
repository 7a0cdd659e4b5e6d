"""Composition root of the routing service."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from fastapi import FastAPI

from services.routing.api import router
from services.routing.handlers import build_subscriptions
from services.routing.service import Clock, TimerScanner
from services.routing.settings import Settings
from shared.calendar import WorkingCalendar
from shared.periodic import Worker
from shared.web import create_service_app
from shared.web.runtime import ServiceRuntime


def _utc_now() -> datetime:
    return datetime.now(UTC)


def working_calendar(settings: Settings) -> WorkingCalendar:
    windows = []
    for window in settings.working_windows:
        start, _, end = window.partition("-")
        windows.append((time.fromisoformat(start.strip()), time.fromisoformat(end.strip())))
    return WorkingCalendar(windows=windows)


def create_app(settings: Settings | None = None, **wiring: Any) -> FastAPI:
    """``wiring`` passes a shared broker or token verifier (embedded mode, tests), and
    optionally ``clock`` (a callable returning an aware datetime) for tests that move time."""
    settings = settings or Settings()
    clock: Clock = wiring.pop("clock", None) or _utc_now
    calendar = working_calendar(settings)
    fractions = list(settings.reminder_fractions)
    pii = settings.pii_cipher()  # a malformed keyring fails here, not at the first note

    def context() -> dict[str, Any]:
        return {"now": clock(), "cal": calendar, "fractions": fractions}

    async def collaborators(_: FastAPI, runtime: ServiceRuntime) -> None:
        runtime.state.update(clock=clock, calendar=calendar, fractions=fractions, pii=pii)

    def scanner(runtime: ServiceRuntime) -> Worker:
        return TimerScanner(runtime, clock=clock, cal=calendar, fractions=fractions,
                            interval=settings.timer_scan_seconds, batch=settings.timer_batch_size)

    return create_service_app(
        settings,
        title="Ping'an e-Home routing",
        routers=[router],
        subscriptions=build_subscriptions(context),
        workers=[scanner] if settings.run_timer_scanner else [],
        on_startup=[collaborators],
        **wiring,
    )
