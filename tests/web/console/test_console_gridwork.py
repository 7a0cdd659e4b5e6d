"""Grid-worker management (#19) in the console, in real Chromium: a town manager enrols a grid
worker, adds a training, assigns a task and finds the worker on the month's scorecard, whose
XLSX downloads; the worker signs in and sees their own figures and none of the managers'
pages. Leaving with open work is refused until a successor is named, then every open task
moves to the successor with a trail naming the manager."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.web.conftest import ADMIN_PASSWORD, DEFAULT_REGION, ConsoleApi, ConsolePlatform
from tests.web.console.test_console_clerk_case import serious_violations
from tests.web.console.test_console_sign_in import sign_in_through_the_form

Screenshot = Callable[[Page, str], Path]

TOWN = "350623100"  # 绥安镇; DEFAULT_REGION is a grid of its 绥安社区
WORKER_PASSWORD = "Grid-worker-2026!"


def town_manager(platform: ConsolePlatform) -> tuple[str, str]:
    """A town 平安办 dispatcher over 绥安镇: username and token."""
    api = platform.api
    username = api.create_staff(None, ["dispatcher"], f"town-{uuid.uuid4().hex[:8]}",
                                regions=[TOWN], display_name="绥安镇平安办")
    return username, api.sign_in(username)


def enrolled_worker(platform: ConsolePlatform, token: str, name: str,
                    username: str | None = None) -> str:
    """A grid worker of DEFAULT_REGION made and enrolled through the API; their user id."""
    api = platform.api
    account = api.call("POST", "/api/v1/identity/staff/grid-workers", token, status=201, json={
        "username": username or f"gw-{uuid.uuid4().hex[:8]}", "password": WORKER_PASSWORD,
        "display_name": name, "grid_codes": [DEFAULT_REGION]})
    api.call("POST", "/api/v1/routing/grid-workers", token, status=201, json={
        "user_id": account["id"], "display_name": name, "kind": "full_time",
        "grid_codes": [DEFAULT_REGION], "started_on": str(datetime.now(UTC).date())})
    return str(account["id"])


def tomorrow_evening() -> str:
    return (datetime.now(UTC) + timedelta(days=1)).isoformat()


def pick_grid(page: Page, testid: str, code: str = DEFAULT_REGION) -> None:
    """Type a grid code into a grid select and take the first match (Enter)."""
    select = page.get_by_test_id(testid)
    select.click()
    select.locator("input").fill(code)
    select.locator("input").press("Enter")
    expect(select).to_contain_text(code)


def test_a_town_manager_enrols_trains_tasks_and_scores_a_grid_worker(
    page: Page, console_platform: ConsolePlatform, screenshot: Screenshot,
) -> None:
    api = console_platform.api
    manager, token = town_manager(console_platform)
    worker_username = f"gw-{uuid.uuid4().hex[:8]}"
    user_id = _enrols_a_part_time_worker(page, api, token, manager, worker_username, screenshot)
    _trains_and_makes_full_time(page, api, token, user_id, screenshot)
    _assigns_a_task(page, api, token, user_id, screenshot)
    _finds_them_on_the_scorecard(page, user_id, screenshot)
    _the_worker_sees_only_their_own_figures(page, api, worker_username, user_id, screenshot)


def _enrols_a_part_time_worker(page: Page, api: ConsoleApi, token: str, manager: str,
                               worker_username: str, screenshot: Screenshot) -> str:
    page.goto("/console/gridwork")
    sign_in_through_the_form(page, manager)
    page.get_by_role("navigation", name="主菜单").get_by_text("网格员管理").click()
    expect(page.get_by_test_id("gridwork-workers")).to_be_visible()
    page.get_by_test_id("enrol-open").click()
    dialog = page.get_by_test_id("enrol-dialog")
    dialog.get_by_test_id("enrol-save").click()
    expect(dialog.get_by_test_id("enrol-problem")).to_contain_text("请填写登录账号、初始密码和姓名")
    dialog.get_by_label("姓名").fill("林晓梅")
    dialog.get_by_label("登录账号").fill(worker_username)
    dialog.get_by_label("初始密码").fill(WORKER_PASSWORD)
    dialog.get_by_label("联系电话").fill("13800138000")
    dialog.get_by_text("网格协管员").click()
    pick_grid(page, "enrol-grids")
    screenshot(page, "gridwork-enrol")
    dialog.get_by_test_id("enrol-save").click()

    detail = page.get_by_test_id("gridwork-worker")
    expect(detail.get_by_role("heading", name="林晓梅")).to_be_visible()
    expect(detail.get_by_test_id("worker-profile")).to_contain_text("网格协管员")
    expect(detail.get_by_test_id("worker-profile")).to_contain_text("绥安社区第一网格")
    expect(detail.get_by_test_id("worker-profile")).not_to_contain_text("13800138000")
    user_id = page.url.rsplit("/", 1)[-1]
    profile = api.call("GET", f"/api/v1/routing/grid-workers/{user_id}", token)
    assert profile["kind"] == "part_time"
    assert profile["grid_codes"] == [DEFAULT_REGION]

    return user_id


def _trains_and_makes_full_time(page: Page, api: ConsoleApi, token: str, user_id: str,
                                screenshot: Screenshot) -> None:
    detail = page.get_by_test_id("gridwork-worker")
    form = detail.get_by_test_id("training-form")
    form.get_by_label("课程").fill("网格员入户走访规范")
    form.get_by_test_id("training-add").click()
    expect(detail.get_by_test_id("trainings-table")).to_contain_text("网格员入户走访规范")
    expect(detail.get_by_test_id("trainings-table")).to_contain_text("合格")
    trainings = api.call("GET", f"/api/v1/routing/grid-workers/{user_id}", token)["trainings"]
    assert [t["course"] for t in trainings] == ["网格员入户走访规范"]
    assert serious_violations(page) == []
    screenshot(page, "gridwork-worker-detail")

    detail.get_by_test_id("edit-open").click()
    edit = page.get_by_test_id("edit-dialog")
    edit.get_by_text("专职网格员").click()
    edit.get_by_test_id("edit-save").click()
    expect(edit).to_be_hidden()
    expect(detail.get_by_test_id("worker-profile")).to_contain_text("专职网格员")
    assert api.call("GET", f"/api/v1/routing/grid-workers/{user_id}", token)["kind"] == "full_time"



def _assigns_a_task(page: Page, api: ConsoleApi, token: str, user_id: str,
                    screenshot: Screenshot) -> None:
    page.get_by_test_id("gridwork-nav").get_by_role("link", name="网格任务").click()
    page.get_by_test_id("assign-open").click()
    assign = page.get_by_test_id("assign-dialog")
    assign.get_by_label("任务", exact=True).fill("周五前走访网格内独居老人")
    pick_grid(page, "task-grid")
    page.get_by_test_id("task-worker").click()
    page.get_by_role("option", name="林晓梅").click()
    assign.get_by_test_id("assign-save").click()
    expect(assign).to_be_hidden()
    row = page.get_by_test_id("tasks-table").get_by_role("row").filter(
        has_text="周五前走访网格内独居老人")
    expect(row).to_contain_text("林晓梅")
    expect(row).to_contain_text("进行中")
    [task] = api.call("GET", "/api/v1/routing/grid-tasks", token,
                      params={"worker_id": user_id})["items"]
    assert task["title"] == "周五前走访网格内独居老人"
    assert task["status"] == "open"
    screenshot(page, "gridwork-tasks")



def _finds_them_on_the_scorecard(page: Page, user_id: str, screenshot: Screenshot) -> None:
    page.get_by_test_id("gridwork-nav").get_by_role("link", name="网格员考评").click()
    workers = page.get_by_test_id("grid-scorecard-workers")
    expect(workers).to_contain_text("林晓梅")
    expect(page.get_by_test_id("grid-scorecard-grids")).to_contain_text(DEFAULT_REGION)
    with page.expect_download() as download:
        page.get_by_test_id("grid-scorecard-export").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    assert sheet is not None
    assert any(user_id == str(cell) for r in sheet.iter_rows(values_only=True) for cell in r)
    screenshot(page, "gridwork-scorecards")



def _the_worker_sees_only_their_own_figures(page: Page, api: ConsoleApi, worker_username: str,
                                            user_id: str, screenshot: Screenshot) -> None:
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("sign-out").click()
    sign_in_through_the_form(page, worker_username, WORKER_PASSWORD)
    nav = page.get_by_role("navigation", name="主菜单")
    expect(nav).to_contain_text("我的考评")
    expect(nav).not_to_contain_text("网格员管理")
    nav.get_by_text("我的考评").click()
    expect(page.get_by_test_id("my-figures-table")).to_contain_text("入户走访")
    mine = api.call("GET", "/api/v1/feedback/grid-scorecards/me", api.sign_in(
        worker_username, WORKER_PASSWORD))
    assert mine["worker"]["worker_id"] == user_id
    screenshot(page, "gridwork-my-figures")
    page.goto("/console/gridwork/workers")
    expect(page.get_by_test_id("no-access")).to_be_visible()


def test_leaving_with_open_work_is_refused_without_a_successor_then_moves_it(
    page: Page, console_platform: ConsolePlatform, screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    manager, token = town_manager(console_platform)
    leaver = enrolled_worker(console_platform, token, "陈建国")
    successor = enrolled_worker(console_platform, token, "黄丽娟")
    task = api.call("POST", "/api/v1/routing/grid-tasks", token, status=201, json={
        "title": "排查沿街商铺消防通道", "grid_code": DEFAULT_REGION, "worker_id": leaver,
        "due_at": tomorrow_evening()})
    manager_id = api.call("GET", "/api/v1/identity/me", token)["id"]

    page.goto(f"/console/gridwork/workers/{leaver}")
    sign_in_through_the_form(page, manager)
    detail = page.get_by_test_id("gridwork-worker")
    expect(detail.get_by_test_id("worker-tasks")).to_contain_text("排查沿街商铺消防通道")
    detail.get_by_test_id("leave-open").click()
    dialog = page.get_by_test_id("leave-dialog")
    dialog.get_by_label("离岗原因").fill("调往县综治中心")
    dialog.get_by_test_id("leave-save").click()
    expect(dialog.get_by_test_id("leave-problem")).to_contain_text(
        "该网格员还有未完成的任务或核查，请先指定接替人")
    screenshot(page, "gridwork-leave-refused")
    assert api.call("GET", f"/api/v1/routing/grid-workers/{leaver}", token)["status"] == "active"
    assert api.call("GET", f"/api/v1/routing/grid-tasks/{task['id']}", token)[
        "worker_id"] == leaver  # nothing was written

    dialog.get_by_test_id("leave-successor").click()
    page.get_by_role("option", name="黄丽娟").click()
    dialog.get_by_test_id("leave-save").click()
    expect(dialog).to_be_hidden()
    expect(detail.get_by_test_id("worker-status")).to_have_text("已离岗")
    expect(detail.get_by_test_id("worker-profile")).to_contain_text("黄丽娟")  # the successor
    screenshot(page, "gridwork-leave-done")

    moved: dict[str, Any] = api.call("GET", f"/api/v1/routing/grid-tasks/{task['id']}", token)
    assert moved["worker_id"] == successor
    assert moved["status"] == "open"
    [handover] = [e for e in moved["trail"] if e["from_worker_id"] == leaver]
    assert handover["to_worker_id"] == successor
    assert handover["actor_id"] == manager_id
    page.goto(f"/console/gridwork/workers/{successor}")
    row = page.get_by_test_id("worker-tasks").get_by_role("row").filter(
        has_text="排查沿街商铺消防通道")
    row.locator(".el-table__expand-icon").click()
    expect(page.get_by_test_id("worker-tasks")).to_contain_text("移交")
    expect(page.get_by_test_id("worker-tasks")).to_contain_text("陈建国")  # moved from
    expect(page.get_by_test_id("worker-tasks")).to_contain_text("绥安镇平安办")
    screenshot(page, "gridwork-handover-trail")


def patrol_walked(platform: ConsolePlatform, worker_token: str) -> str:
    """A worker's finished patrol of 20 points along a street of the grid; its id."""
    api = platform.api
    patrol_id = str(uuid.uuid4())
    start = datetime.now(UTC) - timedelta(minutes=40)
    api.call("POST", "/api/v1/routing/patrols", worker_token, status=201, json={
        "id": patrol_id, "grid_code": DEFAULT_REGION, "started_at": start.isoformat()})
    points = [{"lat": 24.1160 + i * 0.0003, "lng": 117.6130 + (i % 5) * 0.0004,
               "at": (start + timedelta(minutes=i)).isoformat()} for i in range(20)]
    api.call("POST", f"/api/v1/routing/patrols/{patrol_id}/points", worker_token,
             json={"batch_seq": 0, "points": points})
    api.call("POST", f"/api/v1/routing/patrols/{patrol_id}/finish", worker_token,
             json={"ended_at": (start + timedelta(minutes=20)).isoformat()})
    return patrol_id


