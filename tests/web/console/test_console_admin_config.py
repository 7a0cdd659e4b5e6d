"""An admin configures the platform in the console, by clicking and typing: adds a template
field with options to a category and sees the resident's form previewed; sets a routing rule so
a resident's new report of that category lands in the chosen unit (whose clerk finds it in the
queue); adjusts a day of the holiday calendar and sees it. Someone without the admin role sees
the no-access page; the pages pass axe-core. API calls only prepare data and play the resident."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.web.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, ConsolePlatform
from tests.web.console.test_console_clerk_case import serious_violations
from tests.web.console.test_console_sign_in import sign_in_through_the_form

COUNTY = "350623"  # 漳浦县: its 民政局 (civil_affairs) is seeded


def new_category(console_platform: ConsolePlatform, name: str) -> str:
    """A fresh sub-category of 社会矛盾 (so no other test's reports change route); its code."""
    api = console_platform.api
    code = f"p5_{uuid.uuid4().hex[:8]}"
    api.call("PUT", f"/api/v1/events/categories/{code}", api.admin_token, status=204,
             json={"name": name, "parent_code": "social_conflict"})
    return code


def accessible(page: Page) -> list[str]:
    """axe-core's serious findings with the pointer moved off the last button clicked (Element
    Plus's hover shade is a passing state, not the page's colours)."""
    page.mouse.move(0, 0)
    return serious_violations(page)


PAGES = {"admin/categories": "事项分类与模板", "admin/rules": "分派规则", "admin/sla": "时限策略",
         "admin/holidays": "节假日"}


def admin_opens(page: Page, path: str) -> None:
    """The admin opens 系统管理 from a bookmark (they land on the full-screen command centre),
    signs in on the way, and opens the page's card there."""
    page.goto("/console/admin")
    sign_in_through_the_form(page, ADMIN_USERNAME, ADMIN_PASSWORD)
    expect(page.get_by_role("heading", name="系统管理")).to_be_visible()
    page.get_by_role("link", name=PAGES[path]).click()
    expect(page).to_have_url(f"/console/{path}")


def risk_name(console_platform: ConsolePlatform, code: str) -> str:
    tree = console_platform.api.call("GET", "/api/v1/events/categories")["items"]
    return str(next(c["name"] for c in tree if c["code"] == code))


def test_admin_adds_a_choice_field_and_the_preview_shows_it(
    page: Page, console_platform: ConsolePlatform, screenshot: Callable[[Page, str], Path],
) -> None:
    code, name = f"p5_{uuid.uuid4().hex[:8]}", f"宅基地纠纷{uuid.uuid4().hex[:4]}"
    admin_opens(page, "admin/categories")
    tree = page.get_by_test_id("category-tree")
    tree.get_by_text(risk_name(console_platform, "social_conflict"), exact=True).click()
    # A new sub-category of the chosen major risk; a code already in use is refused.
    page.get_by_test_id("add-category").click()
    created = page.get_by_role("dialog", name="新建子分类")
    created.get_by_label("分类代码").fill("dispute_neighbour")
    created.get_by_label("分类名称").fill(name)
    created.get_by_test_id("category-save").click()
    expect(created.get_by_role("alert")).to_have_text("该分类代码已存在")
    created.get_by_label("分类代码").fill(code)
    created.get_by_test_id("category-save").click()
    expect(created).to_be_hidden()
    expect(tree.get_by_text(name, exact=True)).to_be_visible()
    expect(page.get_by_test_id("template-editor")).to_be_visible()
    expect(page.get_by_test_id("template-preview")).to_contain_text("该分类暂无模板字段")

    page.get_by_test_id("add-field").click()
    dialog = page.get_by_role("dialog", name="模板字段")
    dialog.get_by_label("字段代码").fill("Area")
    dialog.get_by_label("名称").fill("争议面积")
    dialog.get_by_text("单选", exact=True).click()
    dialog.get_by_label("选项").fill("small=一亩以下\nlarge=一亩及以上")
    dialog.get_by_test_id("field-done").click()
    expect(dialog.get_by_role("alert")).to_contain_text("字段代码须以小写字母开头")
    dialog.get_by_label("字段代码").fill("area")
    dialog.locator(".el-switch").filter(has=page.get_by_role("switch", name="必填")).click()
    dialog.get_by_test_id("field-done").click()
    expect(dialog).to_be_hidden()

    preview = page.get_by_test_id("template-preview")
    expect(preview).to_contain_text("争议面积")
    expect(preview.get_by_label("争议面积")).to_be_visible()
    preview.get_by_test_id("preview-area").click()
    expect(page.get_by_role("option", name="一亩及以上")).to_be_visible()
    page.wait_for_function(  # the dropdown has finished opening
        "() => document.getAnimations().every((a) => a.playState !== 'running')")
    screenshot(page, "admin-categories")
    page.get_by_role("option", name="一亩以下").click()
    page.get_by_test_id("save-template").click()
    expect(page.get_by_text("已保存")).to_be_visible()

    stored = next(c for r in console_platform.api.call(
        "GET", "/api/v1/events/categories")["items"] for c in r["children"] if c["code"] == code)
    assert stored["template"] == [{
        "key": "area", "label": "争议面积", "type": "choice", "required": True,
        "choices": ["small", "large"],
        "options": [{"code": "small", "label": "一亩以下"},
                    {"code": "large", "label": "一亩及以上"}],
    }]
    assert accessible(page) == []


def test_a_rule_set_by_the_admin_routes_the_next_report_to_the_chosen_unit(
    page: Page, console_platform: ConsolePlatform, screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    name = f"低保纠纷{uuid.uuid4().hex[:4]}"
    code = new_category(console_platform, name)
    admin_opens(page, "admin/rules")
    page.get_by_test_id("add-rule").click()
    dialog = page.get_by_role("dialog", name="分派规则")
    dialog.get_by_test_id("rule-save").click()
    expect(dialog.get_by_role("alert")).to_have_text("请选择分类、层级和承办单位类型")
    dialog.get_by_test_id("category-select").click()
    page.get_by_role("option", name=name).click()
    dialog.get_by_text("县区", exact=True).click()
    dialog.get_by_test_id("unit-kind-select").click()
    page.get_by_role("option", name="民政局").click()
    dialog.get_by_test_id("rule-save").click()
    expect(dialog).to_be_hidden()
    row = page.get_by_test_id("rules-table").get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("县区")
    expect(row).to_contain_text("民政局")
    expect(row).to_contain_text("是")
    screenshot(page, "admin-rules")
    assert accessible(page) == []

    unit = api.unit_of_kind(COUNTY, "civil_affairs")
    report = api.resident_reports_event("申请低保被村里无故拒绝，想讨个说法", category_code=code)
    api.wait_assigned(report.id, unit)
    clerk = api.create_staff(unit, ["dept_staff"], regions=[COUNTY], display_name="民政局办事员")
    # The unit's clerk, in a tab of their own (a session lives in its tab), finds it queued.
    tab = page.context.new_page()
    tab.goto("/console/")
    sign_in_through_the_form(tab, clerk)
    tab.get_by_label("案件编号").fill(report.case_no)
    tab.get_by_role("button", name="查询").click()
    expect(tab.get_by_test_id("queue-table").get_by_role("row").filter(
        has_text=report.case_no)).to_contain_text(name)


def test_admin_sets_a_local_holiday_and_the_calendar_shows_it(
    page: Page, console_platform: ConsolePlatform, screenshot: Callable[[Page, str], Path],
) -> None:
    admin_opens(page, "admin/holidays")
    calendar = page.get_by_test_id("calendar")
    expect(calendar).to_contain_text("国庆节")  # this year's official schedule
    expect(page.get_by_test_id("unpublished")).to_have_count(0)
    screenshot(page, "admin-holidays-this-year")
    year = page.get_by_label("年份")
    year.fill("2031")  # a year no other test's deadlines reach
    year.press("Enter")
    expect(page.get_by_test_id("unpublished")).to_be_visible()
    expect(page.get_by_test_id("day-2031-05-06")).to_have_count(0)
    page.get_by_test_id("add-override").click()
    dialog = page.get_by_role("dialog", name="调整某一天")
    dialog.get_by_test_id("override-save").click()
    expect(dialog.get_by_role("alert")).to_have_text("请选择日期")
    day = dialog.get_by_label("日期")
    day.fill("2031-05-06")
    day.press("Enter")
    dialog.get_by_label("备注").fill("县庆放假")
    dialog.get_by_test_id("override-save").click()
    expect(dialog).to_be_hidden()
    shown = page.get_by_test_id("day-2031-05-06")
    expect(shown).to_contain_text("节假日")
    expect(shown).to_contain_text("县庆放假")
    expect(shown).to_contain_text("本地调整")
    screenshot(page, "admin-holidays")
    assert accessible(page) == []
    # Set by mistake: undone, the day follows the published schedule again.
    shown.get_by_test_id("revert-2031-05-06").click()
    expect(page.get_by_test_id("day-2031-05-06")).to_have_count(0)
    days = console_platform.api.call("GET", "/api/v1/routing/calendar/2031",
                                     console_platform.api.admin_token)["items"]
    assert [d for d in days if d["day"] == "2031-05-06"] == []


def test_admin_sets_the_deadlines_of_a_category(
    page: Page, console_platform: ConsolePlatform, screenshot: Callable[[Page, str], Path],
) -> None:
    name = f"彩礼纠纷{uuid.uuid4().hex[:4]}"
    code = new_category(console_platform, name)
    admin_opens(page, "admin/sla")
    page.get_by_test_id("add-policy").click()
    dialog = page.get_by_role("dialog", name="时限策略")
    dialog.get_by_test_id("category-select").click()
    page.get_by_role("option", name=name).click()
    dialog.get_by_text("紧急", exact=True).click()
    dialog.get_by_label("受理时限（工作小时）").fill("1")
    dialog.get_by_label("办结时限").fill("8")
    dialog.get_by_test_id("resolve-unit").click()
    page.get_by_role("option", name="工作小时").click()
    dialog.get_by_test_id("policy-save").click()
    expect(dialog).to_be_hidden()
    row = page.get_by_test_id("policies-table").get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("紧急")
    expect(row).to_contain_text("8 工作小时")
    # Changed in place: the dialog opens on the row's values, its category and urgency fixed.
    row.get_by_role("button", name="编辑").click()
    expect(dialog.get_by_label("办结时限")).to_have_value("8")
    expect(dialog.get_by_test_id("category-select")).to_contain_text(name)
    dialog.get_by_label("办结时限").fill("16")
    dialog.get_by_test_id("policy-save").click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("16 工作小时")
    screenshot(page, "admin-sla")
    assert accessible(page) == []
    stored = [p for p in console_platform.api.call(
        "GET", "/api/v1/routing/sla-policies", console_platform.api.admin_token)["items"]
        if p["category_code"] == code]
    assert [(p["urgency"], p["accept_hours"], p["resolve_amount"], p["resolve_unit"])
            for p in stored] == [("urgent", 1, 16, "hours")]


def test_a_clerk_sees_no_access_on_the_configuration_pages(
    page: Page, console_platform: ConsolePlatform,
) -> None:
    api = console_platform.api
    clerk = api.create_staff(api.unit_of_kind(COUNTY, "civil_affairs"), ["dept_staff"],
                             regions=[COUNTY])
    page.goto("/console/admin/rules")
    sign_in_through_the_form(page, clerk)
    expect(page.get_by_test_id("no-access")).to_be_visible()
    expect(page.get_by_test_id("admin-rules")).to_have_count(0)
    for path in ("categories", "sla", "holidays"):
        page.goto(f"/console/admin/{path}")
        expect(page.get_by_test_id("no-access")).to_be_visible()
