"""HTTP routes of the identity service, under /api/v1/identity."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/identity", tags=["identity"])
