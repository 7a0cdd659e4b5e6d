"""Identity test kit: the app built by its real factory, a local WeChat stand-in server
(aiohttp on 127.0.0.1, random port) reached through the real HTTP client, and helpers."""

from __future__ import annotations

import html
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from fastapi import FastAPI

from services.identity.app import create_app
from services.identity.domain import check_digit
from services.identity.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.testing.plugin import Migrator

ADMIN_PASSWORD = "bootstrap-admin-password-for-tests"


def make_id_number(region: str = "350623", born: date = date(1990, 1, 1), seq: int = 123,
                   male: bool = True) -> str:
    """A checksum-valid resident ID number."""
    seq_digits = f"{seq:03d}"
    odd = int(seq_digits[-1]) % 2 == 1
    if odd != male:
        seq_digits = seq_digits[:2] + str((int(seq_digits[-1]) + 1) % 10)
    first17 = f"{region}{born:%Y%m%d}{seq_digits}"
    return first17 + check_digit(first17)


def unique_id_number(region: str = "350623", male: bool = True,
                     born_in: int | None = None) -> str:
    """A checksum-valid ID number no other test will draw (about 1 in 8 million for any
    two); ``born_in`` fixes the year of birth (an adult, a minor) and keeps that odds at
    1 in 168,000: a fixed date would leave 500 numbers per sex, and the tests' households
    met each other's in the registry."""
    n = uuid.uuid4().int
    year = 1950 + n % 50 if born_in is None else born_in
    born = date(year, 1 + (n >> 8) % 12, 1 + (n >> 16) % 28)
    return make_id_number(region, born, seq=(n >> 24) % 1000, male=male)


