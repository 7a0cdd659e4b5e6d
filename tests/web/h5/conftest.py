"""The residents' web pages (web/h5, at /h5/) in Chromium as WeChat's in-app browser on a
phone: 390×844, touch, WeChat's user agent, zh-CN, Asia/Shanghai, a mocked location. Sign-in
goes through the platform's WeChat stand-in: its authorisation page asks who the person is
(an openid) and sends the browser back to the pages with a code, as WeChat does."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from gateway.h5_app import H5Settings
from tests.web.conftest import PHONE_VIEWPORT

# WeChat 8.0.47 on an iPhone, as its in-app browser names itself.
WECHAT_USER_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2f) NetType/WIFI "
    "Language/zh_CN")
# 漳浦县绥安镇, where the seeded community and grid are.
LAT, LNG = 24.1172, 117.6158
WAIT_MS = 20_000


@pytest.fixture(scope="session", autouse=True)
def _h5_built() -> None:
    dist = H5Settings().dist_dir
    if not (dist / "index.html").is_file():
        pytest.fail(f"the residents' pages are not built ({dist}/index.html missing): "
                    "run `make h5`")


@pytest.fixture
def wechat_phone(browser: Browser, base_url: str) -> Iterator[Callable[[], BrowserContext]]:
    """``wechat_phone()``: a new context like a resident's phone inside WeChat, located in
    绥安镇 (move it with ``context.set_geolocation``); closed after the test."""
    opened: list[BrowserContext] = []

    def open_phone() -> BrowserContext:
        context = browser.new_context(
            base_url=base_url, viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True,
            user_agent=WECHAT_USER_AGENT, locale="zh-CN", timezone_id="Asia/Shanghai",
            permissions=["geolocation"],
            geolocation={"latitude": LAT, "longitude": LNG, "accuracy": 10})
        context.set_default_timeout(WAIT_MS)
        opened.append(context)
        return context

    yield open_phone
    for context in opened:
        context.close()


def authorises_in_wechat(page: Page, openid: str) -> None:
    """On WeChat's (the stand-in's) authorisation page: who the person is, then consent."""
    field = page.get_by_label("沙箱微信用户 openid")
    expect(field).to_be_visible()
    field.fill(openid)
    page.get_by_role("button", name="授权登录").click()


def picks(page: Page, *names: str) -> None:
    """Walks an open cascader (category or region) down through ``names``."""
    popup = page.locator(".van-cascader").filter(visible=True)
    expect(popup).to_be_visible()
    for name in names:
        popup.locator(".van-cascader__option").filter(visible=True) \
            .filter(has=page.get_by_text(name, exact=True)).click()
    expect(popup).to_have_count(0)
