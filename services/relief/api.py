"""HTTP routes of the relief service, under /api/v1/relief."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/relief", tags=["relief"])
