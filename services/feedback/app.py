"""Composition root of the feedback service."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.feedback.api import router
from services.feedback.handlers import build_subscriptions, seal_of
from services.feedback.service.command import HotspotWorker
from services.feedback.service.delivery import NotificationSender
from services.feedback.service.timers import DefaultRatingWorker
from services.feedback.settings import Settings
from services.feedback.wechat import build_clients
from shared.logs import get_logger
from shared.periodic import Worker
from shared.web import create_service_app
from shared.web.runtime import ServiceRuntime

log = get_logger(__name__)


async def _open_clients(app: FastAPI, runtime: ServiceRuntime) -> None:
    settings: Settings = runtime.settings  # type: ignore[assignment]
    if settings.wechat_api_base:
        client, closables = build_clients(
            wechat_base=settings.wechat_api_base,
            identity_base=settings.identity_base_url,
            internal_key=settings.internal_api_key,
            timeout=settings.wechat_timeout_seconds,
        )
        runtime.state["wechat"], runtime.state["closables"] = client, closables
    else:
        runtime.state["wechat"], runtime.state["closables"] = None, []
        log.warning("wechat_sandbox", detail="EHOME_WECHAT_API_BASE unset: WeChat sandbox "
                    "in use; subscribe messages are recorded in wechat_sandbox_messages, "
                    "not sent")


async def _close_clients(app: FastAPI, runtime: ServiceRuntime) -> None:
    for client in runtime.state.get("closables", []):
        await client.aclose()


def _sender(runtime: ServiceRuntime) -> Worker:
    sender = NotificationSender(
        new_uow=runtime.uow, settings=runtime.settings,  # type: ignore[arg-type]
        client=runtime.state.get("wechat"),
    )
    runtime.state["sender"] = sender
    return sender


def _default_ratings(runtime: ServiceRuntime) -> Worker:
    worker = DefaultRatingWorker(new_uow=runtime.uow, settings=runtime.settings)  # type: ignore[arg-type]
    runtime.state["default_ratings"] = worker
    return worker


def _hotspots(runtime: ServiceRuntime) -> Worker:
    worker = HotspotWorker(new_uow=runtime.uow, settings=runtime.settings)  # type: ignore[arg-type]
    runtime.state["hotspots"] = worker
    return worker


def create_app(settings: Settings | None = None, **wiring: Any) -> FastAPI:
    """``wiring`` passes a shared broker or token verifier (embedded mode, tests)."""
    settings = settings or Settings()
    return create_service_app(
        settings,
        title="Ping'an e-Home feedback",
        routers=[router],
        subscriptions=build_subscriptions(seal_of(settings)),
        workers=[_sender, _default_ratings, _hotspots],
        on_startup=[_open_clients],
        on_shutdown=[_close_clients],
        **wiring,
    )