@dataclass
class WeChatStandIn:
    """Scriptable jscode2session / stable_token / getuserphonenumber, and the 公众号's web
    authorisation: an authorisation page where the person types who they are (the code is
    what they type) and ``sns/oauth2/access_token``. A mini-program code X and a web code X
    are the same person: openids ``o-X`` and ``w-X``, one unionid ``u-X``."""

    # code -> errcodes to answer before succeeding (e.g. [-1, -1]); absent = succeed at once
    login_script: dict[str, list[int]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    token_expires_in: int = 7200
    tokens_issued: int = 0
    current_token: str = ""
    phone_for_code: dict[str, str] = field(default_factory=dict)
    seen_secrets: list[str] = field(default_factory=list)
    seen: defaultdict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    token_delay_seconds: float = 0.0

    def app(self) -> web.Application:
        application = web.Application()
        application.router.add_get("/sns/jscode2session", self._session)
        application.router.add_post("/cgi-bin/stable_token", self._token)
        application.router.add_post("/wxa/business/getuserphonenumber", self._phone)
        application.router.add_get("/sns/oauth2/access_token", self._web_code)
        application.router.add_get("/connect/oauth2/authorize", self._authorize_page)
        application.router.add_get("/connect/oauth2/consent", self._consent)
        return application

    async def _web_code(self, request: web.Request) -> web.Response:
        code = request.query.get("code", "")
        self.seen["web_code"].append(dict(request.query))
        if not code or code.startswith("bad"):
            return web.json_response({"errcode": 40029, "errmsg": "invalid code"})
        return web.json_response({"access_token": f"WEB-AT-{code}", "expires_in": 7200,
                                  "refresh_token": f"WEB-RT-{code}", "openid": f"w-{code}",
                                  "scope": "snsapi_base", "unionid": f"u-{code}"},
                                 content_type="text/plain")

    async def _authorize_page(self, request: web.Request) -> web.Response:
        self.seen["authorize"].append(dict(request.query))
        hidden = "".join(f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
                         for name, value in request.query.items())
        page = ('<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>'
                '沙箱微信授权</title></head><body><h1>沙箱微信授权</h1>'
                f'<form method="get" action="/connect/oauth2/consent">{hidden}'
                '<label for="openid">沙箱微信用户 openid</label>'
                '<input id="openid" name="openid" required>'
                '<button type="submit">授权登录</button></form></body></html>')
        return web.Response(text=page, content_type="text/html")

    async def _consent(self, request: web.Request) -> web.Response:
        query = request.query
        back = urlencode({"code": query["openid"], "state": query.get("state", "")})
        joiner = "&" if "?" in query["redirect_uri"] else "?"
        raise web.HTTPFound(f"{query['redirect_uri']}{joiner}{back}")

    async def _session(self, request: web.Request) -> web.Response:
        code = request.query.get("js_code", "")
        self.calls[code] += 1
        self.seen_secrets.append(request.query.get("secret", ""))
        script = self.login_script.get(code, [])
        if script:
            errcode = script.pop(0)
            return web.json_response({"errcode": errcode, "errmsg": "scripted"},
                                     content_type="text/plain")
        if code.startswith("bad"):
            return web.json_response({"errcode": 40029, "errmsg": "invalid code"})
        return web.json_response({"openid": f"o-{code}", "session_key": f"SK-{code}-secret",
                                  "unionid": f"u-{code}"}, content_type="text/plain")

    async def _token(self, request: web.Request) -> web.Response:
        import asyncio

        body = await request.json()
        self.seen["stable_token"].append(body)
        if self.token_delay_seconds:
            await asyncio.sleep(self.token_delay_seconds)
        if body.get("force_refresh") or not self.current_token or self.token_expires_in < 300:
            self.tokens_issued += 1
            self.current_token = f"AT{self.tokens_issued}"
        return web.json_response({"access_token": self.current_token,
                                  "expires_in": self.token_expires_in})

    async def _phone(self, request: web.Request) -> web.Response:
        token = request.query.get("access_token")
        if token != self.current_token:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        body = await request.json()
        phone = self.phone_for_code.get(body.get("code", ""))
        if phone is None:
            return web.json_response({"errcode": 40029, "errmsg": "invalid code"})
        return web.json_response({"errcode": 0, "phone_info": {
            "phoneNumber": phone, "purePhoneNumber": phone, "countryCode": "86"}})


@pytest.fixture
async def wechat_server() -> AsyncIterator[tuple[WeChatStandIn, str]]:
    stand_in = WeChatStandIn()
    server = TestServer(stand_in.app(), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield stand_in, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


@pytest.fixture
async def identity_schema(migrator: Migrator) -> None:
    await migrator.ensure("identity")


@pytest.fixture
def identity_settings(
    identity_schema: None, service_settings: Callable[..., Any]
) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        overrides.setdefault("bootstrap_admin_password", ADMIN_PASSWORD)
        overrides.setdefault("wechat_backoff_seconds", 0.01)
        overrides.setdefault("verify_worker_poll_seconds", 0.1)
        # Cheap password hashing: the cost parameters are configuration, not behaviour.
        overrides.setdefault("argon2_time_cost", 1)
        overrides.setdefault("argon2_memory_kib", 1024)
        overrides.setdefault("argon2_parallelism", 1)
        return service_settings(Settings, **overrides)

    return build


@pytest.fixture
def identity_app(
    identity_settings: Callable[..., Settings], token_verifier: TokenVerifier
) -> Callable[..., FastAPI]:
    """``identity_app(settings_overrides..., wiring=...)`` → the app from create_app."""

    def build(*, wiring: dict[str, Any] | None = None, **overrides: Any) -> FastAPI:
        return create_app(identity_settings(**overrides), verifier=token_verifier,
                          **(wiring or {}))

    return build


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client: httpx.AsyncClient, openid: str | None = None) -> dict[str, Any]:
    openid = openid or f"o{uuid.uuid4().hex}"
    response = await client.post("/api/v1/identity/wechat-login",
                                 json={"code": f"sandbox:{openid}"})
    assert response.status_code == 200, response.text
    return response.json()


async def admin_token(client: httpx.AsyncClient) -> str:
    response = await client.post("/api/v1/identity/staff-login",
                                 json={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.text


@pytest.fixture
def identity_sql(database_url: str, run_prefix: str) -> Callable[..., Any]:
    """``await identity_sql("SELECT ...", param=...)`` → rows, in this run's identity schema."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from shared.db.migrate import schema_name

    async def run(sql: str, *, prefix: str | None = None, **params: Any) -> list[Any]:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as conn:
                schema = schema_name("identity", prefix or run_prefix)
                await conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
                result = await conn.execute(text(sql), params)
                return list(result.mappings()) if result.returns_rows else []
        finally:
            await engine.dispose()

    return run


@dataclass
class RealNameStandIn:
    """A verification provider: the first ``slow_calls`` answers take ``delay`` seconds."""

    slow_calls: int = 0
    delay: float = 0.0
    calls: int = 0
    # name -> (status, body) answered instead of a verdict (a misbehaving provider)
    broken_answers: dict[str, tuple[int, str]] = field(default_factory=dict)

    def app(self) -> web.Application:
        application = web.Application()
        application.router.add_post("/v1/verify", self._verify)
        return application

    async def _verify(self, request: web.Request) -> web.Response:
        import asyncio

        self.calls += 1
        if self.calls <= self.slow_calls:
            await asyncio.sleep(self.delay)
        body = await request.json()
        if body.get("name") in self.broken_answers:
            status, text = self.broken_answers[body["name"]]
            return web.Response(status=status, text=text, content_type="text/html")
        if body.get("name") == "不匹配":
            return web.json_response({"result": "mismatch", "reason": "name_mismatch"})
        return web.json_response({"result": "match"})


@pytest.fixture
async def realname_server() -> AsyncIterator[tuple[RealNameStandIn, str]]:
    stand_in = RealNameStandIn()
    server = TestServer(stand_in.app(), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield stand_in, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()
