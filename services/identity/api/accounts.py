"""Resident and staff login, tokens, the caller's own account, phone and verification."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from services.identity.api.deps import Context, Resident
from services.identity.schemas import (
    PhoneBind,
    RefreshRequest,
    StaffLogin,
    TokenPair,
    UserRead,
    VerificationCreate,
    VerificationRead,
    WeChatLogin,
)
from services.identity.service import accounts, verification
from shared.auth import CurrentPrincipal
from shared.auth.tokens import key_id, public_jwk
from shared.web.deps import Uow

router = APIRouter(prefix="/api/v1/identity", tags=["identity"])


@router.post("/wechat-login", response_model=TokenPair)
async def wechat_login(body: WeChatLogin, uow: Uow, ctx: Context) -> TokenPair:
    """Exchange a mini-program login code; the first login creates the account."""
    return await accounts.wechat_login(uow=uow, ctx=ctx, code=body.code)


@router.post("/staff-login", response_model=TokenPair)
async def staff_login(body: StaffLogin, uow: Uow, ctx: Context) -> TokenPair:
    return await accounts.staff_login(
        uow=uow, ctx=ctx, username=body.username, password=body.password
    )


@router.post("/refresh", response_model=TokenPair)
async def refresh(body: RefreshRequest, uow: Uow, ctx: Context) -> TokenPair:
    """Rotate a refresh token. Presenting an already-rotated one revokes the whole family."""
    return await accounts.refresh(uow=uow, ctx=ctx, refresh_token=body.refresh_token)


@router.post("/logout", status_code=204)
async def logout(body: RefreshRequest, uow: Uow, ctx: Context, principal: CurrentPrincipal
                 ) -> Response:
    """End this login: its refresh token, and its access tokens everywhere within seconds."""
    await accounts.logout(uow=uow, ctx=ctx, refresh_token=body.refresh_token,
                          user_id=principal.subject)
    return Response(status_code=204)


@router.get("/jwks")
async def jwks(ctx: Context) -> dict[str, Any]:
    """Public keys that verify access tokens (gateway and every service read this): the
    current signing key, and during a rotation the previous ones from EHOME_JWT_PUBLIC_KEYS."""
    keys = {ctx.signer.key.kid: public_jwk(ctx.signer.key.public_key)}
    for extra in ctx.extra_public_keys:
        keys.setdefault(key_id(extra), public_jwk(extra))
    return {"keys": list(keys.values())}


@router.get("/me", response_model=UserRead)
async def me(principal: CurrentPrincipal, uow: Uow, ctx: Context) -> UserRead:
    return await accounts.get_me(uow=uow, ctx=ctx, user_id=principal.subject)


@router.post("/me/phone", response_model=UserRead)
async def bind_phone(body: PhoneBind, resident: Resident, uow: Uow, ctx: Context) -> UserRead:
    return await accounts.bind_phone(uow=uow, ctx=ctx, user_id=resident.subject, code=body.code)


@router.post("/me/verification", response_model=VerificationRead)
async def verify_me(
    body: VerificationCreate, resident: Resident, uow: Uow, ctx: Context
) -> VerificationRead:
    """Real-name verification. A verified answer carries a fresh token pair (``tokens``) whose
    access token says verified; a provider timeout answers ``pending`` (retried later) with
    ``refresh_required``: refresh once GET /me/verification says verified."""
    return await verification.request_verification(
        uow=uow, ctx=ctx, user_id=resident.subject, name=body.name, id_number=body.id_number,
        session_id=resident.session_id,
    )


@router.get("/me/verification", response_model=VerificationRead)
async def my_verification(principal: CurrentPrincipal, uow: Uow) -> VerificationRead:
    """The latest verification; ``refresh_required`` when the caller's token predates it."""
    return await verification.latest_status(uow=uow, user_id=principal.subject,
                                            token_verified=principal.verified)
