"""HTTP routes of the routing service, under /api/v1/routing."""

from __future__ import annotations

from fastapi import APIRouter

from . import cases, directory, duty, subtasks, supervision, workforce

router = APIRouter(prefix="/api/v1/routing", tags=["routing"])
# In this order: the order the routes are matched and listed in the OpenAPI document.
for part in (directory, cases, subtasks, supervision, workforce, duty):
    router.include_router(part.router)
