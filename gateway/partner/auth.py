"""Who is calling the open API: the HMAC signature check, nonce, rate limit and scopes.

Order matters: the app and its secrets first (401 app_unknown / app_disabled), then the
timestamp window, then the signature (any live secret: both during a rotation's overlap),
then the per-app rate limit (after the signature, so nobody can spend another app's quota),
and the nonce last (only a correctly signed call consumes it)."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request

from gateway.partner.clients import Credentials
from gateway.partner.context import PartnerContext
from gateway.partner.deps import Context
from gateway.partner.domain import Scope
from gateway.partner.signing_client import open311_api_key, signature_matches
from gateway.partner.store import claim_nonce
from gateway.ratelimit import Decision, RateLimiter
from shared.logs import get_logger
from shared.problems import Forbidden, TooManyRequests, Unauthorized
from shared.web.deps import Uow

log = get_logger(__name__)
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# Identity issues ``pk_`` + hex. Nothing else may reach its credentials path: the key is not
# covered by the signature, and "%70k_..." or "pk_.../credentials?" would name the same app
# there, each spelling a nonce space and a rate bucket of its own (a replay, a bypass).
_APP_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
# ASCII digits only ('²' is a digit to str.isdigit(), not to int()), and few enough of them.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class AppRateLimits:
    """One token bucket per app (in this replica's memory); some apps get their own rate."""

    def __init__(self, *, per_second: float, burst: int, overrides: dict[str, float]) -> None:
        self._default = RateLimiter(rate_per_second=per_second, burst=burst)
        self._own = {app: RateLimiter(rate_per_second=rate, burst=max(1, int(rate * 2)))
                     for app, rate in overrides.items()}

    def take(self, app_key: str) -> Decision:
        return self._own.get(app_key, self._default).take(app_key)


@dataclass(frozen=True)
class PartnerCaller:
    app_key: str
    credentials: Credentials

    def require_scope(self, scope: Scope) -> None:
        if scope not in self.credentials.scopes:
            raise Forbidden(f"this app lacks the scope {scope}", code="scope_denied")


def _refuse(code: str, detail: str) -> Unauthorized:
    return Unauthorized(detail, code=code)


async def authenticate(request: Request, ctx: Context, uow: Uow) -> PartnerCaller:
    window = ctx.settings.timestamp_window_seconds

    headers = request.headers
    app_key = headers.get("x-app-key", "")
    timestamp = headers.get("x-timestamp", "")
    nonce = headers.get("x-nonce", "")
    signature = headers.get("x-signature", "")
    if not (app_key and timestamp and nonce and signature):
        raise _refuse("signature_missing",
                      "X-App-Key, X-Timestamp, X-Nonce and X-Signature are required")
    if not _APP_KEY.fullmatch(app_key) or not _NONCE.match(nonce):
        raise _refuse("signature_invalid", "malformed app key or nonce")
    credentials = await ctx.identity.credentials(app_key)
    if credentials is None or credentials.app_key != app_key:
        raise _refuse("app_unknown", "no partner app has this key")
    if credentials.disabled:
        raise _refuse("app_disabled", "this partner app is disabled")
    now = ctx.now()
    if not _TIMESTAMP.fullmatch(timestamp) or abs(now.timestamp() - int(timestamp)) > window:
        raise _refuse("timestamp_out_of_window",
                      f"X-Timestamp must be within {window} s of the server clock")
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    path = raw_path.decode("latin-1").partition("?")[0]
    query = request.scope.get("query_string", b"").decode("latin-1")
    body = await request.body()
    if not any(signature_matches(secret, signature, request.method, path, query, timestamp,
                                 nonce, body)
               for secret in credentials.live_secrets(now)):
        log.info("partner_signature_invalid", app_key=app_key)
        raise _refuse("signature_invalid", "the signature does not match")
    _rate_limited(ctx, app_key)
    async with uow:
        fresh = await claim_nonce(uow, app_key=app_key, nonce=nonce,
                                  expires_at=datetime.fromtimestamp(int(timestamp), now.tzinfo)
                                  + timedelta(seconds=window))
    if not fresh:
        raise _refuse("nonce_replayed", "this nonce was already used")
    return PartnerCaller(app_key=app_key, credentials=credentials)


Partner = Annotated[PartnerCaller, Depends(authenticate)]


def _rate_limited(ctx: PartnerContext, app_key: str) -> None:
    decision = ctx.limiter.take(app_key)
    if not decision.allowed:
        raise TooManyRequests("too many requests for this app; retry later",
                              code="rate_limited",
                              headers={"Retry-After": str(decision.retry_after_seconds)})


async def authenticate_api_key(ctx: PartnerContext, api_key: str) -> PartnerCaller:
    """An Open311 caller by its ``api_key`` (``open311_api_key`` of the signing client): the
    app's key and a MAC of it under any live secret. GeoReport has no signatures, so the key
    is a bearer secret; the app's rate limit and scopes apply as on the open API. Every
    refusal is 403, as GeoReport answers a bad key."""
    app_key, _, _ = api_key.partition(".")
    if not _APP_KEY.fullmatch(app_key):
        raise Forbidden("api_key is missing or malformed", code="api_key_invalid")
    credentials = await ctx.identity.credentials(app_key)
    if credentials is None or credentials.app_key != app_key:
        raise Forbidden("no partner app has this api_key", code="api_key_invalid")
    if credentials.disabled:
        raise Forbidden("this partner app is disabled", code="app_disabled")
    if not any(hmac.compare_digest(open311_api_key(app_key, secret).encode(),
                                   api_key.encode())
               for secret in credentials.live_secrets(ctx.now())):
        log.info("open311_api_key_invalid", app_key=app_key)
        raise Forbidden("no partner app has this api_key", code="api_key_invalid")
    _rate_limited(ctx, app_key)
    return PartnerCaller(app_key=app_key, credentials=credentials)
