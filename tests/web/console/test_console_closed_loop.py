"""The closed loop in the browser, start to end: a resident reports with a photo; the clerk
finds it, accepts, starts and submits a result with a photo; the grid worker passes the check on
site; the resident rates; and the clerk's case page shows the whole timeline, every step."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.web.conftest import DEFAULT_REGION, ConsolePlatform, sample_png
from tests.web.console.test_console_clerk_case import (
    COMMUNITY,
    clerk_of,
    submits_a_result_with_a_photo,
    wait_held_by,
)
from tests.web.console.test_console_sign_in import sign_in_through_the_form


def signs_out(page: Page) -> None:
    page.get_by_test_id("user-menu").click()
    page.get_by_text("退出登录").click()
    expect(page.get_by_role("button", name="登录")).to_be_visible()


def clerk_handles_the_case(page: Page, clerk: str, case_no: str) -> None:
    sign_in_through_the_form(page, clerk)
    page.get_by_label("案件编号").fill(case_no)
    page.get_by_role("button", name="查询").click()
    page.get_by_test_id("queue-table").get_by_role("link", name=case_no).click()
    page.get_by_test_id("action-accept").click()
    expect(page.get_by_test_id("case-status")).to_have_text("已签收")
    page.get_by_test_id("action-start").click()
    expect(page.get_by_test_id("case-status")).to_have_text("处置中")
    submits_a_result_with_a_photo(page)
    expect(page.get_by_test_id("case-status")).to_have_text("已办结待核查")
    signs_out(page)


def grid_worker_passes_the_check(page: Page, worker: str, case_no: str) -> None:
    sign_in_through_the_form(page, worker)
    row = page.get_by_test_id("verification-table").get_by_role("row").filter(has_text=case_no)
    row.get_by_role("button", name="核查").click()
    dialog = page.get_by_role("dialog", name=f"现场核查 {case_no}")
    dialog.get_by_text("核查通过").click()
    dialog.get_by_label("核查意见").fill("现场查看，押金已退还")
    dialog.get_by_role("button", name="提交核查").click()
    expect(dialog).to_be_hidden()
    signs_out(page)


def test_a_report_goes_round_the_whole_loop_and_the_case_page_shows_every_step(
    page: Page, console_platform: ConsolePlatform, screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    clerk = clerk_of(console_platform, COMMUNITY, "绥安社区办事员")
    worker = api.create_staff(None, ["grid_worker"], f"grid-{uuid.uuid4().hex[:8]}",
                              regions=[DEFAULT_REGION], display_name="绥安社区网格员")
    resident = api.resident_signs_in()
    photo = api.upload(resident, sample_png(color=(120, 60, 160)), "scene.png", "image/png")
    report = api.resident_reports_event(
        "中介收了中介费后失联，房东不退押金", category_code="dispute_tenancy",
        fields={"party_role": "tenant"}, attachments=[photo], resident_token=resident)
    wait_held_by(console_platform, report.id, clerk.unit_id)

    page.goto("/console/")
    clerk_handles_the_case(page, clerk.username, report.case_no)
    grid_worker_passes_the_check(page, worker, report.case_no)
    api.resident_rates(report, "satisfied", "处理及时，押金已退")

    def rated() -> bool:
        return api.case(report.id)["status"] == "rated"
    api.wait_until(rated, what=f"{report.case_no} rated")
    steps = [step["title"] for step in api.call(
        "GET", f"/api/v1/events/{report.id}/timeline", api.admin_token)["items"]]
    assert {"核查办理结果", "事项办结", "评价"} <= set(steps), steps

    sign_in_through_the_form(page, clerk.username)
    # Signed in once the queue shows; going to the case before that would find no session.
    expect(page.get_by_role("heading", name="工作队列")).to_be_visible()
    page.goto(f"/console/cases/{report.id}")
    timeline = page.get_by_test_id("timeline-step")
    expect(timeline).to_have_count(len(steps))
    for n, title in enumerate(steps):
        expect(timeline.nth(n)).to_contain_text(title)
    expect(page.get_by_test_id("no-actions")).to_be_visible()
    # The resident's photo and the clerk's result photo both load (thumbnails, signed links).
    expect(page.get_by_test_id("photo").locator("img")).to_have_count(2)
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=photo] img')]"
                           ".every((i) => i.complete && i.naturalWidth > 0)")
    screenshot(page, "case-page-closed-loop")
