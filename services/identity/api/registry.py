"""Population registry (人口录入) and region statistics."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/identity", tags=["identity registry"])
