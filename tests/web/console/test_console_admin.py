"""The admin works the organisation in the console, by clicking and typing: creates a unit in
the region tree and a clerk for it, and that clerk signs in and sees only their unit; a unit
that still holds cases cannot be retired, and the page says why; a population-registry import
with one bad row shows its progress, the refused row and downloads errors.csv; a department
admin sees only their own unit's staff; nobody else reaches the admin pages. API calls only
prepare data and play the resident."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import BrowserContext, FilePayload, Locator, Page, expect

from tests.identity.conftest import unique_id_number
from tests.web.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    STAFF_PASSWORD,
    ConsolePlatform,
    Reported,
)
from tests.web.console.test_console_clerk_case import serious_violations
from tests.web.console.test_console_sign_in import sign_in_through_the_form

COMMUNITY = "350623100001"  # 漳浦县绥安镇绥安社区: default reports land on its 居委会
OTHER_COMMUNITY = "350626106001"  # 东山县铜陵镇东门社区
GRID = "350623100001001"  # 绥安社区第一网格


def admin_opens(page: Page, card: str) -> None:
    """Open 系统管理 from a bookmark (the admin lands on the full-screen command centre),
    sign in as the admin on the way, and open the card named ``card``."""
    page.goto("/console/admin")
    sign_in_through_the_form(page, ADMIN_USERNAME, ADMIN_PASSWORD)
    expect(page.get_by_role("heading", name="系统管理")).to_be_visible()
    page.get_by_role("link", name=card).click()


def open_region(page: Page, *names: str) -> None:
    """Click down the region tree, a level at a time, as a person does: each click lists the
    region's units, and the page has settled (units listed, the node open) before the next
    click; a click while the list was loading could land on a row that moved."""
    tree = page.get_by_test_id("region-tree")
    for depth, name in enumerate(names, start=1):
        row = tree.locator(".el-tree-node__content", has_text=name).first
        _click_until_listed(page, row, name)
        expect(page.locator(".el-loading-mask")).to_have_count(0)
        if depth < len(names):
            child = tree.locator(".el-tree-node__content", has_text=names[depth]).first
            _until_unfolded(row, child)


def _until_unfolded(row: Locator, child: Locator) -> None:
    """The region open, its children shown. Seen once in a full run: the region listed, its
    children loaded, then folded up again by a click that landed while the level above was
    still unfolding; a person opens it again with its arrow (which selects nothing)."""
    for attempt in range(3):
        try:
            expect(child).to_be_visible(timeout=5_000)
            return
        except AssertionError:
            if attempt == 2:
                raise
            if row.locator("xpath=..").get_attribute("aria-expanded") != "true":
                row.locator(".el-tree-node__expand-icon").click()


def _click_until_listed(page: Page, row: Locator, name: str) -> None:
    """Click a region's row until its units are listed. A click while the level above is still
    unfolding (Element Plus animates it) now and then selects nothing, in one run of about
    six, and a person clicks again; so does this, at most twice more."""
    heading = page.get_by_role("heading", name=f"{name} 的单位")
    for attempt in range(3):
        row.click()
        try:
            expect(heading).to_be_visible(timeout=5_000)
            return
        except AssertionError:
            if attempt == 2:
                raise


def settled(page: Page) -> Page:
    """The page once dialogs and messages have finished fading in (for screenshots)."""
    page.wait_for_function(
        "() => document.getAnimations().every((a) => a.playState !== 'running'"
        " || a.effect.getComputedTiming().iterations === Infinity)")
    page.wait_for_timeout(400)  # Element Plus fades dialogs with CSS transitions, not animations
    return page


def pick_option(page: Page, select: Locator, text: str) -> None:
    """Type into an Element Plus filterable select and choose the matching option."""
    select.click()
    select.locator("input").fill(text)
    page.locator(".el-select-dropdown__item:visible", has_text=text).first.click()


def case_transferred_to(console_platform: ConsolePlatform, unit_name: str,
                        description: str) -> Reported:
    """A resident's report in 东门社区, transferred by 东山县's dispatcher to the unit named
    ``unit_name`` (prepared through the API, as the dispatcher's own page would)."""
    api = console_platform.api
    [unit] = [u["id"] for u in api.units(OTHER_COMMUNITY) if u["name"] == unit_name]
    report = api.resident_reports_event(description, region_code=OTHER_COMMUNITY + "001")
    api.wait_assigned(report.id, api.unit_of_kind(OTHER_COMMUNITY, "community"))
    dispatcher = api.create_staff(None, ["dispatcher"], regions=[OTHER_COMMUNITY[:6]])
    api.call("POST", f"/api/v1/routing/assignments/{report.id}/transfer",
             api.sign_in(dispatcher), status=202,
             json={"unit_id": unit, "reason": "属物业管理范围"})
    api.wait_assigned(report.id, unit)
    return report


def test_admin_creates_a_unit_and_a_clerk_who_sees_only_their_unit(
    page: Page, context: BrowserContext, console_platform: ConsolePlatform,
    screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    elsewhere = api.resident_reports_event("小区路灯损坏多日无人修理")  # held by 绥安社区居委会
    api.wait_assigned(elsewhere.id, api.unit_of_kind(COMMUNITY, "community"))
    unit_name = f"东门社区物业服务中心{uuid.uuid4().hex[:4]}"
    username = f"clerk-{uuid.uuid4().hex[:8]}"

    admin_opens(page, "单位与区划")
    open_region(page, "漳州市", "东山县", "铜陵镇", "东门社区")
    expect(page.get_by_role("heading", name="东门社区 的单位")).to_be_visible()
    page.get_by_test_id("unit-create").click()
    dialog = page.get_by_test_id("unit-dialog")
    dialog.get_by_label("单位名称").fill(unit_name)
    pick_option(page, dialog.get_by_test_id("unit-kind"), "物业服务中心")
    expect(dialog.get_by_test_id("unit-region")).to_contain_text("东门社区")
    dialog.get_by_test_id("unit-save").click()
    expect(page.get_by_test_id("unit-table")).to_contain_text(unit_name)
    expect(dialog).to_be_hidden()  # the picture without the dialog fading out over the list
    screenshot(settled(page), "admin-org")

    page.get_by_role("menuitem", name="系统管理").click()
    expect(page.get_by_role("link", name="节假日")).to_be_visible()  # and the configuration pages
    screenshot(settled(page), "admin-home")
    page.get_by_role("link", name="人员与权限").click()
    page.get_by_test_id("staff-create").click()
    dialog = page.get_by_test_id("staff-create-dialog")
    dialog.get_by_label("用户名").fill(username)
    dialog.get_by_label("姓名").fill("物业中心办事员")
    dialog.get_by_label("新密码").fill(STAFF_PASSWORD)
    dialog.locator("label.el-checkbox", has_text="部门办事员").click()
    pick_option(page, dialog.get_by_test_id("unit-select"), unit_name)
    expect(dialog.get_by_test_id("region-tags")).to_contain_text("东门社区")
    screenshot(settled(page), "admin-staff-create")
    dialog.get_by_test_id("staff-save").click()
    expect(page.get_by_test_id("staff-table")).to_contain_text(username)
    expect(page.get_by_test_id("staff-table")).to_contain_text(unit_name)
    screenshot(settled(page), "admin-staff")

    own = case_transferred_to(console_platform, unit_name, "东门社区某小区电梯停运两天")

    clerk = context.new_page()  # a new tab holds no session: the clerk signs in there
    clerk.goto("/console/")
    sign_in_through_the_form(clerk, username)
    expect(clerk.get_by_role("heading", name="工作队列")).to_be_visible()
    expect(clerk.get_by_text(own.case_no)).to_be_visible()
    expect(clerk.get_by_role("menuitem", name="系统管理")).to_have_count(0)
    expect(clerk.get_by_text(elsewhere.case_no)).to_have_count(0)
    expect(clerk.get_by_text("小区路灯损坏")).to_have_count(0)
    clerk.goto(f"/console/cases/{elsewhere.id}")
    expect(clerk.get_by_test_id("no-access")).to_be_visible()
    expect(clerk.get_by_text("小区路灯损坏")).to_have_count(0)
    clerk.goto("/console/admin/staff")
    expect(clerk.get_by_test_id("no-access")).to_contain_text("无权访问")


def test_a_unit_holding_cases_is_not_retired_and_the_page_says_why(
    page: Page, console_platform: ConsolePlatform,
) -> None:
    api = console_platform.api
    held = api.resident_reports_event("楼道堆放杂物，存在消防隐患")
    api.wait_assigned(held.id, api.unit_of_kind(COMMUNITY, "community"))

    admin_opens(page, "单位与区划")
    open_region(page, "漳州市", "漳浦县", "绥安镇", "绥安社区")
    row = page.get_by_test_id("unit-table").locator("tr", has_text="绥安社区居委会")
    row.get_by_role("button", name="撤销").click()
    page.get_by_role("dialog").get_by_role("button", name="撤销").click()

    expect(page.get_by_test_id("org-problem")).to_contain_text("仍有在办案件")
    expect(row).to_contain_text("在用")


def registry_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["身份证号", "姓名", "网格编码", "性别"])
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def test_registry_import_shows_progress_the_refused_row_and_its_errors_csv(
    page: Page, screenshot: Callable[[Page, str], Path],
) -> None:
    good = unique_id_number()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")  # a broken checksum
    sheet = registry_csv([[good, "张三", GRID, "男"], [bad, "李四", GRID, "男"],
                          [unique_id_number(male=False), "王五", GRID, "女"]])

    admin_opens(page, "人口库导入")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="选择文件").click()
    chooser.value.set_files(
        FilePayload(name="人口表.csv", mimeType="text/csv", buffer=sheet))
    expect(page.get_by_test_id("registry-file-name")).to_have_text("人口表.csv")
    page.get_by_test_id("registry-start").click()

    expect(page.get_by_test_id("import-bar")).to_be_visible()
    expect(page.get_by_test_id("import-status")).to_have_text("已完成", timeout=30_000)
    expect(page.get_by_test_id("import-bar")).to_have_attribute("aria-valuenow", "100")
    expect(page.get_by_test_id("import-refused")).to_have_text("1")
    refused = page.get_by_test_id("refused-rows")
    expect(refused).to_contain_text("3")  # the header is row 1: 李四 is row 3
    expect(refused).to_contain_text("身份证号校验位不正确")
    expect(refused).not_to_contain_text(bad)  # the ID number shows masked
    screenshot(settled(page), "admin-registry")

    with page.expect_download() as download:
        page.get_by_test_id("download-errors").click()
    body = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "id_number_checksum" in body
    assert bad not in body
    assert len([line for line in body.splitlines() if line.strip()]) == 2  # header + one row
    assert serious_violations(page) == []


