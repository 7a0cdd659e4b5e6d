"""Scorecards (考评) in real Chromium: a county supervisor finds, from the menu, the month's
ranking with the unit that handled a resident's report and its rates as the API computes
them, the county with its towns, and downloads both tables' CSV and XLSX, whose rows are the
API's. Unit clerks have no entry and meet the no-access page."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.web.conftest import ConsolePlatform
from tests.web.console.test_console_clerk_case import serious_violations
from tests.web.console.test_console_sign_in import sign_in_through_the_form

COUNTY = "350623"  # 漳浦县


def this_month() -> dict[str, str]:
    today = (datetime.now(UTC) + timedelta(hours=8)).date()
    return {"period": "month", "date": str(today.replace(day=1))}


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def downloaded(page: Page, button: str) -> tuple[str, bytes]:
    with page.expect_download() as download:
        page.get_by_test_id(button).click()
    return download.value.suggested_filename, Path(download.value.path()).read_bytes()


def test_a_supervisor_reads_a_units_rates_and_exports_csv_and_xlsx(
    page: Page, console_platform: ConsolePlatform, screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    username = api.create_staff(None, ["supervisor"], f"scores-{uuid.uuid4().hex[:8]}",
                                regions=[COUNTY], display_name="漳浦县督办人员")
    token = api.sign_in(username)
    report = api.resident_reports_event("小区垃圾清运不及时，异味严重")
    unit = api.wait_assigned(report.id)
    found: dict[str, Any] = {}

    def scored() -> bool:
        items = api.call("GET", "/api/v1/feedback/scorecards/units", token,
                         params=this_month())["items"]
        found.update(next((i for i in items if i["unit_id"] == unit and i["cases"] > 0), {}))
        return bool(found)

    api.wait_until(scored, what="the unit's scorecard")
    name = found["unit_name"] or unit

    page.goto("/console/")
    sign_in_through_the_form(page, username)
    page.get_by_role("menuitem", name="考评").click()
    row = page.get_by_test_id("unit-table").get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text(percent(found["response_rate"]))
    expect(row).to_contain_text(percent(found["closed_loop_rate"]))
    expect(row).to_contain_text(percent(found["resolution_rate"]))
    expect(page.get_by_test_id("region-table")).to_contain_text("漳浦县")
    expect(page.get_by_test_id("scorecard-trend").locator("canvas").first).to_be_visible()
    screenshot(page, "scorecards")
    assert serious_violations(page) == []

    filename, content = downloaded(page, "export-units-csv")
    assert filename == "unit-scorecards.csv"
    rows = {r["unit_id"]: r for r in csv.DictReader(io.StringIO(content.decode("utf-8-sig")))}
    assert rows[unit]["cases"] == str(found["cases"])

    filename, content = downloaded(page, "export-units-xlsx")
    assert filename == "unit-scorecards.xlsx"
    sheet = list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))
    header = list(sheet[0])
    by_unit = {r[header.index("unit_id")]: r for r in sheet[1:]}
    assert by_unit[unit][header.index("cases")] == found["cases"]

    filename, content = downloaded(page, "export-region-xlsx")
    assert filename == f"region-{COUNTY}-scorecards.xlsx"
    sheet = list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))
    assert sheet[1][list(sheet[0]).index("region_code")] == COUNTY


def test_a_unit_clerk_has_no_scorecards_entry_and_meets_no_access(
    page: Page, console_platform: ConsolePlatform,
) -> None:
    api = console_platform.api
    unit = api.unit_of_kind("350623100001", "community")
    clerk = api.create_staff(unit, ["dept_staff"], f"clerk-{uuid.uuid4().hex[:8]}")
    page.goto("/console/")
    sign_in_through_the_form(page, clerk)
    expect(page.get_by_role("navigation")).to_contain_text("工作队列")
    expect(page.get_by_role("navigation")).not_to_contain_text("考评")
    page.goto("/console/scorecards")
    expect(page.get_by_test_id("no-access")).to_be_visible()


def test_a_unit_admin_sees_their_units_scorecard_without_the_regions(
    page: Page, console_platform: ConsolePlatform,
) -> None:
    api = console_platform.api
    unit = api.unit_of_kind("350623100001", "community")
    report = api.resident_reports_event("楼道堆放杂物，存在消防隐患")
    api.wait_assigned(report.id, unit)
    admin = api.create_staff(unit, ["dept_admin"], f"unit-admin-{uuid.uuid4().hex[:8]}")
    token = api.sign_in(admin)

    def scored() -> bool:
        items = api.call("GET", "/api/v1/feedback/scorecards/units", token,
                         params=this_month())["items"]
        return any(i["unit_id"] == unit and i["cases"] > 0 for i in items)

    api.wait_until(scored, what="the unit's scorecard")
    page.goto("/console/")
    sign_in_through_the_form(page, admin)
    page.get_by_role("menuitem", name="考评").click()
    expect(page.get_by_test_id("unit-table")).to_contain_text("绥安社区居委会")
    expect(page.get_by_test_id("export-units-xlsx")).to_be_visible()
    expect(page.get_by_test_id("region-table")).to_have_count(0)
    expect(page.get_by_test_id("export-region-csv")).to_have_count(0)
