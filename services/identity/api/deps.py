"""Dependencies of identity routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.identity.context import IdentityContext
from shared.auth import require_roles
from shared.auth.principal import Principal, Role
from shared.web.deps import context_dependency

Context = Annotated[IdentityContext, Depends(context_dependency(IdentityContext))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