def test_a_manager_sets_the_roster_and_area_then_sees_the_patrol_on_the_map(
    page: Page, console_platform: ConsolePlatform, screenshot: Screenshot,
) -> None:
    api = console_platform.api
    manager, token = town_manager(console_platform)
    worker_username = f"gw-{uuid.uuid4().hex[:8]}"
    worker = enrolled_worker(console_platform, token, "郑海峰", worker_username)
    worker_token = api.sign_in(worker_username, WORKER_PASSWORD)
    patrol_walked(console_platform, worker_token)

    page.goto("/console/gridwork/roster")
    sign_in_through_the_form(page, manager)
    pick_grid(page, "roster-grid")
    roster = page.get_by_test_id("roster-table")
    first_day = roster.get_by_role("row").nth(1)
    first_day.get_by_test_id("roster-workers").click()
    page.get_by_role("option", name="郑海峰").click()
    first_day.get_by_role("button", name="保存").click()
    expect(page.get_by_role("alert").filter(has_text="排班已保存")).to_be_visible()
    [day] = api.call("GET", f"/api/v1/routing/grids/{DEFAULT_REGION}/roster", token)["items"][:1]
    assert day["worker_ids"] == [worker]

    area = page.get_by_test_id("area-editor")
    area.get_by_role("img", name="网格范围").click(position={"x": 100, "y": 100})
    expect(area.get_by_test_id("area-text")).to_have_value(re.compile(r"^-?\d+\.\d+,-?\d+\.\d+$"))
    area.get_by_test_id("area-text").fill("24.1150,117.6120\n24.1150,117.6160")
    area.get_by_test_id("area-save").click()
    expect(area.get_by_role("alert")).to_contain_text("至少需要 3 个顶点")
    area.get_by_test_id("area-text").fill(
        "24.1150,117.6120\n24.1150,117.6160\n24.1225,117.6160\n24.1225,117.6120")
    area.get_by_test_id("area-save").click()
    expect(page.get_by_role("alert").filter(has_text="网格范围已保存")).to_be_visible()
    saved = api.call("GET", f"/api/v1/routing/grids/{DEFAULT_REGION}/area", token)
    assert len(saved["polygon"]) == 4
    screenshot(page, "gridwork-roster-area")

    _sees_the_patrol_on_the_map(page, screenshot)
    _sees_the_far_check_out_flagged(page, api, worker, worker_token, screenshot)


