"""The clerk's other case actions in the console: returning a case needs a reason (without one
nothing is sent); asking another unit to co-handle puts a sub-task in that unit's
"assisting" tab, whose clerk answers it from the case page (acting on nothing else) and the
lead unit reads the answer; an extension request shows in the timeline; the queue search."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import FilePayload, Page, expect

from tests.web.conftest import STAFF_PASSWORD, ConsolePlatform, sample_png
from tests.web.console.test_console_clerk_case import (
    COMMUNITY,
    OTHER_COMMUNITY,
    Clerk,
    clerk_of,
    wait_held_by,
)
from tests.web.console.test_console_sign_in import sign_in_through_the_form

UNREAD = re.compile(r"^[1-9]\d* 条未读通知$")


def notice_reached(console_platform: ConsolePlatform, clerk: Clerk) -> None:
    """The feedback service turns the dispatch into a staff notice through the broker."""
    api = console_platform.api
    token = api.sign_in(clerk.username)
    api.wait_until(lambda: api.call("GET", "/api/v1/feedback/staff-notices/unread-count",
                                    token)["unread"] > 0, what="the dispatch notice")


def opens_the_case(page: Page, clerk: Clerk, event_id: str) -> None:
    page.goto(f"/console/cases/{event_id}")
    sign_in_through_the_form(page, clerk.username)
    expect(page.get_by_test_id("case-page")).to_be_visible()


def test_returning_a_case_needs_a_reason_then_hands_it_back(
    page: Page, console_platform: ConsolePlatform, screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    clerk = clerk_of(console_platform, COMMUNITY, "绥安社区办事员")
    report = api.resident_reports_event("隔壁装修噪音，周末早上七点开工")
    wait_held_by(console_platform, report.id, clerk.unit_id)
    notice_reached(console_platform, clerk)
    page.goto("/console/")
    sign_in_through_the_form(page, clerk.username)
    # The dispatch told the unit's clerks: the header counts it, and its notice opens the case.
    bell = page.get_by_test_id("notice-badge")
    expect(bell).to_have_attribute("aria-label", UNREAD)
    unread = int((bell.get_attribute("aria-label") or "").split()[0])
    bell.click()
    screenshot(page, "notices")
    page.get_by_test_id("notice-list").get_by_role("button").filter(
        has_text=report.case_no).click()
    expect(page.get_by_test_id("case-no")).to_have_text(report.case_no)
    expect(bell).to_have_attribute("aria-label", f"{unread - 1} 条未读通知")  # that one read

    page.get_by_test_id("action-return").click()
    dialog = page.get_by_role("dialog", name="回退")
    dialog.get_by_role("button", name="确定").click()
    expect(dialog.get_by_role("alert")).to_contain_text("请填写原因")
    case = api.call("GET", f"/api/v1/events/{report.id}", api.admin_token)
    assert case["status"] == "dispatched"  # nothing was sent

    dialog.get_by_label("原因").fill("噪音扰民属城管执法范围，非本社区职责")
    dialog.get_by_role("button", name="确定").click()

    expect(page.get_by_test_id("case-status")).to_have_text("已回退")
    expect(page.get_by_test_id("no-actions")).to_be_visible()
    expect(page.get_by_test_id("timeline")).to_contain_text("非本社区职责")


def test_co_handling_the_assisting_unit_answers_and_the_lead_reads_it(
    page: Page, console_platform: ConsolePlatform, screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    lead = clerk_of(console_platform, COMMUNITY, "绥安社区办事员")
    helper = clerk_of(console_platform, OTHER_COMMUNITY, "东门社区办事员")
    helper_unit = next(u["name"] for u in api.units(OTHER_COMMUNITY) if u["id"] == helper.unit_id)
    report = api.resident_reports_event("租户在东门社区另有住处，需核实联系方式")
    wait_held_by(console_platform, report.id, lead.unit_id)

    opens_the_case(page, lead, report.id)
    page.get_by_test_id("action-accept").click()
    expect(page.get_by_test_id("case-status")).to_have_text("已签收")
    asks_for_co_handling(page, helper_unit, "请协助核实租户在东门社区的住址和联系电话")
    expect(page.get_by_test_id("subtask")).to_contain_text("待答复")
    signs_out(page)

    sign_in_through_the_form(page, helper.username)
    page.get_by_role("tab", name="协办任务").click()
    row = page.get_by_test_id("subtask-table").get_by_role("row").filter(has_text=report.case_no)
    expect(row).to_contain_text("请协助核实租户")
    expect(row).to_contain_text("待答复")
    row.get_by_role("link", name=report.case_no).click()
    expect(page.get_by_test_id("no-actions")).to_be_visible()  # the lead unit handles the case
    subtask = page.get_by_test_id("subtask")
    subtask.get_by_role("button", name="提交答复").click()
    expect(subtask.get_by_role("alert")).to_contain_text("请填写答复内容")
    subtask.get_by_label("答复内容").fill("已上门核实，租户现住东门街5号，电话已登记")
    subtask.locator("input[type=file]").set_input_files(files=[FilePayload(
        name="visit.png", mimeType="image/png", buffer=sample_png(color=(120, 60, 160)))])
    expect(subtask.get_by_test_id("uploaded-photos")).to_contain_text("visit.png")
    subtask.get_by_role("button", name="提交答复").click()
    expect(page.get_by_test_id("subtask-status")).to_have_text("已答复")
    signs_out(page)

    opens_the_case(page, lead, report.id)
    expect(page.get_by_test_id("subtask-answer")).to_contain_text("租户现住东门街5号")
    expect(page.get_by_test_id("subtasks").get_by_test_id("photo").locator("img")).to_be_visible()
    page.wait_for_function(  # the answer's photo has drawn
        "() => [...document.querySelectorAll('[data-testid=subtasks] [data-testid=photo] img')]"
        ".every((i) => i.complete && i.naturalWidth > 0)")
    screenshot(page, "case-page-co-handled")


def asks_for_co_handling(page: Page, unit_name: str, task: str) -> None:
    page.get_by_test_id("action-cohandle").click()
    dialog = page.get_by_role("dialog", name="申请协办")
    dialog.get_by_text("选择协办单位").click()  # the select's placeholder, where one clicks
    page.keyboard.type(unit_name[:4])
    page.get_by_role("option", name=unit_name).click()
    page.keyboard.press("Escape")  # closes the option list, not the dialog
    dialog.get_by_label("协办事项").fill(task)
    dialog.get_by_role("button", name="确定").click()
    expect(dialog).to_be_hidden()


def signs_out(page: Page) -> None:
    page.get_by_test_id("user-menu").click()
    page.get_by_text("退出登录").click()
    expect(page.get_by_role("button", name="登录")).to_be_visible()


def test_queue_search_finds_cases_by_keyword_and_refuses_one_character(
    page: Page, console_platform: ConsolePlatform,
) -> None:
    api = console_platform.api
    clerk = clerk_of(console_platform, COMMUNITY, "绥安社区办事员")
    resident = api.resident_signs_in()
    marked = [api.resident_reports_event(f"菜市场门口积水严重 {n}号", resident_token=resident)
              for n in range(2)]
    other = api.resident_reports_event("快递柜附近路灯损坏", resident_token=resident)
    for report in (*marked, other):
        wait_held_by(console_platform, report.id, clerk.unit_id)
    page.goto("/console/")
    sign_in_through_the_form(page, clerk.username)

    keyword = page.get_by_label("关键词")
    keyword.fill("积")
    page.get_by_role("button", name="查询").click()
    # Refused on the page: the field's message is the only alert, no answer from the server.
    expect(page.get_by_role("alert")).to_have_text(["关键词至少两个字"])

    keyword.fill("菜市场门口积水")
    page.get_by_role("button", name="查询").click()
    rows = page.get_by_test_id("queue-table").locator("tbody tr")
    expect(rows).to_have_count(2)
    for report in marked:
        expect(rows.filter(has_text=report.case_no)).to_have_count(1)
    expect(rows.filter(has_text=other.case_no)).to_have_count(0)

    page.get_by_role("button", name="重置").click()
    expect(rows.filter(has_text=other.case_no)).to_have_count(1)


def test_an_extension_request_needs_a_reason_and_shows_in_the_timeline(
    page: Page, console_platform: ConsolePlatform,
) -> None:
    api = console_platform.api
    clerk = clerk_of(console_platform, COMMUNITY, "绥安社区办事员")
    report = api.resident_reports_event("小区化粪池满溢，需协调物业和环卫")
    wait_held_by(console_platform, report.id, clerk.unit_id)
    opens_the_case(page, clerk, report.id)

    page.get_by_test_id("action-extend").click()
    dialog = page.get_by_role("dialog", name="申请延期")
    dialog.get_by_role("button", name="确定").click()
    expect(dialog.get_by_role("alert")).to_contain_text("请填写原因")
    expect(page.get_by_test_id("timeline")).not_to_contain_text("申请延期")

    dialog.get_by_label("原因").fill("需协调物业和环卫部门联合清理")
    dialog.get_by_role("button", name="确定").click()

    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("timeline")).to_contain_text("申请延期")
    expect(page.get_by_test_id("case-status")).to_have_text("待签收")  # a deadline, not a state


def test_staff_of_two_units_switch_between_their_queues(
    page: Page, console_platform: ConsolePlatform,
) -> None:
    api = console_platform.api
    first = api.unit_of_kind(COMMUNITY, "community")
    second = api.unit_of_kind(OTHER_COMMUNITY, "community")
    second_name = next(u["name"] for u in api.units(OTHER_COMMUNITY) if u["id"] == second)
    username = f"clerk-{uuid.uuid4().hex[:8]}"
    api.call("POST", "/api/v1/identity/staff", api.admin_token, status=201, json={
        "username": username, "password": STAFF_PASSWORD, "roles": ["dept_staff"],
        "departments": [first, second], "regions": [COMMUNITY, OTHER_COMMUNITY],
        "display_name": "两社区共用办事员"})
    here = api.resident_reports_event("绥安社区公园健身器材损坏")
    there = api.resident_reports_event("东门社区巷口井盖缺失", region_code=OTHER_COMMUNITY,
                                       address="铜陵镇东门社区")
    wait_held_by(console_platform, here.id, first)
    wait_held_by(console_platform, there.id, second)

    page.goto("/console/")
    sign_in_through_the_form(page, username)
    rows = page.get_by_test_id("queue-table").locator("tbody tr")
    expect(rows.filter(has_text=here.case_no)).to_have_count(1)
    expect(rows.filter(has_text=there.case_no)).to_have_count(0)

    page.get_by_test_id("unit-select").click()
    page.get_by_role("option", name=second_name).click()

    expect(rows.filter(has_text=there.case_no)).to_have_count(1)
    expect(rows.filter(has_text=here.case_no)).to_have_count(0)

