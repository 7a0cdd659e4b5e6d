"""The dispatcher's (平安办) queue in the console: a case no routing rule takes waits there; the
dispatcher picks a unit of its region that takes its category and dispatches it, and that
unit's clerk finds it in their queue. A transfer needs a reason (without one nothing is sent);
a case its unit returned waits for arbitration and is re-dispatched. Staff without the
dispatcher role have no menu entry and meet the no-access page."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.web.conftest import ConsolePlatform, Reported
from tests.web.console.test_console_clerk_actions import signs_out
from tests.web.console.test_console_clerk_case import (
    COMMUNITY,
    Clerk,
    clerk_of,
    serious_violations,
    wait_held_by,
)
from tests.web.console.test_console_sign_in import sign_in_through_the_form

COUNTY = "350623"  # 漳浦县
UNRULED = "political_security"  # routing sends this category to the dispatcher, not a unit
POLICE = "漳浦县公安局"


@dataclass(frozen=True)
class Dispatcher:
    username: str
    token: str


@pytest.fixture(scope="module")
def dispatcher(console_platform: ConsolePlatform) -> Dispatcher:
    api = console_platform.api
    username = api.create_staff(None, ["dispatcher"], f"dispatcher-{uuid.uuid4().hex[:8]}",
                                regions=[COUNTY], display_name="漳浦县平安办调度员")
    return Dispatcher(username=username, token=api.sign_in(username))


def queued_for(console_platform: ConsolePlatform, dispatcher: Dispatcher, event_id: str) -> None:
    """Routing queues the case through the broker: wait until the dispatcher's queue holds it."""
    api = console_platform.api

    def queued() -> bool:
        items = api.call("GET", "/api/v1/routing/queue", dispatcher.token)["items"]
        return event_id in {str(item["event_id"]) for item in items}

    api.wait_until(queued, what=f"case {event_id} in the dispatcher's queue")


def unruled_report(console_platform: ConsolePlatform, dispatcher: Dispatcher,
                   description: str) -> Reported:
    report = console_platform.api.resident_reports_event(
        description, category_code=UNRULED, fields={})
    queued_for(console_platform, dispatcher, report.id)
    return report


def row_of(page: Page, case_no: str) -> Locator:
    return page.get_by_test_id("dispatch-table").get_by_role("row").filter(has_text=case_no)


def picks_unit(page: Page, dialog: Locator, name: str) -> None:
    dialog.get_by_label("处置单位").click()
    page.get_by_role("option", name=name, exact=True).click()


