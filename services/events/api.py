"""HTTP routes of the events service, under /api/v1/events."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/events", tags=["events"])
