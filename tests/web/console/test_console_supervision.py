"""The supervisor in the console: the supervision board over their regions lists the cases near
their deadline; from a case they issue a 督办 (level, instruction, reply-by; an empty
instruction sends nothing), which the clerk of the handling unit sees on the case page and
answers. On a sensitive tip the supervisor reveals the reporter only with a reason, and the
page says the look is audited. Staff without the supervisor role meet the no-access page."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import ConsolePlatform
from tests.web.console.test_console_clerk_actions import opens_the_case, signs_out
from tests.web.console.test_console_clerk_case import (
    COMMUNITY,
    clerk_of,
    serious_violations,
    wait_held_by,
)
from tests.web.console.test_console_sign_in import sign_in_through_the_form

COUNTY = "350623"  # 漳浦县, over the default report region


@pytest.fixture(scope="module")
def supervisor(console_platform: ConsolePlatform) -> str:
    return console_platform.api.create_staff(
        None, ["supervisor"], f"supervisor-{uuid.uuid4().hex[:8]}", regions=[COUNTY],
        display_name="漳浦县督办员")


def test_supervisor_issues_a_supervision_and_the_clerk_replies_on_the_case_page(
    page: Page, console_platform: ConsolePlatform, supervisor: str,
    screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    clerk = clerk_of(console_platform, COMMUNITY, "绥安社区办事员")
    report = api.resident_reports_event("小区消防通道被长期堵占，多次反映未处理")
    wait_held_by(console_platform, report.id, clerk.unit_id)

    page.goto("/console/")
    sign_in_through_the_form(page, supervisor)
    expect(page).to_have_url(f"{console_platform.console_url}supervision")
    page.get_by_role("tab", name="临近期限").click()
    board = page.get_by_test_id("board-table")
    expect(board).to_contain_text(report.case_no)
    assert serious_violations(page) == []
    screenshot(page, "supervision-board")

    board.get_by_role("link", name=report.case_no).click()
    page.get_by_test_id("issue-supervision").click()
    dialog = page.get_by_role("dialog", name="发起督办")
    dialog.get_by_role("button", name="确定").click()
    expect(dialog.get_by_role("alert")).to_contain_text("请填写督办要求")
    orders = f"/api/v1/routing/assignments/{report.id}/supervisions"
    assert api.call("GET", orders, api.admin_token)["items"] == []  # nothing was sent

    dialog.get_by_text("挂牌督办").click()
    dialog.get_by_label("督办要求").fill("请于两日内清理消防通道并答复处理情况")
    reply_by = dialog.get_by_label("答复期限")
    reply_by.fill("2030-01-02 17:00")
    reply_by.press("Enter")
    dialog.get_by_role("button", name="确定").click()
    expect(dialog).to_be_hidden()
    order = page.get_by_test_id("supervision-order")
    expect(order).to_contain_text("挂牌督办")
    expect(order).to_contain_text("2030-01-02 17:00")
    expect(page.get_by_test_id("supervision-status")).to_have_text("待答复")
    signs_out(page)

    opens_the_case(page, clerk, report.id)
    order = page.get_by_test_id("supervision-order")
    expect(order).to_contain_text("请于两日内清理消防通道")
    expect(page.get_by_test_id("issue-supervision")).to_have_count(0)  # clerks issue none
    order.get_by_role("button", name="答复督办").click()
    expect(order.get_by_role("alert")).to_contain_text("请填写答复内容")
    order.get_by_label("答复内容").fill("已联系物业清理通道，并设置禁停标识")
    order.get_by_role("button", name="答复督办").click()
    expect(page.get_by_test_id("supervision-status")).to_have_text("已答复")
    expect(page.get_by_test_id("supervision-reply")).to_contain_text("设置禁停标识")
    screenshot(page, "case-page-supervision-replied")


def test_supervisor_reveals_a_sensitive_reporter_with_a_reason_and_is_told_it_is_audited(
    page: Page, console_platform: ConsolePlatform, supervisor: str,
    screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    resident = api.resident_signs_in()
    reporter_id = api.call("GET", "/api/v1/identity/me", resident)["id"]
    report = api.resident_reports_event("发现有人组织非法聚集", category_code="political_security",
                                        fields={}, resident_token=resident)

    page.goto(f"/console/cases/{report.id}")
    sign_in_through_the_form(page, supervisor)
    card = page.get_by_test_id("reporter-reveal")
    expect(card).not_to_contain_text(reporter_id)
    card.get_by_role("button", name="查看举报人").click()
    dialog = page.get_by_role("dialog", name="查看敏感线索举报人")
    expect(dialog).to_contain_text("查看举报人身份将被记录")
    dialog.get_by_role("button", name="确定").click()
    expect(dialog.get_by_role("alert").filter(has_text="请填写查看原因")).to_be_visible()
    expect(card).not_to_contain_text(reporter_id)

    dialog.get_by_label("查看原因").fill("需联系举报人核实线索细节")
    dialog.get_by_role("button", name="确定").click()
    revealed = page.get_by_test_id("revealed-reporter")
    expect(revealed).to_contain_text(reporter_id)
    expect(revealed).to_contain_text("本次查看已记入审计日志")
    expect(dialog).to_be_hidden()
    page.wait_for_function(  # the dialog has faded out
        "() => document.getAnimations().every((a) => a.playState !== 'running'"
        " || a.effect.getComputedTiming().iterations === Infinity)")
    screenshot(page, "case-page-reporter-revealed")


def test_staff_without_the_supervisor_role_have_no_board_and_issue_nothing(
    page: Page, console_platform: ConsolePlatform,
) -> None:
    api = console_platform.api
    clerk = clerk_of(console_platform, COMMUNITY, "绥安社区办事员")
    report = api.resident_reports_event("深夜广场舞音响扰民")
    wait_held_by(console_platform, report.id, clerk.unit_id)
    page.goto("/console/supervision")
    sign_in_through_the_form(page, clerk.username)
    expect(page.get_by_test_id("no-access")).to_be_visible()
    expect(page.get_by_role("navigation")).not_to_contain_text("督办看板")
    page.goto(f"/console/cases/{report.id}")
    expect(page.get_by_test_id("case-page")).to_be_visible()
    expect(page.get_by_test_id("issue-supervision")).to_have_count(0)
