"""Residents sign in from the 公众号's web pages (/h5/) by WeChat web authorisation
(snsapi_base), into the same account as the mini-program's: in the sandbox by the same
openid, against WeChat (a stand-in here) by the unionid both doors share."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from shared.testing.plugin import running
from tests.identity.conftest import WeChatStandIn, assert_problem, login

AUTHORIZE = "/api/v1/identity/wechat-web/authorize"
WEB_LOGIN = "/api/v1/identity/wechat-web-login"
BACK = "https://ehome.example.gov.cn/h5/auth?from=menu"


async def _web_login(client: httpx.AsyncClient, code: str) -> httpx.Response:
    return await client.post(WEB_LOGIN, json={"code": code})


async def _mini_login(client: httpx.AsyncClient, code: str) -> dict[str, Any]:
    response = await client.post("/api/v1/identity/wechat-login", json={"code": code})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_a_resident_signs_in_through_the_sandbox_page_as_their_mini_program_self(
    identity_app: Any,
) -> None:
    async with running(identity_app()) as client:
        mini = await login(client, "lin-web-1")
        authorize = await client.get(AUTHORIZE, params={"redirect_uri": BACK, "state": "s1"})
        page = await client.get(authorize.json()["url"])
        consent = await client.get("/api/v1/identity/wechat-web/sandbox/consent", params={
            "redirect_uri": BACK, "state": "s1", "openid": "lin-web-1"})
        back = urlsplit(consent.headers["location"])
        signed_in = await _web_login(client, parse_qs(back.query)["code"][0])
        me = await client.get("/api/v1/identity/me", headers={
            "Authorization": f"Bearer {signed_in.json()['access_token']}"})
    assert authorize.status_code == 200, authorize.text
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'name="openid"' in page.text
    assert "授权登录" in page.text
    assert consent.status_code == 302
    assert (back.netloc, back.path) == ("ehome.example.gov.cn", "/h5/auth")
    assert parse_qs(back.query) == {"from": ["menu"], "code": ["sandbox:lin-web-1"],
                                    "state": ["s1"]}
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["user"]["id"] == mini["user"]["id"]
    assert me.json()["id"] == mini["user"]["id"]


async def test_against_wechat_the_two_doors_meet_by_unionid_whichever_comes_first(
    identity_app: Any, wechat_server: tuple[WeChatStandIn, str], identity_sql: Any,
) -> None:
    stand_in, base = wechat_server
    app = identity_app(wechat_api_base=base, wechat_web_app_id="wx-h5",
                       wechat_web_app_secret="h5-secret",
                       wechat_web_authorize_url=f"{base}/connect/oauth2/authorize")
    async with running(app) as client:
        authorize = await client.get(AUTHORIZE, params={"redirect_uri": BACK, "state": "s2"})
        mini_first = await _mini_login(client, "m1")
        web_after = await _web_login(client, "m1")
        web_again = await _web_login(client, "m1")
        web_first = await _web_login(client, "w1")
        mini_after = await _mini_login(client, "w1")
    url = urlsplit(authorize.json()["url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{base}/connect/oauth2/authorize"
    assert url.fragment == "wechat_redirect"
    assert parse_qs(url.query) == {"appid": ["wx-h5"], "redirect_uri": [BACK],
                                   "response_type": ["code"], "scope": ["snsapi_base"],
                                   "state": ["s2"]}
    assert web_after.json()["user"]["id"] == mini_first["user"]["id"]
    assert web_again.json()["user"]["id"] == mini_first["user"]["id"]
    assert mini_after["user"]["id"] == web_first.json()["user"]["id"]
    assert web_first.json()["user"]["id"] != mini_first["user"]["id"]
    # The 公众号's own credentials, not the mini-program's, exchange its codes.
    assert {(c["appid"], c["secret"]) for c in stand_in.seen["web_code"]} == {
        ("wx-h5", "h5-secret")}
    rows = await identity_sql("SELECT openid, web_openid, unionid FROM users WHERE id = :u",
                              u=mini_first["user"]["id"])
    assert [(r["openid"], r["web_openid"], r["unionid"]) for r in rows] == [
        ("o-m1", "w-m1", "u-m1")]


async def test_a_bad_code_a_foreign_redirect_or_a_disabled_account_is_refused(
    identity_app: Any, identity_sql: Any,
) -> None:
    async with running(identity_app()) as client:
        bad_code = await _web_login(client, "not-a-sandbox-code")
        refusals = [await client.get(AUTHORIZE, params={"redirect_uri": uri, "state": state})
                    for uri, state in [
                        ("https://evil.example/steal", "s"),
                        ("javascript:alert(1)//h5/", "s"),
                        ("https://user:pw@ehome.example.gov.cn/h5/", "s"),
                        ("/h5/relative", "s"),
                        (BACK, "has space")]]
        bad_openid = await client.get("/api/v1/identity/wechat-web/sandbox/consent", params={
            "redirect_uri": BACK, "state": "s", "openid": "a b"})
        user = (await _web_login(client, "sandbox:to-be-disabled")).json()["user"]["id"]
        await identity_sql("UPDATE users SET disabled = true WHERE id = :u", u=user)
        disabled = await _web_login(client, "sandbox:to-be-disabled")
    assert_problem(bad_code, 400, "wechat_code_invalid")
    assert [(r.status_code, r.json()["code"]) for r in refusals] == [
        (422, "redirect_uri_invalid")] * 4 + [(422, "state_invalid")]
    assert_problem(bad_openid, 422, "openid_invalid")
    assert_problem(disabled, 403, "account_disabled")


async def test_with_wechat_configured_there_is_no_sandbox_page(
    identity_app: Any, wechat_server: tuple[WeChatStandIn, str],
) -> None:
    _, base = wechat_server
    async with running(identity_app(wechat_api_base=base)) as client:
        page = await client.get("/api/v1/identity/wechat-web/sandbox",
                                params={"redirect_uri": BACK, "state": "s"})
        consent = await client.get("/api/v1/identity/wechat-web/sandbox/consent", params={
            "redirect_uri": BACK, "state": "s", "openid": "anyone"})
    assert_problem(page, 404, "not_found")
    assert_problem(consent, 404, "not_found")
