"""A local stand-in HTTP server for WeChat's subscribe-message API and identity's internal
endpoints (access token, openids). Behaviour per openid is scripted by the test."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

INTERNAL_KEY = "test-internal-key"


@dataclass
class StandIn:
    openids: dict[str, str] = field(default_factory=dict)  # user id → openid
    # openid → errcodes to answer in turn (the last one repeats)
    script: dict[str, list[int]] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    calls: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    token_fetches: int = 0
    stale_tokens: set[str] = field(default_factory=set)
    # openids whose sends WeChat's gateway answers with an HTTP error, not a JSON errcode
    gateway_errors: set[str] = field(default_factory=set)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    @property
    def current_token(self) -> str:
        return f"token-{self.token_fetches}"

    async def _token(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Internal-Key") != INTERNAL_KEY:
            return web.json_response({"code": "internal_key_invalid"}, status=401)
        self.token_fetches += 1
        expires = datetime.now(UTC) + timedelta(hours=2)
        return web.json_response({"access_token": self.current_token,
                                  "expires_at": expires.isoformat()})

    async def _openid(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Internal-Key") != INTERNAL_KEY:
            return web.json_response({"code": "internal_key_invalid"}, status=401)
        openid = self.openids.get(request.match_info["user_id"])
        if openid is None:
            return web.json_response({"code": "not_found"}, status=404)
        return web.json_response({"openid": openid})

    async def _send(self, request: web.Request) -> web.Response:
        token = request.query.get("access_token", "")
        if token in self.stale_tokens:
            self.stale_tokens.discard(token)
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        body = await request.json()
        openid = body["touser"]
        self.calls[openid] += 1
        if openid in self.gateway_errors:
            return web.Response(status=502, text="bad gateway")
        script = self.script.get(openid, [0])
        errcode = script.pop(0) if len(script) > 1 else script[0]
        if errcode == 0:
            self.sent.append(body)
        return web.json_response({"errcode": errcode, "errmsg": "scripted"})

    async def start(self) -> StandIn:
        app = web.Application()
        app.router.add_get("/internal/identity/wechat-access-token", self._token)
        app.router.add_get("/internal/identity/users/{user_id}/wechat-openid", self._openid)
        app.router.add_post("/cgi-bin/message/subscribe/send", self._send)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # started above
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def user(self, openid: str, script: list[int] | None = None) -> uuid.UUID:
        user_id = uuid.uuid4()
        self.openids[str(user_id)] = openid
        if script is not None:
            self.script[openid] = list(script)
        return user_id