def _sees_the_patrol_on_the_map(page: Page, screenshot: Screenshot) -> None:
    page.get_by_test_id("gridwork-nav").get_by_role("link", name="巡查地图").click()
    page.get_by_test_id("patrol-worker").click()
    page.get_by_role("option", name="郑海峰").click()
    pick_grid(page, "patrol-grid")
    page.get_by_test_id("patrol-show").click()
    expect(page.get_by_test_id("grid-map")).to_have_attribute("data-tracks", "1")
    expect(page.get_by_test_id("patrol-line")).to_have_count(1)
    expect(page.get_by_test_id("patrols-table")).to_contain_text("20")
    expect(page.get_by_test_id("coverage-ratio")).to_contain_text("覆盖率")
    assert int(page.get_by_test_id("grid-map").get_attribute("data-cells") or 0) > 0
    screenshot(page, "gridwork-patrol-map")


def _sees_the_far_check_out_flagged(page: Page, api: ConsoleApi, worker: str, worker_token: str,
                                    screenshot: Screenshot) -> None:
    now = datetime.now(UTC)
    for kind, lat, lng in (("in", 24.1190, 117.6140), ("out", 24.2500, 117.7500)):  # 18 km off
        api.call("POST", "/api/v1/routing/duty/check-ins", worker_token, status=201, json={
            "kind": kind, "grid_code": DEFAULT_REGION, "lat": lat, "lng": lng,
            "at": now.isoformat()})
    api.call("POST", "/api/v1/routing/duty/logs", worker_token, status=201, json={
        "day": str((now + timedelta(hours=8)).date()), "grid_code": DEFAULT_REGION,
        "text": "走访沿街商铺，群众反映路灯不亮"})
    page.goto(f"/console/gridwork/workers/{worker}")
    check_ins = page.get_by_test_id("checkins-table")
    expect(check_ins.get_by_test_id("checkin-flag")).to_have_count(1)
    expect(check_ins.get_by_role("row").filter(has_text="签退")).to_contain_text("远离网格范围")
    expect(check_ins.get_by_role("row").filter(has_text="签到")).not_to_contain_text("远离")
    expect(page.get_by_test_id("logs-table")).to_contain_text("走访沿街商铺，群众反映路灯不亮")
    screenshot(page, "gridwork-checkins")


