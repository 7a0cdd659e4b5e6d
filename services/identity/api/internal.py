"""Service-to-service endpoints (never routed by the gateway)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from services.identity.api import partner_internal
from services.identity.api.deps import Context
from services.identity.schemas import PartnerCredentialsInternal, WeChatAccessTokenRead
from services.identity.service import partners
from services.identity.service import revocations as revocation_service
from shared.auth.internal import InternalCaller
from shared.auth.revocations import FEED_PATH
from shared.logs import get_logger
from shared.web.deps import Uow

log = get_logger(__name__)
router = APIRouter(prefix="/internal/identity", tags=["internal"], include_in_schema=False)


@router.get("/wechat-access-token", response_model=WeChatAccessTokenRead)
async def wechat_access_token(caller: InternalCaller, ctx: Context) -> WeChatAccessTokenRead:
    """The one WeChat access token of the platform (feedback sends subscribe messages)."""
    token = await ctx.wechat.access_token()
    log.info("wechat_access_token_shared", caller=caller)
    return WeChatAccessTokenRead(
        access_token=token.value, expires_at=datetime.fromtimestamp(token.expires_at, UTC)
    )


@router.get("/partners/{app_key}/credentials", response_model=PartnerCredentialsInternal)
async def partner_credentials(
    app_key: str, caller: InternalCaller, uow: Uow, ctx: Context
) -> PartnerCredentialsInternal:
    """The gateway's view of a partner app: status, scopes and every still-valid secret."""
    return await partners.credentials(uow=uow, ctx=ctx, app_key=app_key)


@router.get(FEED_PATH.removeprefix("/internal/identity"))
async def revocations(caller: InternalCaller, uow: Uow, since: str | None = None
                      ) -> dict[str, Any]:
    """Revoked access tokens still in force, recorded since ``since`` (the ``cursor`` of the
    previous answer; omitted: all of them). Every verifier polls this every second or so
    (shared/auth/revocations.py)."""
    batch = await revocation_service.feed(uow, since)
    return {"cursor": batch.cursor, "revocations": [
        {"kind": r.kind, "key": r.key,
         "not_before": datetime.fromtimestamp(r.not_before, UTC).isoformat(),
         "expires_at": datetime.fromtimestamp(r.expires_at, UTC).isoformat()}
        for r in batch.revocations]}


# The gateway's partner app: match a partner's user, then act for them (partner_internal.py).
router.add_api_route(
    "/residents/match", partner_internal.match_resident, methods=["POST"],
    response_model=partner_internal.ResidentMatched,
)
router.add_api_route(
    "/partner-tokens", partner_internal.partner_token, methods=["POST"], status_code=201,
    response_model=partner_internal.PartnerToken,
)
