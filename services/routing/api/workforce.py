"""Grid workers' workforce routes (网格员), under /api/v1/routing."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
