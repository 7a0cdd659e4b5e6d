"""Booking operators in the console, by clicking and typing: the round's live statistics, a
pickup point's quota raised while the round is open, and a pickup code redeemed at the point,
where a second try shows when the code was used. API calls only prepare the round (as the
operator's script would) and play the resident booking through the mini-program. Also: who
is not an operator sees no menu entry and the no-access page; the pages pass axe-core."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import ConsolePlatform
from tests.web.console.test_console_clerk_case import serious_violations
from tests.web.console.test_console_sign_in import sign_in_through_the_form

COUNTY = "350623"  # 漳浦县: the operators' scope
COMMUNITY = "350623100001"  # 绥安社区: where the pickup point is


@pytest.fixture(scope="module")
def operator(console_platform: ConsolePlatform) -> str:
    return console_platform.api.create_staff(None, ["booking_operator"], regions=[COUNTY],
                                             display_name="绥安社区发放点")


def open_round(console_platform: ConsolePlatform, operator: str, title: str, quota: int = 5,
               *, slots: list[int] | None = None) -> dict[str, Any]:
    """A round open for booking now, whose pickup has started too (as the operator's script
    would create it); with ``slots``, its point is booked by hour-long time slots of those
    quotas."""
    api = console_platform.api
    now = datetime.now(UTC)
    point: dict[str, Any] = {"name": "绥安社区服务中心", "address": "绥安镇中山路1号",
                             "region_code": COMMUNITY}
    if slots is None:
        point["quota"] = quota
    else:
        point["slots"] = [{"starts_at": (now + timedelta(hours=n)).isoformat(),
                           "ends_at": (now + timedelta(hours=n + 1)).isoformat(),
                           "quota": q} for n, q in enumerate(slots)]
    return dict(api.call("POST", "/api/v1/booking/rounds", api.sign_in(operator), status=201,
                         json={
        "title": title, "region_code": COUNTY,
        "items": [{"name": "口罩", "quantity": 10, "unit": "只"}],
        "booking_opens_at": (now - timedelta(minutes=5)).isoformat(),
        "booking_closes_at": (now + timedelta(hours=2)).isoformat(),
        "pickup_starts_at": (now - timedelta(minutes=5)).isoformat(),
        "pickup_ends_at": (now + timedelta(hours=4)).isoformat(),
        "pickup_points": [point],
    }))


def resident_books(console_platform: ConsolePlatform, round_: dict[str, Any]) -> str:
    """A resident books through the mini-program's API; the pickup code."""
    api = console_platform.api
    resident = api.resident_signs_in()
    key = str(uuid.uuid4())
    deadline = time.monotonic() + 15
    while True:  # booking learns the verification through the broker
        response = api.http.post(
            f"/api/v1/booking/rounds/{round_['id']}/bookings",
            json={"pickup_point_id": round_["pickup_points"][0]["id"]},
            headers={"Authorization": f"Bearer {resident}", "Idempotency-Key": key})
        if response.status_code != 403 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response.status_code == 201, response.text
    return str(response.json()["pickup_code"])


def test_operator_raises_a_quota_while_the_round_is_open(
    page: Page, console_platform: ConsolePlatform, operator: str,
    screenshot: Callable[[Page, str], Path],
) -> None:
    title = f"口罩发放第{uuid.uuid4().hex[:4]}轮"
    round_ = open_round(console_platform, operator, title, quota=5)
    resident_books(console_platform, round_)
    page.goto("/console/")
    sign_in_through_the_form(page, operator)
    expect(page).to_have_url(re.compile(r"/console/booking$"))
    page.get_by_test_id("rounds").get_by_text(title).click()
    stats = page.get_by_test_id("round-stats")
    expect(stats).to_contain_text(title)
    point = stats.get_by_test_id("point-stats").locator("tbody tr").filter(
        has_text="绥安社区服务中心")
    expect(page.get_by_test_id("round-total")).to_contain_text("配额 5")
    expect(page.get_by_test_id("round-total")).to_contain_text("已预约 1")
    expect(page.get_by_test_id("round-total")).to_contain_text("剩余 4")

    point.get_by_test_id("quota-edit").click()
    quota = point.get_by_label("新配额")
    quota.fill("12")
    point.get_by_test_id("quota-save").click()

    expect(page.get_by_test_id("quota-saved")).to_have_text("配额已更新")
    expect(page.get_by_test_id("round-total")).to_contain_text("配额 12")
    expect(page.get_by_test_id("round-total")).to_contain_text("剩余 11")
    screenshot(page, "booking-rounds")
    assert serious_violations(page) == []
    api = console_platform.api
    live = api.call("GET", f"/api/v1/booking/rounds/{round_['id']}/stats", api.sign_in(operator))
    assert (live["quota"], live["remaining"]) == (12, 11)


