"""Composition root of the identity service."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.identity.api import router
from services.identity.handlers import SUBSCRIPTIONS
from services.identity.settings import Settings
from shared.web import create_service_app


def create_app(settings: Settings | None = None, **wiring: Any) -> FastAPI:
    """``wiring`` passes a shared broker or token verifier (embedded mode, tests)."""
    return create_service_app(
        settings or Settings(),
        title="Ping'an e-Home identity",
        routers=[router],
        subscriptions=SUBSCRIPTIONS,
        **wiring,
    )
