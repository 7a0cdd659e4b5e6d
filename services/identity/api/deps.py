"""Dependencies of identity routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from services.identity.context import IdentityContext
from shared.auth import CurrentPrincipal, require_roles
from shared.auth.principal import Principal, Role
from shared.problems import Forbidden
from shared.web.deps import context_dependency

Context = Annotated[IdentityContext, Depends(context_dependency(IdentityContext))]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


async def get_resident(principal: CurrentPrincipal) -> Principal:
    """The caller, who must be a resident (phone binding, real-name verification)."""
    if principal.kind != "resident":
        raise Forbidden("this is for residents' own accounts", code="residents_only")
    return principal


Resident = Annotated[Principal, Depends(get_resident)]


async def get_staff(principal: CurrentPrincipal) -> Principal:
    """The caller, who must be a staff member (their own WeChat binding)."""
    if principal.kind != "staff":
        raise Forbidden("this is for staff accounts", code="staff_only")
    return principal


Staff = Annotated[Principal, Depends(get_staff)]


@dataclass(frozen=True)
class PageQuery:
    """A list's ``limit`` and ``cursor`` query parameters (docs API.md)."""

    limit: int
    cursor: str | None


async def get_page_query(
    limit: Annotated[int, Query(ge=1, le=200)] = 50, cursor: str | None = None
) -> PageQuery:
    return PageQuery(limit=limit, cursor=cursor)


Page = Annotated[PageQuery, Depends(get_page_query)]
