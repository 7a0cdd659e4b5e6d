"""A resident in the registry signs in from WeChat, verifies their real name on the pages,
applies for relief in three taps (kind, a common difficulty, send) and follows it; then books
supplies, shows the pickup code as a QR image, and cancels."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.identity.conftest import unique_id_number
from tests.web.conftest import ConsoleApi, ConsolePlatform
from tests.web.console.test_console_clerk_case import serious_violations
from tests.web.h5.conftest import authorises_in_wechat

COUNTY = "350623"  # 漳浦县
COMMUNITY = "350623100001"  # 绥安社区
GRID = "350623100001001"
SETTLED_WITHIN_S = 15


def a_registered_person(api: ConsoleApi, name: str) -> str:
    """A person of the registry in GRID (entered by the admin); their ID number."""
    id_number = unique_id_number(COUNTY)
    api.call("POST", "/api/v1/identity/registry/people", api.admin_token, json={
        "id_number": id_number, "name": name, "region_code": GRID,
        "household_id": f"hh-{uuid.uuid4().hex[:8]}", "address": "绥安镇中山路20号"})
    return id_number


def an_open_round(api: ConsoleApi, title: str) -> dict[str, Any]:
    """A round open for booking now at one point of 绥安社区 (as the operator's script makes it)."""
    operator = api.create_staff(None, ["booking_operator"], regions=[COUNTY])
    now = datetime.now(UTC)
    return dict(api.call("POST", "/api/v1/booking/rounds", api.sign_in(operator), status=201, json={
        "title": title, "region_code": COUNTY,
        "items": [{"name": "大米", "quantity": 1, "unit": "袋"}],
        "booking_opens_at": (now - timedelta(minutes=5)).isoformat(),
        "booking_closes_at": (now + timedelta(hours=2)).isoformat(),
        "pickup_starts_at": (now - timedelta(minutes=5)).isoformat(),
        "pickup_ends_at": (now + timedelta(hours=4)).isoformat(),
        "pickup_points": [{"name": "绥安社区服务中心", "address": "绥安镇中山路1号",
                           "region_code": COMMUNITY, "quota": 5}],
    }))


def taps_until(page: Page, button: Locator, done: Locator) -> None:
    """Taps again while the services have not yet learnt the verification (it travels through
    the broker), as a resident would after the page says so."""
    deadline = time.monotonic() + SETTLED_WITHIN_S
    while True:
        button.click()
        try:
            expect(done).to_be_visible(timeout=2_000)
            return
        except AssertionError:
            assert time.monotonic() < deadline, "not accepted within the time it takes to settle"
            page.wait_for_timeout(500)


def test_a_resident_verifies_applies_for_relief_and_books_with_a_qr_code(
    wechat_phone: Callable[[], BrowserContext], console_platform: ConsolePlatform,
    screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    id_number = a_registered_person(api, "林阿婆")
    page = wechat_phone().new_page()
    page.goto("/h5/")
    page.locator("[data-test=go-relief]").click()
    authorises_in_wechat(page, f"h5{uuid.uuid4().hex[:10]}")
    expect(page).to_have_url(re.compile(r"/h5/relief$"))
    expect(page.locator("[data-test=relief-verify]")).to_contain_text("需先完成实名认证")
    expect(page.locator("[data-test=relief-submit]")).to_be_disabled()

    page.locator("[data-test=relief-verify] a").click()
    page.locator("[data-test=verify-name] input").fill("林阿婆")
    page.locator("[data-test=verify-id-number] input").fill(id_number)
    screenshot(page, "h5-verify")
    assert serious_violations(page) == []
    page.locator("[data-test=verify-submit]").click()
    expect(page).to_have_url(re.compile(r"/h5/relief$"))
    expect(page.locator("[data-test=relief-verify]")).to_have_count(0)

    page.locator("[data-test=kind-dibao]").click()
    page.get_by_role("button", name="家人重病，医疗支出大").click()
    expect(page.locator("[data-test=relief-reason] textarea")).to_have_value("家人重病，医疗支出大")
    application = page.locator("[data-test=application]")
    taps_until(page, page.locator("[data-test=relief-submit]"), application)
    expect(application).to_have_count(1)
    expect(application).to_contain_text("最低生活保障")
    expect(application.locator("[data-test=application-status]")).to_have_text(re.compile(r"\S+"))
    expect(page.locator(".van-toast")).to_be_hidden()
    screenshot(page, "h5-relief")
    assert serious_violations(page) == []
    application.click()
    expect(page).to_have_url(re.compile(r"/h5/relief/[0-9a-f-]{36}$"))
    expect(page.locator("[data-test=relief-timeline]")).to_contain_text("提交申请")
    screenshot(page, "h5-relief-application")

    round_ = an_open_round(api, f"爱心大米发放 {uuid.uuid4().hex[:4]}")
    page.goto("/h5/booking")
    book = page.locator(f"[data-test='round-{round_['id']}'] [data-test=book]")
    taps_until(page, book, page.locator("[data-test=pickup-qr] img"))
    booking = page.locator("[data-test=booking]").filter(has_text=round_["title"])
    code = booking.locator("[data-test=pickup-code]").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{4,}", code), code
    image = booking.locator("[data-test=pickup-qr] img")
    assert (image.get_attribute("src") or "").startswith("data:image/png;base64,")
    assert image.evaluate("img => img.complete && img.naturalWidth > 100")
    expect(page.locator(".van-toast")).to_be_hidden()
    screenshot(page, "h5-booking-qr")
    assert serious_violations(page) == []

    booking.locator("[data-test=booking-cancel]").click()
    page.get_by_role("button", name="确认").click()
    expect(booking.locator("[data-test=booking-status]")).to_have_text("已取消")
    expect(booking.locator("[data-test=pickup-qr]")).to_have_count(0)
