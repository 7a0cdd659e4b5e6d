"""Resident and staff login, tokens, the caller's own account, phone and verification."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from services.identity.api.deps import Context, Resident, Staff
from services.identity.schemas import (
    PhoneBind,
    RefreshRequest,
    StaffLogin,
    StaffWeChatBind,
    TokenPair,
    UserRead,
    VerificationCreate,
    VerificationRead,
    WeChatLogin,
)
from services.identity.service import accounts, staff_wechat, verification
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


STAFF_WECHAT = "/staff/me/wechat"
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@router.post(STAFF_WECHAT, response_model=UserRead, responses={
    400: {"description": "`wechat_code_invalid`", **_PROBLEM},
    403: {"description": "`staff_only`: not a staff account; `wechat_user_blocked`", **_PROBLEM},
    409: {"description": "`wechat_taken`: another staff account bound this WeChat", **_PROBLEM},
    503: {"description": "`wechat_busy`, `wechat_unavailable`, `wechat_error`", **_PROBLEM}})
async def bind_staff_wechat(body: StaffWeChatBind, staff: Staff, uow: Uow, ctx: Context
                            ) -> UserRead:
    """Bind the caller's WeChat (``code`` from wx.login): their staff notices then also go
    there as subscribe messages. Binding the same WeChat again changes nothing."""
    return await staff_wechat.bind_wechat(uow=uow, ctx=ctx, staff_id=staff.subject,
                                          code=body.code)


@router.delete(STAFF_WECHAT, status_code=204, responses={
    403: {"description": "`staff_only`: not a staff account", **_PROBLEM}})
async def unbind_staff_wechat(staff: Staff, uow: Uow, ctx: Context) -> Response:
    """Stop sending the caller's staff notices to WeChat (the in-app inbox stays)."""
    await staff_wechat.unbind_wechat(uow=uow, ctx=ctx, staff_id=staff.subject)
    return Response(status_code=204)


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