def test_a_point_booked_by_time_slot_has_its_quota_raised_one_slot_at_a_time(
    page: Page, console_platform: ConsolePlatform, operator: str,
) -> None:
    title = f"药品发放第{uuid.uuid4().hex[:4]}轮"
    round_ = open_round(console_platform, operator, title, slots=[3, 4])
    page.goto("/console/")
    sign_in_through_the_form(page, operator)
    expect(page).to_have_url(re.compile(r"/console/booking$"))
    page.get_by_test_id("rounds").get_by_text(title).click()
    expect(page.get_by_test_id("round-total")).to_contain_text("配额 7")
    point = page.get_by_test_id("point-stats").locator("tbody tr").first
    point.get_by_test_id("quota-edit").click()
    point.get_by_test_id("quota-slot").click()
    page.get_by_role("option").nth(1).click()  # the second hour
    expect(point.get_by_label("新配额")).to_have_value("4")
    point.get_by_label("新配额").fill("10")
    point.get_by_test_id("quota-save").click()

    expect(page.get_by_test_id("quota-saved")).to_be_visible()
    expect(page.get_by_test_id("round-total")).to_contain_text("配额 13")
    api = console_platform.api
    read = api.call("GET", f"/api/v1/booking/rounds/{round_['id']}", api.sign_in(operator))
    assert [s["quota"] for s in read["pickup_points"][0]["slots"]] == [3, 10]


def test_operator_redeems_a_typed_code_and_a_second_try_shows_when_it_was_used(
    page: Page, console_platform: ConsolePlatform, operator: str,
    screenshot: Callable[[Page, str], Path],
) -> None:
    title = f"大米发放第{uuid.uuid4().hex[:4]}轮"
    round_ = open_round(console_platform, operator, title)
    code = resident_books(console_platform, round_)
    page.goto("/console/")
    sign_in_through_the_form(page, operator)
    page.get_by_test_id("to-redeem").click()
    page.get_by_test_id("redeem-round").click()
    page.get_by_role("option", name=title).click()
    expect(page.get_by_test_id("redeem-point")).to_contain_text("绥安社区服务中心")
    # Headless Chromium here has no BarcodeDetector: the page says so and typing works.
    expect(page.get_by_test_id("scan-unavailable")).to_be_visible()

    page.get_by_label("取货码").fill(f"{code[:6]}-{code[6:]}")  # as read out, with a dash
    page.get_by_role("button", name="核销", exact=True).click()
    done = page.get_by_test_id("redeem-ok")
    expect(done).to_contain_text("核销成功")
    expect(done).to_contain_text("口罩 10只")
    page.mouse.move(0, 0)  # axe judges colours as shown, not under the pointer
    screenshot(page, "booking-redeemed")
    assert serious_violations(page) == []

    page.get_by_label("取货码").fill(code)
    page.get_by_role("button", name="核销", exact=True).click()
    expect(page.get_by_test_id("redeem-failure")).to_contain_text(
        re.compile(r"该取货码已于 \d{4}-\d{2}-\d{2} \d{2}:\d{2} 核销"))
    expect(done).to_be_hidden()
    screenshot(page, "booking-redeemed-twice")