def test_a_department_admin_sees_only_their_units_staff(
    page: Page, console_platform: ConsolePlatform, screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    mine = api.unit_of_kind(COMMUNITY, "community")
    theirs = api.unit_of_kind(OTHER_COMMUNITY, "community")
    manager = api.create_staff(mine, ["dept_admin"], f"head-{uuid.uuid4().hex[:8]}",
                               regions=[COMMUNITY], display_name="绥安社区主任")
    colleague = api.create_staff(mine, ["dept_staff"], f"mine-{uuid.uuid4().hex[:8]}",
                                 regions=[COMMUNITY], display_name="绥安社区办事员")
    stranger = api.create_staff(theirs, ["dept_staff"], f"theirs-{uuid.uuid4().hex[:8]}",
                                regions=[OTHER_COMMUNITY], display_name="东门社区办事员")

    page.goto("/console/")
    sign_in_through_the_form(page, manager)
    expect(page.get_by_role("menuitem", name="系统管理")).to_have_count(0)
    page.get_by_role("menuitem", name="本单位人员").click()

    table = page.get_by_test_id("staff-table")
    expect(table).to_contain_text(colleague)
    expect(table).not_to_contain_text(stranger)
    assert serious_violations(page) == []
    screenshot(page, "admin-unit-staff")
    page.get_by_test_id("staff-create").click()
    roles = page.get_by_test_id("staff-create-dialog").get_by_role("checkbox")
    expect(roles).to_have_count(2)  # only the unit's roles may be granted
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("staff-create-dialog")).to_be_hidden()

    row = table.locator("tr", has_text=colleague)
    row.get_by_role("button", name="重置密码").click()
    reset = page.get_by_test_id("password-dialog")
    reset.get_by_label("新密码").fill("short")
    reset.get_by_test_id("password-save").click()
    expect(reset).to_contain_text("密码太短")
    reset.get_by_label("新密码").fill("Renewed-pass-2026")
    reset.get_by_test_id("password-save").click()
    expect(reset).to_be_hidden()
    assert api.sign_in(colleague, "Renewed-pass-2026")

    row.get_by_role("button", name="停用").click()
    page.get_by_role("dialog").get_by_role("button", name="停用").click()
    expect(row).to_contain_text("已停用")
    api.call("POST", "/api/v1/identity/staff-login", status=403,
             json={"username": colleague, "password": "Renewed-pass-2026"})

    page.goto("/console/admin/org")
    expect(page.get_by_test_id("no-access")).to_contain_text("无权访问")


