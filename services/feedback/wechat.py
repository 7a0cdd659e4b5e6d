"""WeChat subscribe messages: the real API through httpx, or the sandbox of API.md.

The access token is the platform's one token, held by identity and read from its internal
endpoint (``GET /internal/identity/wechat-access-token``, ``X-Internal-Key``). The openid of
a user comes from identity too (``GET /internal/identity/users/{id}/wechat-openid``).
Errcodes: 0 sent; 43101 the user has not subscribed (recorded, never retried); -1 busy and
transport errors are retried by the sender with backoff; 40001/42001/40014 mean the token
went stale: it is fetched again once, at once.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx

from shared.auth.internal import internal_headers
from shared.http.client import create_http_client
from shared.logs import get_logger

log = get_logger(__name__)

Outcome = Literal["sent", "not_subscribed", "retry", "failed", "no_account"]
TOKEN_STALE = frozenset({40001, 42001, 40014})
NOT_SUBSCRIBED = 43101
BUSY = -1


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    detail: str = ""


class IdentityClient:
    """Identity's internal endpoints: the central access token (cached until shortly before
    it expires) and users' openids."""

    def __init__(self, http: httpx.AsyncClient, *, internal_key: str) -> None:
        self._http = http
        self._headers = internal_headers(internal_key, "feedback")
        self._token: tuple[str, float] | None = None

    async def access_token(self, *, refresh: bool = False) -> str:
        if not refresh and self._token is not None and self._token[1] > time.time() + 60:
            return self._token[0]
        response = await self._http.get(
            "/internal/identity/wechat-access-token", headers=self._headers
        )
        response.raise_for_status()
        body = response.json()
        expires_at = datetime.fromisoformat(body["expires_at"]).timestamp()
        self._token = (str(body["access_token"]), expires_at)
        return self._token[0]

    async def openid(self, user_id: uuid.UUID) -> str | None:
        response = await self._http.get(
            f"/internal/identity/users/{user_id}/wechat-openid", headers=self._headers
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return str(response.json()["openid"])


class WeChatSubscribeClient:
    def __init__(self, http: httpx.AsyncClient, identity: IdentityClient) -> None:
        self._http = http
        self._identity = identity

    async def send(
        self,
        *,
        user_id: uuid.UUID,
        template_id: str,
        page: str,
        data: dict[str, Any],
        state: str,
    ) -> SendResult:
        try:
            openid = await self._identity.openid(user_id)
            if openid is None:
                return SendResult("no_account", "no WeChat account for this user")
            body = {"touser": openid, "template_id": template_id, "page": page,
                    "data": data, "miniprogram_state": state, "lang": "zh_CN"}
            answer = await self._post(body, refresh=False)
            if int(answer.get("errcode", 0)) in TOKEN_STALE:
                answer = await self._post(body, refresh=True)
        except httpx.HTTPStatusError as exc:
            # Not str(exc): it quotes the request URL, access_token query string and all.
            status, path = exc.response.status_code, exc.request.url.path
            return SendResult("retry", f"HTTPStatusError: {status} from {path}"[:300])
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            return SendResult("retry", f"{type(exc).__name__}: {exc}"[:300])
        errcode = int(answer.get("errcode", 0))
        detail = f"{errcode} {answer.get('errmsg', '')}".strip()
        if errcode == 0:
            return SendResult("sent")
        if errcode == NOT_SUBSCRIBED:
            return SendResult("not_subscribed", detail)
        if errcode == BUSY or errcode in TOKEN_STALE:
            return SendResult("retry", detail)
        return SendResult("failed", detail)  # a bad template or field: retrying cannot help

    async def _post(self, body: dict[str, Any], *, refresh: bool) -> dict[str, Any]:
        token = await self._identity.access_token(refresh=refresh)
        response = await self._http.post(
            "/cgi-bin/message/subscribe/send", params={"access_token": token}, json=body
        )
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer


def build_clients(
    *, wechat_base: str, identity_base: str, internal_key: str, timeout: float
) -> tuple[WeChatSubscribeClient, list[httpx.AsyncClient]]:
    wechat_http = create_http_client(base_url=wechat_base, timeout=timeout)
    identity_http = create_http_client(base_url=identity_base, timeout=timeout)
    identity = IdentityClient(identity_http, internal_key=internal_key)
    return WeChatSubscribeClient(wechat_http, identity), [wechat_http, identity_http]
