"""Service-to-service reads of a resident (never routed by the gateway): relief's applicant
profile and feedback's WeChat openid. Both are PII answered in plaintext, so each read is
audited with the calling service as the actor."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.identity.api.deps import Context
from services.identity.schemas import ResidentProfileInternal, WeChatOpenIdRead
from services.identity.service import residents
from shared.auth.internal import InternalCaller
from shared.web.deps import Uow

router = APIRouter(prefix="/internal/identity", tags=["internal"], include_in_schema=False)


@router.get("/residents/{user_id}/profile", response_model=ResidentProfileInternal)
async def resident_profile(
    user_id: uuid.UUID, caller: InternalCaller, uow: Uow, ctx: Context
) -> ResidentProfileInternal:
    """Name, ID number, birth date, region, address and household, for relief's applications."""
    return await residents.resident_profile(uow=uow, ctx=ctx, caller=caller, user_id=user_id)


@router.get("/users/{user_id}/wechat-openid", response_model=WeChatOpenIdRead)
async def wechat_openid(user_id: uuid.UUID, caller: InternalCaller, uow: Uow, ctx: Context
                        ) -> WeChatOpenIdRead:
    """Where feedback addresses a user's subscribe messages: a resident, or a staff member
    who bound WeChat (404 ``openid_not_found`` otherwise, and for a disabled staff account)."""
    return await residents.wechat_openid(uow=uow, ctx=ctx, caller=caller, user_id=user_id)
