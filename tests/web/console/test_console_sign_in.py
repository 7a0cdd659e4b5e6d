"""Staff sign in and out of the console like a person would; a session that ends under them
sends them to sign-in, and signing in again brings them back to the page they were on."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import STAFF_PASSWORD, ConsolePlatform

SIGNED_IN_HOME = re.compile(r"/console/queue")


def sign_in_through_the_form(page: Page, username: str, password: str = STAFF_PASSWORD) -> None:
    """Type the credentials into the sign-in page and press 登录."""
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录").click()


@pytest.fixture(scope="module")
def clerk(console_platform: ConsolePlatform) -> str:
    """A department clerk of a seeded community unit (漳浦县绥安社区居委会)."""
    api = console_platform.api
    unit = api.unit_of_kind("350623100001", "community")
    return api.create_staff(unit, ["dept_staff"], f"clerk-{uuid.uuid4().hex[:8]}",
                            regions=["350623100001"], display_name="绥安社区办事员")


def test_clerk_signs_in_sees_the_queue_and_signs_out(page: Page, clerk: str) -> None:
    page.goto("/console/")
    expect(page.get_by_role("heading", name="平安e家 · 工作人员登录")).to_be_visible()

    sign_in_through_the_form(page, clerk)

    expect(page).to_have_url(SIGNED_IN_HOME)
    expect(page.get_by_role("heading", name="工作队列")).to_be_visible()
    expect(page.get_by_role("navigation", name="主菜单")).to_contain_text("工作队列")
    expect(page.get_by_test_id("user-menu")).to_contain_text("绥安社区办事员")

    page.get_by_test_id("user-menu").click()
    page.get_by_text("退出登录").click()
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    page.goto("/console/queue")  # signed out: the queue is behind sign-in again
    expect(page.get_by_role("button", name="登录")).to_be_visible()


def test_a_wrong_password_says_so_and_signs_nobody_in(page: Page, clerk: str) -> None:
    page.goto("/console/")

    sign_in_through_the_form(page, clerk, "not-the-password")

    expect(page.get_by_role("alert")).to_contain_text("用户名或密码不正确")
    expect(page).to_have_url(re.compile(r"/console/login"))


def test_a_revoked_session_returns_to_sign_in_and_then_to_the_page(
    page: Page, console_platform: ConsolePlatform, clerk: str
) -> None:
    page.goto("/console/queue?tab=overdue")
    sign_in_through_the_form(page, clerk)
    expect(page).to_have_url(re.compile(r"tab=overdue"))
    expect(page.get_by_role("tab", name="已超时")).to_have_attribute("aria-selected", "true")

    # The session ends elsewhere (signed out from another device): its tokens are revoked.
    stored = page.evaluate("JSON.parse(sessionStorage.getItem('ehome.console.session'))")
    console_platform.api.call("POST", "/api/v1/identity/logout", stored["access"], status=204,
                              json={"refresh_token": stored["refresh"]})
    api = console_platform.api
    api.wait_until(lambda: api.http.get("/api/v1/identity/me", headers={
        "Authorization": f"Bearer {stored['access']}"}).status_code == 401,
        what="the revocation reaching the gateway")
    page.get_by_role("tab", name="已签收").click()  # the next call finds the session over

    expect(page.get_by_role("status").filter(has_text="登录已过期")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/console/login\?redirect="))
    sign_in_through_the_form(page, clerk)
    expect(page).to_have_url(re.compile(r"/console/queue\?tab=accepted"))
    expect(page.get_by_role("tab", name="已签收")).to_have_attribute("aria-selected", "true")


def test_the_session_is_renewed_in_the_background_before_it_expires(
    page: Page, clerk: str
) -> None:
    page.clock.install()  # the page's timers and clock, so fifteen minutes pass at once
    page.goto("/console/")
    sign_in_through_the_form(page, clerk)
    expect(page.get_by_role("heading", name="工作队列")).to_be_visible()
    first = page.evaluate("JSON.parse(sessionStorage.getItem('ehome.console.session')).access")

    with page.expect_request("**/api/v1/identity/refresh"):
        page.clock.fast_forward("14:00")  # an access token lives 15 minutes
    page.wait_for_function(
        "(first) => JSON.parse(sessionStorage.getItem('ehome.console.session')).access !== first",
        arg=first)

    page.get_by_role("tab", name="已签收").click()  # still signed in, with the new token
    expect(page.get_by_role("tab", name="已签收")).to_have_attribute("aria-selected", "true")
    expect(page).to_have_url(re.compile(r"/console/queue\?tab=accepted"))