def test_an_admin_weights_the_grid_scorecard_and_a_dispatcher_only_reads_the_weights(
    page: Page, console_platform: ConsolePlatform, screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    before = api.call("GET", "/api/v1/feedback/grid-scorecards/weights", api.admin_token)
    try:
        page.goto("/console/gridwork/scorecards")
        sign_in_through_the_form(page, "admin", ADMIN_PASSWORD)
        weights = page.get_by_test_id("weights")
        visits = weights.get_by_role("spinbutton", name="入户走访")
        visits.fill("35")
        weights.get_by_test_id("weights-save").click()
        expect(page.get_by_role("alert").filter(has_text="权重已保存")).to_be_visible()
        saved = api.call("GET", "/api/v1/feedback/grid-scorecards/weights", api.admin_token)
        assert saved["visits"] == 35
        assert saved["reports"] == before["reports"]  # the others as they were
        screenshot(page, "gridwork-weights")
    finally:
        api.call("PUT", "/api/v1/feedback/grid-scorecards/weights", api.admin_token, json=before)

    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("sign-out").click()
    manager, _ = town_manager(console_platform)
    page.goto("/console/gridwork/scorecards")
    sign_in_through_the_form(page, manager)
    expect(page.get_by_test_id("weights")).to_contain_text("入户走访")
    expect(page.get_by_test_id("weights").get_by_role("spinbutton")).to_have_count(0)
    expect(page.get_by_test_id("weights-save")).to_have_count(0)