def test_a_forged_code_is_refused_and_nothing_is_redeemed(
    page: Page, console_platform: ConsolePlatform, operator: str,
) -> None:
    title = f"食用油发放第{uuid.uuid4().hex[:4]}轮"
    round_ = open_round(console_platform, operator, title)
    code = resident_books(console_platform, round_)
    page.goto("/console/")
    sign_in_through_the_form(page, operator)
    expect(page).to_have_url(re.compile(r"/console/booking$"))
    page.goto("/console/booking/redeem")
    page.get_by_test_id("redeem-round").click()
    page.get_by_role("option", name=title).click()
    forged = code[:-1] + ("A" if code[-1] != "A" else "B")
    page.get_by_label("取货码").fill(forged)
    page.get_by_role("button", name="核销", exact=True).click()
    expect(page.get_by_test_id("redeem-failure")).to_contain_text("取货码无效")
    api = console_platform.api
    stats = api.call("GET", f"/api/v1/booking/rounds/{round_['id']}/stats", api.sign_in(operator))
    assert stats["redeemed"] == 0


def test_who_is_not_an_operator_has_no_booking_menu_and_no_access(
    page: Page, console_platform: ConsolePlatform,
) -> None:
    reviewer = console_platform.api.create_staff(None, ["reviewer"], regions=[COUNTY],
                                                 agency="agriculture")
    page.goto("/console/")
    sign_in_through_the_form(page, reviewer)
    expect(page).to_have_url(re.compile(r"/console/relief$"))
    expect(page.get_by_role("navigation", name="主菜单")).not_to_contain_text("预约管理")
    page.goto("/console/booking")
    expect(page.get_by_test_id("no-access")).to_be_visible()
    page.goto("/console/booking/redeem")
    expect(page.get_by_test_id("no-access")).to_be_visible()


# A camera and a QR detector for the page, where headless Chromium has neither: the camera
# is a canvas's stream, and the detector "sees" the code the test puts in window.__shownCode.
FAKE_CAMERA = """
window.BarcodeDetector = class {
  constructor(options) { window.__detectorFormats = options.formats }
  async detect() { return window.__shownCode ? [{ rawValue: window.__shownCode }] : [] }
}
navigator.mediaDevices.getUserMedia = async () => {
  const canvas = document.createElement('canvas')
  canvas.width = 64; canvas.height = 64
  canvas.getContext('2d').fillRect(0, 0, 64, 64)
  return canvas.captureStream(5)
}
"""


def test_operator_scans_a_code_with_the_camera_where_the_browser_can(
    page: Page, console_platform: ConsolePlatform, operator: str,
) -> None:
    title = f"面粉发放第{uuid.uuid4().hex[:4]}轮"
    round_ = open_round(console_platform, operator, title)
    code = resident_books(console_platform, round_)
    page.add_init_script(FAKE_CAMERA)
    page.goto("/console/")
    sign_in_through_the_form(page, operator)
    expect(page).to_have_url(re.compile(r"/console/booking$"))
    page.get_by_test_id("to-redeem").click()
    page.get_by_test_id("redeem-round").click()
    page.get_by_role("option", name=title).click()

    page.get_by_role("button", name="扫码").click()
    expect(page.get_by_role("button", name="停止扫码")).to_be_visible()
    expect(page.get_by_test_id("redeem-ok")).to_have_count(0)  # nothing in view yet
    page.evaluate("(code) => { window.__shownCode = code }", code)

    expect(page.get_by_test_id("redeem-ok")).to_contain_text("核销成功")
    expect(page.get_by_role("button", name="扫码")).to_be_visible()  # the camera is off
    assert page.evaluate("window.__detectorFormats") == ["qr_code"]
    api = console_platform.api
    stats = api.call("GET", f"/api/v1/booking/rounds/{round_['id']}/stats", api.sign_in(operator))
    assert stats["redeemed"] == 1