def test_admin_adds_a_grid_to_a_community_and_renames_it(page: Page) -> None:
    suffix = f"{uuid.uuid4().int % 900 + 100}"  # a three-digit code under 西门社区
    admin_opens(page, "单位与区划")
    open_region(page, "漳州市", "东山县", "铜陵镇", "西门社区")

    page.get_by_role("button", name="新增下级区划").click()
    dialog = page.get_by_test_id("region-dialog")
    dialog.get_by_label("区划代码").fill(suffix)
    dialog.get_by_label("区划名称").fill("西门社区新设网格")
    dialog.get_by_test_id("region-save").click()
    tree = page.get_by_test_id("region-tree")
    expect(tree).to_contain_text("西门社区新设网格")

    tree.locator(".el-tree-node__content", has_text="西门社区新设网格").click()
    page.get_by_role("button", name="区划改名").click()
    dialog.get_by_label("区划名称").fill("西门社区第三网格")
    dialog.get_by_test_id("region-save").click()
    expect(tree).to_contain_text("西门社区第三网格")
    expect(tree).not_to_contain_text("西门社区新设网格")


def test_admin_creates_a_partner_app_sees_its_secret_once_rotates_and_disables_it(
    page: Page, screenshot: Callable[[Page, str], Path],
) -> None:
    name = f"12345热线{uuid.uuid4().hex[:4]}"
    admin_opens(page, "合作应用")
    page.get_by_test_id("partner-create").click()
    page.get_by_test_id("partner-dialog").get_by_label("应用名称").fill(name)
    page.get_by_test_id("partner-save").click()

    secret_dialog = page.get_by_test_id("secret-dialog")
    expect(secret_dialog).to_contain_text("只显示这一次")
    first = page.get_by_test_id("secret-value").inner_text()
    assert len(first) >= 20
    screenshot(settled(page), "admin-partner-secret")
    page.get_by_test_id("secret-saved").click()
    expect(secret_dialog).to_be_hidden()
    row = page.get_by_test_id("partner-table").locator("tr", has_text=name)
    expect(row).to_contain_text("正常")
    expect(page.get_by_text(first)).to_have_count(0)  # never shown again

    row.get_by_role("button", name="轮换密钥").click()
    page.get_by_role("dialog").get_by_role("button", name="轮换密钥").click()
    expect(page.get_by_test_id("secret-value")).to_be_visible()
    assert page.get_by_test_id("secret-value").inner_text() not in ("", first)
    expect(secret_dialog).to_contain_text("旧密钥有效至")
    page.get_by_test_id("secret-saved").click()

    row.get_by_role("button", name="停用").click()
    page.get_by_role("dialog").get_by_role("button", name="停用").click()
    expect(row).to_contain_text("已停用")
    expect(row.get_by_role("button", name="轮换密钥")).to_have_count(0)
    expect(page.get_by_role("dialog")).to_have_count(0)
    screenshot(settled(page), "admin-partners")


