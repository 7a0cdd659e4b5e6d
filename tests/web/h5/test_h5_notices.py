"""Anyone reads a region's relief notices (公示) without an account, names masked; a resident
who objects signs in through WeChat first and files the objection from the same page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect

from tests.web.conftest import ConsolePlatform
from tests.web.console.test_console_clerk_case import serious_violations
from tests.web.console.test_console_relief import COUNTY, JOINT_REVIEW, accepted_application
from tests.web.h5.conftest import authorises_in_wechat, picks

COMMUNITY = "350623100001"  # 绥安社区: where the applicant is registered


def an_application_in_notice(console_platform: ConsolePlatform) -> str:
    """A 低保 application the three agencies of the joint review agreed to: its notice runs."""
    api = console_platform.api
    application = accepted_application(console_platform, "丈夫重病住院，家中无其他收入", "郑秀兰")
    for agency, label in JOINT_REVIEW:
        token = api.sign_in(api.create_staff(None, ["reviewer"], regions=[COUNTY], agency=agency))
        api.call("POST", f"/api/v1/relief/applications/{application}/reviews", token,
                 json={"approve": True, "opinion": f"{label}核实属实"})
    api.wait_until(lambda: api.call("GET", f"/api/v1/relief/applications/{application}",
                                    api.admin_token)["status"] == "in_notice",
                   what="the notice started")
    return application


def test_anyone_reads_a_notice_without_signing_in_and_a_resident_objects(
    wechat_phone: Callable[[], BrowserContext], console_platform: ConsolePlatform,
    screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    application = an_application_in_notice(console_platform)
    [shown] = [n for n in api.call("GET", "/api/v1/relief/notices",
                                   params={"region_code": COMMUNITY})["items"]
               if n["application_id"] == application]
    assert shown["applicant_name"] != "郑秀兰"  # masked

    page = wechat_phone().new_page()
    page.goto("/h5/")
    page.locator("[data-test=go-notices]").click()
    expect(page).to_have_url(re.compile(r"/h5/notices$"))
    page.locator("[data-test=region]").click()
    picks(page, "漳浦县", "绥安镇", "绥安社区")
    expect(page).to_have_url(re.compile(rf"/h5/notices\?region={COMMUNITY}$"))
    notice = page.locator("[data-test=notice]").filter(has_text=shown["applicant_name"])
    expect(notice).to_contain_text("最低生活保障")
    expect(notice).not_to_contain_text("郑秀兰")
    assert page.evaluate("localStorage.getItem('ehome.h5.session')") is None
    screenshot(page, "h5-notices")
    assert serious_violations(page) == []

    notice.locator("[data-test=object]").click()
    authorises_in_wechat(page, f"h5{uuid.uuid4().hex[:10]}")
    expect(page).to_have_url(re.compile(rf"/h5/notices\?region={COMMUNITY}$"))
    expect(page.locator("[data-test=region]")).to_contain_text("漳浦县 / 绥安镇 / 绥安社区")
    page.locator("[data-test=notice]").filter(has_text=shown["applicant_name"]) \
        .locator("[data-test=object]").click()
    page.locator("[data-test=objection-text] textarea").fill("申请人家中新购置了小汽车，情况不属实")
    page.wait_for_timeout(400)  # the sheet's slide-in, for the screenshot
    screenshot(page, "h5-objection")
    page.locator("[data-test=objection-submit]").click()
    expect(page.get_by_text("异议已提交，我们将尽快核实")).to_be_visible()
    read = api.call("GET", f"/api/v1/relief/applications/{application}", api.admin_token)
    assert read["open_objections"] == 1
