"""Composition root of the booking service."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.booking.api import router
from services.booking.handlers import SUBSCRIPTIONS
from services.booking.settings import Settings
from shared.web import create_service_app


def create_app(settings: Settings | None = None, **wiring: Any) -> FastAPI:
    """``wiring`` passes a shared broker or token verifier (embedded mode, tests)."""
    return create_service_app(
        settings or Settings(),
        title="Ping'an e-Home booking",
        routers=[router],
        subscriptions=SUBSCRIPTIONS,
        **wiring,
    )
