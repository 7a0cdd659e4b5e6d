"""A case reported through the mini-program shows in the web pages of the same person (one
unionid); once the community has handled it and the grid worker has checked it, the resident
rates it there, and reads the news of it among their notifications."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect

from tests.web.conftest import DEFAULT_REGION, ConsoleApi, ConsolePlatform, Reported
from tests.web.console.test_console_clerk_case import clerk_of, serious_violations
from tests.web.h5.conftest import authorises_in_wechat

COMMUNITY = DEFAULT_REGION[:12]
SETTLED_WITHIN_S = 15


def handled_and_checked(console_platform: ConsolePlatform, report: Reported) -> None:
    """The community's clerk accepts, handles and answers; the grid's worker passes the check:
    the case closes (all through the API, as the console would)."""
    api = console_platform.api
    clerk = clerk_of(console_platform, COMMUNITY, "绥安社区办事员")
    api.wait_assigned(report.id, clerk.unit_id)
    token = api.sign_in(clerk.username)
    for action, body in (("accept", None), ("start", None),
                         ("result", {"result": "已上门协调，双方约定晚十点后停止施工"})):
        api.call("POST", f"/api/v1/events/{report.id}/{action}", token, json=body)
    worker = api.sign_in(api.create_staff(None, ["grid_worker"], regions=[DEFAULT_REGION]))
    api.call("POST", f"/api/v1/events/{report.id}/verify", worker,
             json={"passed": True, "note": "现场核实"})
    assert api.case(report.id)["status"] == "closed"


def mini_program_report(api: ConsoleApi, person: str) -> Reported:
    token = str(api.call("POST", "/api/v1/identity/wechat-login",
                         json={"code": person})["access_token"])
    return api.resident_reports_event("楼上邻居每晚装修到十一点，沟通无果", resident_token=token,
                                      address="绥安镇中山路18号")


def test_a_resident_rates_a_closed_case_from_the_mini_program_in_the_web_pages(
    wechat_phone: Callable[[], BrowserContext], console_platform: ConsolePlatform,
    screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    person = f"h5{uuid.uuid4().hex[:10]}"
    report = mini_program_report(api, person)
    handled_and_checked(console_platform, report)

    page = wechat_phone().new_page()
    page.goto("/h5/cases")
    authorises_in_wechat(page, person)
    page.locator(f"[data-test='case-{report.case_no}']").click()
    expect(page).to_have_url(re.compile(rf"/h5/cases/{report.id}$"))
    expect(page.locator("[data-test=case-status]")).to_contain_text("已办结")
    expect(page.locator("[data-test=case-result]")).to_contain_text("双方约定晚十点后停止施工")
    expect(page.locator("[data-test=timeline]")).to_contain_text("事项办结")
    page.locator("[data-test=rating-basically_satisfied]").click()
    page.wait_for_timeout(400)  # the radio's transition, for the screenshot
    screenshot(page, "h5-rating")
    assert serious_violations(page) == []
    deadline = time.monotonic() + SETTLED_WITHIN_S
    while True:  # feedback learns of the closing through the broker
        page.locator("[data-test=rating-submit]").click()
        try:
            expect(page.locator("[data-test=case-rating]")).to_contain_text("基本满意",
                                                                           timeout=2_000)
            break
        except AssertionError:
            assert time.monotonic() < deadline, "the rating was not accepted"
    expect(page.locator("[data-test=rating]")).to_have_count(0)
    api.wait_until(lambda: api.case(report.id)["rating"] == "basically_satisfied",
                   what="the rating recorded")

    page.goto("/h5/notifications")
    expect(page.locator("[data-test=notifications] .van-cell").first).to_be_visible()
    screenshot(page, "h5-notifications")
    assert serious_violations(page) == []

    page.get_by_role("tab", name=re.compile(r"我的$")).click()
    expect(page.locator("[data-test=me]")).to_contain_text("未实名")
    screenshot(page, "h5-mine")
    assert serious_violations(page) == []
    page.locator("[data-test=sign-out]").click()
    expect(page).to_have_url(re.compile(r"/h5/$"))
    assert page.evaluate("localStorage.getItem('ehome.h5.session')") is None
