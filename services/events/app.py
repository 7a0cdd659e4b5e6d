"""Composition root of the events service."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.events.api import router
from services.events.handlers import SUBSCRIPTIONS
from services.events.settings import Settings
from shared.web import create_service_app


def create_app(settings: Settings | None = None, **wiring: Any) -> FastAPI:
    """``wiring`` passes a shared broker or token verifier (embedded mode, tests)."""
    return create_service_app(
        settings or Settings(),
        title="Ping'an e-Home events",
        routers=[router],
        subscriptions=SUBSCRIPTIONS,
        **wiring,
    )
