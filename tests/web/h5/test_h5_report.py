"""A resident opens the 公众号's pages in WeChat, signs in through WeChat's web authorisation,
reports a neighbour dispute with a photo, a short video and the phone's location, and sees it
routed to the community in their cases, with its timeline in Chinese. Signing in through the
mini-program as the same person (one unionid) shows the same case."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect

from tests.web.conftest import DEFAULT_REGION, SAMPLE_MP4, ConsolePlatform, sample_png
from tests.web.console.test_console_clerk_case import serious_violations
from tests.web.h5.conftest import authorises_in_wechat, picks

COMMUNITY = DEFAULT_REGION[:12]  # 绥安社区, whose 居委会 routing gives the case to
REGION_PATH = ("漳浦县", "绥安镇", "绥安社区", "绥安社区第一网格")
CATEGORY_PATH = ("社会矛盾", "邻里纠纷")


def test_a_resident_reports_from_wechat_and_sees_it_routed(
    wechat_phone: Callable[[], BrowserContext], console_platform: ConsolePlatform,
    screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    person = f"h5{uuid.uuid4().hex[:10]}"
    page = wechat_phone().new_page()
    page.goto("/h5/")
    expect(page.locator("[data-test=home-report]")).to_be_visible()
    screenshot(page, "h5-home")
    assert serious_violations(page) == []

    page.locator("[data-test=home-report]").click()
    authorises_in_wechat(page, person)
    expect(page).to_have_url(re.compile(r"/h5/report$"))
    expect(page.locator("[data-test=report-form][data-ready=true]")).to_be_visible()

    page.locator("[data-test=category]").click()
    picks(page, *CATEGORY_PATH)
    page.locator("[data-test=description] textarea").fill("楼上邻居每晚装修到十一点，沟通无果")
    page.locator("[data-test=photos] input[type=file]").set_input_files(
        {"name": "noise.png", "mimeType": "image/png", "buffer": sample_png()})
    expect(page.locator("[data-test=photos] .van-uploader__preview")).to_have_count(1)
    page.locator("[data-test=video] input[type=file]").set_input_files(
        {"name": "noise.mp4", "mimeType": "video/mp4", "buffer": SAMPLE_MP4})
    expect(page.locator("[data-test=video-preview]")).to_be_visible()
    page.locator("[data-test=region]").click()
    picks(page, *REGION_PATH)
    expect(page.locator("[data-test=location]")).to_contain_text("已定位（24.11720, 117.61580）")
    screenshot(page, "h5-report")
    assert serious_violations(page) == []
    page.locator("[data-test=report-submit]").click()

    expect(page).to_have_url(re.compile(r"/h5/cases/[0-9a-f-]{36}$"))
    event_id = page.url.rsplit("/", 1)[1]
    community_unit = api.unit_of_kind(COMMUNITY, "community")
    api.wait_assigned(event_id, community_unit)
    case = api.case(event_id)
    assert len(case["attachments"]) == 2  # the photo and the video
    assert case["location"] == {"lat": 24.1172, "lng": 117.6158}
    assert case["channel"] != "grid_worker"

    page.reload()
    expect(page.locator("[data-test=case-no]")).to_contain_text(case["case_no"])
    expect(page.locator("[data-test=case-status]")).to_contain_text("已派单")
    expect(page.locator("[data-test=timeline]")).to_contain_text("提交事项")
    expect(page.locator("[data-test=timeline]")).to_contain_text("派发承办单位")
    screenshot(page, "h5-case-detail")
    assert serious_violations(page) == []

    page.get_by_role("tab", name="我的事项").click()
    row = page.locator(f"[data-test='case-{case['case_no']}']")
    expect(row.locator("[data-test=case-status]")).to_have_text("已派单")
    screenshot(page, "h5-my-cases")
    page.get_by_role("tab", name="我要上报").click()  # the next report starts in the same grid
    expect(page.locator("[data-test=region]")).to_contain_text(" / ".join(REGION_PATH))

    # The same person in the mini-program (one unionid): the same account, the same case.
    mini_program = api.call("POST", "/api/v1/identity/wechat-login",
                            json={"code": person})["access_token"]
    mine = api.call("GET", "/api/v1/events", mini_program)["items"]
    assert [item["id"] for item in mine] == [event_id]


def test_a_resident_without_a_location_types_the_address(
    wechat_phone: Callable[[], BrowserContext], console_platform: ConsolePlatform,
) -> None:
    context = wechat_phone()
    context.clear_permissions()  # the resident refused the location
    page = context.new_page()
    page.goto("/h5/report")
    authorises_in_wechat(page, f"h5{uuid.uuid4().hex[:10]}")
    expect(page.locator("[data-test=report-form][data-ready=true]")).to_be_visible()
    expect(page.locator("[data-test=location]")).to_contain_text("未获取定位，请填写地址")
    page.locator("[data-test=category]").click()
    picks(page, *CATEGORY_PATH)
    page.locator("[data-test=description] textarea").fill("小区门口路灯坏了一周")
    page.locator("[data-test=region]").click()
    picks(page, *REGION_PATH)
    page.locator("[data-test=report-submit]").click()
    expect(page.get_by_text("未能获取定位，请填写详细地址")).to_be_visible()
    page.locator("[data-test=address] input").fill("绥安镇中山路18号")
    page.locator("[data-test=report-submit]").click()
    expect(page).to_have_url(re.compile(r"/h5/cases/[0-9a-f-]{36}$"))
    case = console_platform.api.case(page.url.rsplit("/", 1)[1])
    assert case["address"] == "绥安镇中山路18号"
    assert case["location"] is None
