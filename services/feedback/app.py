"""Composition root of the feedback service."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.feedback.api import router
from services.feedback.handlers import SUBSCRIPTIONS
from services.feedback.settings import Settings
from shared.web import create_service_app


def create_app(settings: Settings | None = None, **wiring: Any) -> FastAPI:
    """``wiring`` passes a shared broker or token verifier (embedded mode, tests)."""
    return create_service_app(
        settings or Settings(),
        title="Ping'an e-Home feedback",
        routers=[router],
        subscriptions=SUBSCRIPTIONS,
        **wiring,
    )
