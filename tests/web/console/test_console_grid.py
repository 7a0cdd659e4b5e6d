"""The grid worker in the console: after the clerk submits a result, the case waits in the grid
worker's check list; they fail nothing without saying why, and pass it with a photo taken on
site, which closes the case and joins its attachments. Others have no check list."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import FilePayload, Page, expect

from tests.web.conftest import DEFAULT_REGION, ConsolePlatform, sample_png
from tests.web.console.test_console_clerk_case import (
    COMMUNITY,
    clerk_of,
    serious_violations,
    wait_held_by,
)
from tests.web.console.test_console_sign_in import sign_in_through_the_form


def test_grid_worker_passes_a_check_with_a_photo_after_the_clerk_submits_a_result(
    page: Page, console_platform: ConsolePlatform, screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    clerk = clerk_of(console_platform, COMMUNITY, "绥安社区办事员")
    report = api.resident_reports_event("楼道堆放杂物堵塞通道")
    wait_held_by(console_platform, report.id, clerk.unit_id)
    staff = api.sign_in(clerk.username)
    for action, body in (("accept", {"note": None}), ("start", {"note": None}),
                         ("result", {"result": "已通知住户清理，楼道已畅通"})):
        api.call("POST", f"/api/v1/events/{report.id}/{action}", staff, json=body)
    before = api.case(report.id)["attachments"]
    worker = api.create_staff(None, ["grid_worker"], f"grid-{uuid.uuid4().hex[:8]}",
                              regions=[DEFAULT_REGION], display_name="绥安社区网格员")

    page.goto("/console/")
    sign_in_through_the_form(page, worker)
    expect(page).to_have_url(f"{console_platform.console_url}verification")
    row = page.get_by_test_id("verification-table").get_by_role("row").filter(
        has_text=report.case_no)
    expect(row).to_contain_text("绥安社区居委会")
    assert serious_violations(page) == []
    screenshot(page, "verification-tasks")

    row.get_by_role("button", name="核查").click()
    dialog = page.get_by_role("dialog", name=f"现场核查 {report.case_no}")
    expect(dialog.get_by_test_id("verify-result")).to_have_text("已通知住户清理，楼道已畅通")
    dialog.get_by_text("核查不通过").click()
    dialog.get_by_role("button", name="提交核查").click()
    expect(dialog.get_by_role("alert")).to_contain_text("请填写核查意见")
    assert api.case(report.id)["status"] == "result_submitted"  # nothing was sent

    dialog.get_by_text("核查通过").click()
    expect(dialog.get_by_role("alert")).to_have_count(0)  # a pass needs no note
    dialog.get_by_label("核查意见").fill("现场查看，楼道已清理干净")
    dialog.locator("input[type=file]").set_input_files(files=[FilePayload(
        name="site.png", mimeType="image/png", buffer=sample_png(color=(200, 120, 40)))])
    expect(dialog.get_by_test_id("uploaded-photos")).to_contain_text("site.png")
    screenshot(page, "verification-dialog")
    dialog.get_by_role("button", name="提交核查").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("verification-table").get_by_role("row").filter(
        has_text=report.case_no)).to_have_count(0)
    case = api.case(report.id)
    assert case["status"] == "closed"
    assert len(case["attachments"]) == len(before) + 1


def test_grid_worker_reports_an_event_on_a_residents_behalf(
    page: Page, console_platform: ConsolePlatform, screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    worker = api.create_staff(None, ["grid_worker"], f"grid-{uuid.uuid4().hex[:8]}",
                              regions=[DEFAULT_REGION], display_name="绥安社区网格员")
    page.goto("/console/verification")
    sign_in_through_the_form(page, worker)
    page.get_by_test_id("report-on-behalf").click()
    form = page.get_by_test_id("report-page")
    form.get_by_role("button", name="提交上报").click()
    expect(form.get_by_role("alert")).to_contain_text("请选择事件类型")

    form.get_by_label("事件类型").click()
    page.get_by_role("option", name="邻里纠纷").click()
    expect(form).to_contain_text("漳浦县 / 绥安镇 / 绥安社区 / 绥安社区第一网格")  # their grid
    form.get_by_role("button", name="提交上报").click()
    expect(form.get_by_role("alert")).to_contain_text("请填写事件描述")

    form.get_by_label("地址").fill("绥安镇中山路20号")
    form.get_by_label("事件描述").fill("李大爷反映楼上住户每晚拖拽家具，协商无果")
    form.locator("input[type=file]").set_input_files(files=[FilePayload(
        name="visit.png", mimeType="image/png", buffer=sample_png(color=(60, 90, 160)))])
    expect(form.get_by_test_id("uploaded-photos")).to_contain_text("visit.png")
    expect(form.get_by_role("alert")).to_have_count(0)
    screenshot(page, "report-on-behalf")
    form.get_by_role("button", name="提交上报").click()

    expect(page.get_by_test_id("case-page")).to_be_visible()
    event_id = page.url.rsplit("/", 1)[-1]
    case = api.case(event_id)
    assert case["channel"] == "grid_worker"
    assert case["description"] == "李大爷反映楼上住户每晚拖拽家具，协商无果"
    assert len(case["attachments"]) == 1
    expect(page.get_by_test_id("case-no")).to_have_text(case["case_no"])


def test_staff_without_the_grid_worker_role_have_no_check_list(
    page: Page, console_platform: ConsolePlatform,
) -> None:
    clerk = clerk_of(console_platform, COMMUNITY, "绥安社区办事员")
    page.goto("/console/verification")
    sign_in_through_the_form(page, clerk.username)
    expect(page.get_by_test_id("no-access")).to_be_visible()
    expect(page.get_by_role("navigation")).not_to_contain_text("核查任务")
