"""HTTP routes of the feedback service, under /api/v1/feedback."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/feedback", tags=["feedback"])