def test_admin_renames_a_unit_and_moves_it_to_another_community(
    page: Page, console_platform: ConsolePlatform,
) -> None:
    api = console_platform.api
    name = f"东门社区调解室{uuid.uuid4().hex[:4]}"
    api.create_unit(name, kind=f"mediation_{uuid.uuid4().hex[:6]}", region_code=OTHER_COMMUNITY)

    admin_opens(page, "单位与区划")
    open_region(page, "漳州市", "东山县", "铜陵镇", "东门社区")
    page.get_by_test_id("unit-table").locator("tr", has_text=name).get_by_role(
        "button", name="修改").click()
    dialog = page.get_by_test_id("unit-dialog")
    dialog.get_by_label("单位名称").fill("西门社区调解室" + name[-4:])
    dialog.get_by_label("调整到").click()
    for level in ("漳州市", "东山县", "铜陵镇"):
        page.locator(".el-cascader-node:visible", has_text=level).first.click()
    page.locator(".el-cascader-node:visible", has_text="西门社区").locator(".el-radio").click()
    dialog.get_by_label("单位名称").click()  # clicking outside closes the picker
    expect(page.locator(".el-cascader-node:visible")).to_have_count(0)
    dialog.get_by_test_id("unit-save").click()

    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("unit-table")).not_to_contain_text(name[-4:])
    open_region(page, "西门社区")
    expect(page.get_by_test_id("unit-table")).to_contain_text("西门社区调解室" + name[-4:])