def test_dispatcher_dispatches_an_unmatched_case_and_the_units_clerk_sees_it(
    page: Page, console_platform: ConsolePlatform, dispatcher: Dispatcher,
    screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    police = api.unit_of_kind(COUNTY, "police")
    clerk = Clerk(username=api.create_staff(police, ["dept_staff"], regions=[COUNTY],
                                            display_name="公安局办事员"), unit_id=police)
    report = unruled_report(console_platform, dispatcher, "夜间有人在小区张贴不明传单")

    page.goto("/console/")
    sign_in_through_the_form(page, dispatcher.username)
    expect(page).to_have_url(f"{console_platform.console_url}dispatch")
    row = row_of(page, report.case_no)
    expect(row).to_contain_text("未匹配处置单位")
    expect(row).to_contain_text("政治安全")
    expect(row).to_contain_text("漳浦县 / 绥安镇 / 绥安社区 / 绥安社区第一网格")
    assert serious_violations(page) == []
    screenshot(page, "dispatch-queue")

    row.get_by_role("button", name="派遣").click()
    dialog = page.get_by_role("dialog", name=f"派遣案件 {report.case_no}")
    dialog.get_by_role("button", name="确定").click()
    expect(dialog.get_by_role("alert")).to_contain_text("请选择处置单位")
    queued_for(console_platform, dispatcher, report.id)  # nothing was sent

    dialog.get_by_label("处置单位").click()
    options = page.get_by_role("option")
    expect(options.filter(has_text="东山县")).to_have_count(0)  # another county's units
    page.get_by_role("option", name=POLICE, exact=True).click()
    expect(page.get_by_role("listbox")).to_be_hidden()
    expect(dialog.get_by_role("alert")).to_have_count(0)  # the unit is chosen now
    dialog.get_by_label("派遣说明").fill("涉政治安全线索，请公安局核查")
    assert serious_violations(page) == []
    screenshot(page, "dispatch-dialog")
    dialog.get_by_role("button", name="确定").click()
    expect(dialog).to_be_hidden()
    expect(row_of(page, report.case_no)).to_have_count(0)
    wait_held_by(console_platform, report.id, police)
    signs_out(page)

    sign_in_through_the_form(page, clerk.username)
    expect(page.get_by_test_id("queue-table")).to_contain_text(report.case_no)


def test_a_transfer_needs_a_reason_and_goes_to_the_picked_unit(
    page: Page, console_platform: ConsolePlatform, dispatcher: Dispatcher,
) -> None:
    api = console_platform.api
    report = unruled_report(console_platform, dispatcher, "有人在村口散发可疑宣传品")
    justice = api.unit_of_kind(COUNTY, "judicial_office")

    page.goto("/console/dispatch")
    sign_in_through_the_form(page, dispatcher.username)
    row_of(page, report.case_no).get_by_role("button", name="转办").click()
    dialog = page.get_by_role("dialog", name=f"转办案件 {report.case_no}")
    picks_unit(page, dialog, "漳浦县司法局")
    dialog.get_by_role("button", name="确定").click()
    expect(dialog.get_by_role("alert")).to_contain_text("请填写转办原因")
    queued_for(console_platform, dispatcher, report.id)  # nothing was sent

    dialog.get_by_label("转办原因").fill("涉及法律宣传，由司法局核实")
    dialog.get_by_role("button", name="确定").click()
    expect(row_of(page, report.case_no)).to_have_count(0)
    wait_held_by(console_platform, report.id, justice)


def test_a_returned_case_waits_for_arbitration_and_is_redispatched(
    page: Page, console_platform: ConsolePlatform, dispatcher: Dispatcher,
) -> None:
    api = console_platform.api
    clerk = clerk_of(console_platform, COMMUNITY, "绥安社区办事员")
    report = api.resident_reports_event("小区门口商铺占道经营，影响通行")
    wait_held_by(console_platform, report.id, clerk.unit_id)
    api.call("POST", f"/api/v1/events/{report.id}/return", api.sign_in(clerk.username),
             json={"reason": "占道经营属城管执法范围"})
    queued_for(console_platform, dispatcher, report.id)
    town = api.unit_of_kind("350623100", "town_office")

    page.goto("/console/dispatch")
    sign_in_through_the_form(page, dispatcher.username)
    row = row_of(page, report.case_no)
    expect(row).to_contain_text("被回退待仲裁")
    row.get_by_role("button", name="同意回退并改派").click()
    dialog = page.get_by_role("dialog", name=f"派遣案件 {report.case_no}")
    picks_unit(page, dialog, "绥安镇综治中心")
    dialog.get_by_role("button", name="确定").click()
    expect(row_of(page, report.case_no)).to_have_count(0)
    wait_held_by(console_platform, report.id, town)


def test_a_returned_case_is_sent_back_to_its_unit_with_a_reason(
    page: Page, console_platform: ConsolePlatform, dispatcher: Dispatcher,
    screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    clerk = clerk_of(console_platform, COMMUNITY, "绥安社区办事员")
    report = api.resident_reports_event("单元门禁损坏，陌生人随意进出")
    wait_held_by(console_platform, report.id, clerk.unit_id)
    api.call("POST", f"/api/v1/events/{report.id}/return", api.sign_in(clerk.username),
             json={"reason": "门禁属物业管理"})
    queued_for(console_platform, dispatcher, report.id)

    page.goto("/console/dispatch")
    sign_in_through_the_form(page, dispatcher.username)
    row_of(page, report.case_no).get_by_role("button", name="退回原单位").click()
    dialog = page.get_by_role("dialog", name=f"退回原单位 {report.case_no}")
    expect(dialog.get_by_test_id("unit-picker")).to_contain_text("绥安社区居委会")
    dialog.get_by_role("button", name="确定").click()
    expect(dialog.get_by_role("alert")).to_contain_text("请填写退回理由")
    queued_for(console_platform, dispatcher, report.id)  # nothing was sent

    dialog.get_by_label("退回理由").fill("小区无物业，门禁由社区负责维护")
    expect(dialog.get_by_role("alert")).to_have_count(0)
    screenshot(page, "dispatch-send-back")
    dialog.get_by_role("button", name="确定").click()
    expect(row_of(page, report.case_no)).to_have_count(0)
    wait_held_by(console_platform, report.id, clerk.unit_id)


def test_staff_without_the_dispatcher_role_have_no_dispatch_queue(
    page: Page, console_platform: ConsolePlatform,
) -> None:
    clerk = clerk_of(console_platform, COMMUNITY, "绥安社区办事员")
    page.goto("/console/dispatch")
    sign_in_through_the_form(page, clerk.username)
    expect(page.get_by_test_id("no-access")).to_be_visible()
    expect(page.get_by_role("navigation")).not_to_contain_text("派遣队列")
