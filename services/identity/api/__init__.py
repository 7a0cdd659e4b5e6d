"""HTTP routes of the identity service: public ones under /api/v1/identity, service-to-service
ones under /internal/identity."""

from __future__ import annotations

from fastapi import APIRouter

from services.identity.api import (
    accounts,
    admin,
    grid,
    internal,
    internal_residents,
    registry,
    wechat_web,
)

router = APIRouter()
router.include_router(accounts.router)
router.include_router(wechat_web.router)
router.include_router(admin.router)
router.include_router(grid.router)
router.include_router(registry.router)
router.include_router(internal.router)
router.include_router(internal_residents.router)
