"""Dependencies of identity routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.identity.context import IdentityContext
from shared.auth import require_roles
from shared.auth.principal import Principal, Role
from shared.web.deps import Runtime


async def get_context(runtime: Runtime) -> IdentityContext:
    # async on purpose: FastAPI runs plain-def dependencies in its thread pool.
    return runtime.state["identity"]


Context = Annotated[IdentityContext, Depends(get_context)]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
