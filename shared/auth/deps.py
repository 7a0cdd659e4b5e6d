"""FastAPI dependencies: the caller's principal and role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from shared.auth.principal import Principal
from shared.auth.tokens import ENDORSEMENT_HEADER, TokenVerifier
from shared.problems import Unauthorized


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("expected 'Authorization: Bearer <token>'", code="token_invalid")
    return token.strip()


async def get_optional_principal(request: Request) -> Principal | None:
    token = bearer_token(request)
    if token is None:
        return None
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify_async(token, request.headers.get(ENDORSEMENT_HEADER))
    request.state.principal = principal
    return principal


async def get_principal(request: Request) -> Principal:
    principal = await get_optional_principal(request)
    if principal is None:
        raise Unauthorized("authentication required", code="token_missing")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency factory: ``Annotated[Principal, Depends(require_roles("admin"))]``."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        principal.require_role(*roles)
        return principal

    return dependency
