"""HTTP routes of the routing service, under /api/v1/routing."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/routing", tags=["routing"])
