"""WeChat server API as identity uses it: ``jscode2session``, ``stable_token``,
``getuserphonenumber`` and the 公众号's web authorisation (``connect/oauth2/authorize``, then
``sns/oauth2/access_token``). :class:`HttpWeChat` talks to the configured base URL;
:class:`SandboxWeChat` answers as API.md's sandbox when none is configured.

The access token is cached here, once per process, refreshed before it expires with one
refresh in flight. ``stable_token`` (not ``token``) is used on purpose: with
``force_refresh=false`` every replica asking gets the same token, so replicas do not
invalidate each other's copies.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
import orjson

from shared.http.client import create_http_client
from shared.logs import get_logger
from shared.problems import AppError, BadRequest, Forbidden, ServiceUnavailable, TooManyRequests

log = get_logger(__name__)
# httpx logs every request URL at INFO (httpcore its traffic at DEBUG); jscode2session URLs
# carry the app secret and the user's login code, phone answers carry the number.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)

BUSY, RATE_LIMITED, CODE_INVALID, USER_BLOCKED = -1, 45011, 40029, 40226
TOKEN_INVALID, TOKEN_EXPIRED = 40001, 42001
RETRYABLE = {BUSY, RATE_LIMITED}
SANDBOX_LOGIN_PREFIX = "sandbox:"
SANDBOX_PHONE_PREFIX = "sandbox-phone:"
# The platform's own stand-in for WeChat's authorisation page (api/wechat_web.py).
SANDBOX_AUTHORIZE_PATH = "/api/v1/identity/wechat-web/sandbox"


@dataclass(frozen=True)
class WeChatSession:
    openid: str
    session_key: str
    unionid: str | None = None

    def __repr__(self) -> str:  # the session key must not end up in logs or tracebacks
        return f"WeChatSession(openid={self.openid!r}, unionid={self.unionid!r})"


@dataclass(frozen=True)
class WebAuthorisation:
    """Who a 公众号 web authorisation code belongs to. The user's OAuth access token that
    comes with it is not kept: ``snsapi_base`` needs nothing more than the ids."""

    openid: str
    unionid: str | None = None


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_at: float  # epoch seconds

    def __repr__(self) -> str:
        return f"AccessToken(expires_at={self.expires_at})"


class WeChatError(Exception):
    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"wechat errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


def login_problem(error: WeChatError) -> AppError:
    """What a caller of wechat-login sees for a WeChat error code."""
    if error.errcode == CODE_INVALID:
        return BadRequest("the login code is invalid or already used", code="wechat_code_invalid")
    if error.errcode == USER_BLOCKED:
        return Forbidden("WeChat has blocked this user", code="wechat_user_blocked")
    if error.errcode == RATE_LIMITED:
        return TooManyRequests("WeChat is rate limiting logins", code="wechat_rate_limited",
                               headers={"Retry-After": "5"})
    if error.errcode == BUSY:
        return ServiceUnavailable("WeChat is busy, try again", code="wechat_busy")
    return ServiceUnavailable(f"WeChat answered errcode {error.errcode}", code="wechat_error")


def phone_problem(error: WeChatError) -> AppError:
    if error.errcode == CODE_INVALID:
        return BadRequest("the phone code is invalid or already used", code="phone_code_invalid")
    return login_problem(error)


class WeChat(Protocol):
    is_sandbox: bool

    async def code_to_session(self, code: str) -> WeChatSession: ...

    async def access_token(self) -> AccessToken: ...

    async def phone_number(self, code: str) -> str: ...

    def web_authorize_url(self, redirect_uri: str, state: str) -> str: ...

    async def web_authorisation(self, code: str) -> WebAuthorisation: ...

    async def aclose(self) -> None: ...


class TokenCache:
    """Holds the access token; refreshes ``margin`` seconds before expiry, single-flight."""

    def __init__(self, fetch: Any, *, margin_seconds: float) -> None:
        self._fetch = fetch
        self._margin = margin_seconds
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()
        self.refreshes = 0

    def _fresh(self, token: AccessToken | None) -> bool:
        return token is not None and token.expires_at - self._margin > time.time()

    async def get(self, *, force: bool = False, stale: AccessToken | None = None) -> AccessToken:
        if not force and self._fresh(self._token):
            assert self._token is not None
            return self._token
        async with self._lock:
            # Another caller may have refreshed while we waited for the lock.
            current = self._token
            if current is not None and current is not stale and self._fresh(current):
                return current
            self._token = await self._fetch(force)
            self.refreshes += 1
            return self._token


@dataclass(frozen=True)
class WebApp:
    """The 公众号 whose pages residents sign in from: its own appid and secret (not the
    mini-program's), and where its authorisation page is."""

    app_id: str
    app_secret: str
    authorize_url: str = "https://open.weixin.qq.com/connect/oauth2/authorize"

    def __repr__(self) -> str:  # the secret must not end up in logs or tracebacks
        return f"WebApp(app_id={self.app_id!r}, authorize_url={self.authorize_url!r})"


class HttpWeChat:
    is_sandbox = False

    def __init__(
        self,
        *,
        base_url: str,
        app_id: str,
        app_secret: str,
        retries: int = 3,
        backoff_seconds: float = 0.2,
        timeout_seconds: float = 5.0,
        token_margin_seconds: float = 300,
        web: WebApp | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = create_http_client(
            base_url=base_url.rstrip("/"), timeout=timeout_seconds, transport=transport
        )
        self._app_id = app_id
        self._secret = app_secret
        self._retries = retries
        self._backoff = backoff_seconds
        self._web = web or WebApp(app_id=app_id, app_secret=app_secret)
        self.tokens = TokenCache(self._fetch_token, margin_seconds=token_margin_seconds)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One WeChat call with retries on busy / rate limit / transport failures."""
        attempt = 0
        while True:
            try:
                response = await self._http.request(method, path, **kwargs)
                response.raise_for_status()
                # WeChat often answers JSON as text/plain.
                body: dict[str, Any] = orjson.loads(response.content)
                errcode = int(body.get("errcode") or 0)
                if errcode == 0:
                    return body
                error = WeChatError(errcode, str(body.get("errmsg", "")))
                if errcode not in RETRYABLE or attempt >= self._retries:
                    raise error
                log.warning("wechat_retry", path=path, errcode=errcode, attempt=attempt + 1)
            except (httpx.TransportError, httpx.HTTPStatusError, orjson.JSONDecodeError) as exc:
                if attempt >= self._retries:
                    raise ServiceUnavailable(
                        "WeChat cannot be reached", code="wechat_unavailable"
                    ) from exc
                log.warning("wechat_retry", path=path, error=type(exc).__name__,
                            attempt=attempt + 1)
            await asyncio.sleep(self._backoff * (2**attempt))
            attempt += 1

    async def code_to_session(self, code: str) -> WeChatSession:
        body = await self._call(
            "GET",
            "/sns/jscode2session",
            params={
                "appid": self._app_id,
                "secret": self._secret,
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )
        openid, session_key = body.get("openid"), body.get("session_key")
        if not openid or not session_key:
            raise ServiceUnavailable("WeChat answered without an openid", code="wechat_error")
        return WeChatSession(str(openid), str(session_key), body.get("unionid") or None)

    def web_authorize_url(self, redirect_uri: str, state: str) -> str:
        query = urlencode({"appid": self._web.app_id, "redirect_uri": redirect_uri,
                           "response_type": "code", "scope": "snsapi_base", "state": state})
        return f"{self._web.authorize_url}?{query}#wechat_redirect"

    async def web_authorisation(self, code: str) -> WebAuthorisation:
        body = await self._call(
            "GET",
            "/sns/oauth2/access_token",
            params={"appid": self._web.app_id, "secret": self._web.app_secret, "code": code,
                    "grant_type": "authorization_code"},
        )
        if not body.get("openid"):
            raise ServiceUnavailable("WeChat answered without an openid", code="wechat_error")
        return WebAuthorisation(str(body["openid"]), body.get("unionid") or None)

    async def _fetch_token(self, force: bool) -> AccessToken:
        body = await self._call(
            "POST",
            "/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self._app_id,
                "secret": self._secret,
                "force_refresh": force,
            },
        )
        expires_in = min(int(body.get("expires_in", 7200)), 7200)
        return AccessToken(str(body["access_token"]), time.time() + expires_in)

    async def access_token(self) -> AccessToken:
        return await self.tokens.get()

    async def phone_number(self, code: str) -> str:
        token = await self.tokens.get()
        for attempt in range(2):
            try:
                body = await self._call(
                    "POST",
                    "/wxa/business/getuserphonenumber",
                    params={"access_token": token.value},
                    json={"code": code},
                )
            except WeChatError as error:
                # Our copy was invalidated elsewhere (a forced refresh): fetch once more.
                if error.errcode in (TOKEN_INVALID, TOKEN_EXPIRED) and attempt == 0:
                    token = await self.tokens.get(force=True, stale=token)
                    continue
                raise
            info = body.get("phone_info") or {}
            phone = info.get("purePhoneNumber") or info.get("phoneNumber")
            if not phone:
                raise ServiceUnavailable("WeChat answered without a phone", code="wechat_error")
            return str(phone)
        raise ServiceUnavailable("WeChat rejected a fresh access token", code="wechat_error")


class SandboxWeChat:
    """API.md's stand-in: ``sandbox:<openid>`` logs in as that openid, anything else is
    errcode 40029; phone code ``sandbox-phone:<11 digits>`` yields that number. Web
    authorisation goes through the platform's own sandbox page (SANDBOX_AUTHORIZE_PATH),
    and its code ``sandbox:<openid>`` is the same person as the mini-program's: both answer
    the unionid ``sandbox:<openid>``."""

    is_sandbox = True

    def __init__(self) -> None:
        self._token = AccessToken(f"sandbox-{secrets.token_hex(8)}", time.time() + 7200)

    async def aclose(self) -> None:
        return None

    async def code_to_session(self, code: str) -> WeChatSession:
        openid = _sandbox_openid(code)
        return WeChatSession(openid=openid, session_key=secrets.token_urlsafe(16),
                             unionid=SANDBOX_LOGIN_PREFIX + openid)

    def web_authorize_url(self, redirect_uri: str, state: str) -> str:
        query = urlencode({"redirect_uri": redirect_uri, "state": state})
        return f"{SANDBOX_AUTHORIZE_PATH}?{query}"

    async def web_authorisation(self, code: str) -> WebAuthorisation:
        openid = _sandbox_openid(code)
        return WebAuthorisation(openid=openid, unionid=SANDBOX_LOGIN_PREFIX + openid)

    async def access_token(self) -> AccessToken:
        return self._token

    async def phone_number(self, code: str) -> str:
        digits = code.removeprefix(SANDBOX_PHONE_PREFIX)
        if not code.startswith(SANDBOX_PHONE_PREFIX) or not (len(digits) == 11
                                                            and digits.isdigit()):
            raise WeChatError(CODE_INVALID, "invalid code (sandbox)")
        return digits


def _sandbox_openid(code: str) -> str:
    openid = code.removeprefix(SANDBOX_LOGIN_PREFIX)
    if not code.startswith(SANDBOX_LOGIN_PREFIX) or not openid:
        raise WeChatError(CODE_INVALID, "invalid code (sandbox)")
    return openid
