"""Internal endpoints the gateway's partner app calls (never routed by the gateway).

A partner app (芗里芗亲...) names its user by ID number or phone. Identity matches the
number through its blind index (no plaintext leaves identity, none is logged) and then signs
a short-lived on-behalf access token: kind "partner", role resident, the user's verified flag,
and ``ext.partner_app`` so the events service records the channel. Kept in one small module
(schemas and the two routes) because nothing else in identity uses them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.identity import domain
from services.identity.api.deps import Context
from services.identity.service.accounts import ID_NUMBER, PHONE
from services.identity.store import accounts as account_store
from services.identity.store import partners as partner_store
from shared.auth.internal import InternalCaller
from shared.logs import get_logger
from shared.problems import Gone, NotFound, RuleViolation
from shared.web.deps import Uow

log = get_logger(__name__)

# An on-behalf token lives just long enough for the call it is minted for (and a retry).
PARTNER_TOKEN_TTL_SECONDS = 300


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResidentMatch(_Schema):
    id_number: str | None = Field(None, max_length=32)
    phone: str | None = Field(None, max_length=20)

    @model_validator(mode="after")
    def _exactly_one(self) -> ResidentMatch:
        if (self.id_number is None) == (self.phone is None):
            raise ValueError("give exactly one of id_number or phone")
        return self


class ResidentMatched(_Schema):
    user_id: uuid.UUID
    verified: bool


class PartnerTokenRequest(_Schema):
    app_key: str = Field(min_length=1, max_length=64)
    user_id: uuid.UUID


class PartnerToken(_Schema):
    access_token: str
    expires_at: datetime


def _not_matched() -> NotFound:
    return NotFound("no resident matches", code="resident_not_matched")


async def match_resident(body: ResidentMatch, caller: InternalCaller, uow: Uow,
                         ctx: Context) -> ResidentMatched:
    """A verified ID number matches its one verified account; a phone matches when exactly
    one active resident account carries it."""
    id_index = phone_index = None
    try:
        if body.id_number is not None:
            value = domain.parse_id_number(body.id_number, today=ctx.today()).value
            id_index = ctx.pii.blind_index(value, context=ID_NUMBER)
        else:
            phone_index = ctx.pii.blind_index(domain.parse_phone(body.phone or ""),
                                              context=PHONE)
    except RuleViolation:
        raise _not_matched() from None  # a malformed number matches nobody
    async with uow:
        rows = await account_store.match_active_residents(
            uow, id_number_index=id_index, phone_index=phone_index)
    if len(rows) != 1:
        raise _not_matched()
    log.info("resident_matched_for_partner", caller=caller, by="id_number"
             if body.id_number is not None else "phone")
    return ResidentMatched(user_id=rows[0]["id"], verified=rows[0]["verified"])


async def partner_token(body: PartnerTokenRequest, caller: InternalCaller, uow: Uow,
                        ctx: Context) -> PartnerToken:
    async with uow:
        app = await partner_store.find_by_key(uow, body.app_key)
        user = await account_store.get_user(uow, body.user_id)
    if app is None:
        raise NotFound("no such partner app", code="partner_not_found")
    if app["disabled_at"] is not None:
        raise Gone("this partner app is disabled", code="partner_disabled")
    if user is None or user["kind"] != "resident" or user["disabled"]:
        raise _not_matched()
    now = datetime.now(UTC)
    token = ctx.signer.access_token(
        subject=user["id"], roles=["resident"], verified=bool(user["verified"]),
        kind="partner", ttl_seconds=PARTNER_TOKEN_TTL_SECONDS,
        now=now.timestamp(), extra={"partner_app": body.app_key},
    )
    log.info("partner_token_issued", caller=caller, app_key=body.app_key)
    return PartnerToken(access_token=token,
                        expires_at=now + timedelta(seconds=PARTNER_TOKEN_TTL_SECONDS))
