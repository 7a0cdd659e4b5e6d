"""HTTP routes of the booking service, under /api/v1/booking."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/booking", tags=["booking"])
