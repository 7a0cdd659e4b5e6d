"""Signing in from the 公众号's web pages (/h5/) by WeChat web authorisation (snsapi_base):
where to send the browser, the code exchange, and in the sandbox the platform's own stand-in
for WeChat's authorisation page."""

from __future__ import annotations

import re
from html import escape
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse

from services.identity import domain
from services.identity.api.deps import Context
from services.identity.schemas import TokenPair, WebAuthorizeRead, WeChatLogin
from services.identity.service import accounts
from services.identity.wechat import SANDBOX_AUTHORIZE_PATH, SANDBOX_LOGIN_PREFIX
from shared.i18n.zh_CN import WECHAT_WEB_SANDBOX
from shared.problems import NotFound, RuleViolation
from shared.web.deps import Uow

router = APIRouter(prefix="/api/v1/identity", tags=["identity"])
RedirectUri = Annotated[str, Query(min_length=1, max_length=1024)]
State = Annotated[str, Query(min_length=1, max_length=128)]
_SANDBOX_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@router.post("/wechat-web-login", response_model=TokenPair)
async def wechat_web_login(body: WeChatLogin, uow: Uow, ctx: Context) -> TokenPair:
    """Exchange a web authorisation code; the same person's mini-program account if they
    have one (by unionid), else a new resident account."""
    return await accounts.wechat_web_login(uow=uow, ctx=ctx, code=body.code)


@router.get("/wechat-web/authorize", response_model=WebAuthorizeRead)
async def authorize(redirect_uri: RedirectUri, state: State, ctx: Context) -> WebAuthorizeRead:
    """Where the residents' pages send the browser to sign in: WeChat's authorisation page
    (the sandbox's, where WeChat is not configured), which comes back to ``redirect_uri``
    with ``code`` and ``state``."""
    domain.check_web_redirect(redirect_uri, state)
    return WebAuthorizeRead(url=ctx.wechat.web_authorize_url(redirect_uri, state))


def _sandbox_only(ctx: Context) -> None:
    if not ctx.wechat.is_sandbox:
        raise NotFound("WeChat is configured: its own page authorises", code="not_found")


@router.get(SANDBOX_AUTHORIZE_PATH.removeprefix("/api/v1/identity"),
            response_class=HTMLResponse, include_in_schema=False)
async def sandbox_page(redirect_uri: RedirectUri, state: State, ctx: Context) -> HTMLResponse:
    """The sandbox's authorisation page: whoever opens it names the openid to sign in as."""
    _sandbox_only(ctx)
    domain.check_web_redirect(redirect_uri, state)
    text = {key: escape(value) for key, value in WECHAT_WEB_SANDBOX.items()}
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{text["title"]}</title></head>
<body style="font-family: sans-serif; margin: 2rem 1.25rem; line-height: 1.6">
<h1 style="font-size: 1.25rem">{text["title"]}</h1><p>{text["note"]}</p>
<form method="get" action="{SANDBOX_AUTHORIZE_PATH}/consent">
<input type="hidden" name="redirect_uri" value="{escape(redirect_uri)}">
<input type="hidden" name="state" value="{escape(state)}">
<label for="openid">{text["openid_label"]}</label><br>
<input id="openid" name="openid" required pattern="[A-Za-z0-9_\\-]{{1,64}}"
 style="font-size: 1rem; padding: .5rem; width: 100%; box-sizing: border-box"><br><br>
<button type="submit" style="font-size: 1rem; padding: .6rem 1.5rem">{text["submit"]}</button>
</form></body></html>"""
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get(SANDBOX_AUTHORIZE_PATH.removeprefix("/api/v1/identity") + "/consent",
            include_in_schema=False)
async def sandbox_consent(redirect_uri: RedirectUri, state: State,
                          openid: Annotated[str, Query(max_length=64)],
                          ctx: Context) -> RedirectResponse:
    """Back to the pages with a sandbox code, as WeChat comes back with a real one."""
    _sandbox_only(ctx)
    domain.check_web_redirect(redirect_uri, state)
    if not _SANDBOX_OPENID.fullmatch(openid):
        raise RuleViolation("openid is 1 to 64 letters, digits, - or _", code="openid_invalid")
    joiner = "&" if "?" in redirect_uri else "?"
    query = urlencode({"code": SANDBOX_LOGIN_PREFIX + openid, "state": state})
    return RedirectResponse(f"{redirect_uri}{joiner}{query}", status_code=302)
