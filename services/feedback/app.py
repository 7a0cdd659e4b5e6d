"""Composition root of the feedback service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI

from services.feedback.api import router
from services.feedback.context import FeedbackContext, build_context
from services.feedback.grid_api import router as grid_router
from services.feedback.handlers import build_subscriptions, seal_of
from services.feedback.service.command import HotspotWorker
from services.feedback.service.delivery import NotificationSender
from services.feedback.service.timers import DefaultRatingWorker
from services.feedback.settings import Settings
from shared.periodic import Worker
from shared.web import create_service_app
from shared.web.runtime import ServiceRuntime


def _context_hook(
    settings: Settings,
) -> Callable[[FastAPI, ServiceRuntime], Awaitable[None]]:
    # The hook closes over the typed settings: runtime.settings is only a ServiceSettings.
    async def open_context(app: FastAPI, runtime: ServiceRuntime) -> None:
        runtime.context = build_context(settings)

    return open_context


async def _close_context(app: FastAPI, runtime: ServiceRuntime) -> None:
    if isinstance(runtime.context, FeedbackContext):
        await runtime.context.aclose()


def _sender(runtime: ServiceRuntime) -> Worker:
    ctx = runtime.context_as(FeedbackContext)
    return NotificationSender(new_uow=runtime.uow, settings=ctx.settings, client=ctx.wechat)


def _default_ratings(runtime: ServiceRuntime) -> Worker:
    ctx = runtime.context_as(FeedbackContext)
    return DefaultRatingWorker(new_uow=runtime.uow, settings=ctx.settings)


def _hotspots(runtime: ServiceRuntime) -> Worker:
    ctx = runtime.context_as(FeedbackContext)
    return HotspotWorker(new_uow=runtime.uow, settings=ctx.settings)


def create_app(settings: Settings | None = None, **wiring: Any) -> FastAPI:
    """``wiring`` passes a shared broker or token verifier (embedded mode, tests)."""
    settings = settings or Settings()
    return create_service_app(
        settings,
        title="Ping'an e-Home feedback",
        routers=[router, grid_router],
        subscriptions=build_subscriptions(seal_of(settings)),
        workers=[_sender, _default_ratings, _hotspots],
        on_startup=[_context_hook(settings)],
        on_shutdown=[_close_context],
        **wiring,
    )
