"""A grid worker's day in the grid app, in Chromium on a phone-sized screen with a mocked
location: signs in, checks in, records a patrol while the location moves, completes a task
from their manager, visits a household, reports an event and, once the community's clerk has
handled it, verifies it on site; then, without signal, reports (filling in the category's
template field) and visits again and the app shows both waiting; with the signal back both
arrive exactly once (counted in the database, although the first answer to the report is lost
on the way back and the app sends it again) and the event is routed to its community.

One long journey rather than many short ones: the platform and the browser are the cost.
A second, short one: a check-in far outside the grid is recorded, flagged and shown so."""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import BrowserContext, Page, Route, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db.migrate import schema_name
from tests.identity.conftest import unique_id_number
from tests.web.conftest import (
    STAFF_PASSWORD,
    ConsoleApi,
    ConsolePlatform,
    sample_png,
)
from tests.web.console.test_console_clerk_case import serious_violations

# 芗城区西桥社区第一网格: no other test puts grid workers there, so its verification duties
# (which go to a worker on the grid's roster) are this worker's.
COMMUNITY = "350602001001"
GRID = f"{COMMUNITY}001"
LAT, LNG = 24.5130, 117.6470
# The grid's area: a square of about a kilometre around the worker.
AREA = [[LAT - 0.005, LNG - 0.005], [LAT - 0.005, LNG + 0.005], [LAT + 0.005, LNG + 0.005],
        [LAT + 0.005, LNG - 0.005]]
WAIT_MS = 20_000
HOUSEHOLD = "XQ-18-302"  # the registry's household of both residents


def query(database_url: str, sql: str, **params: Any) -> list[Any]:
    """Rows of one SQL query, run in a thread of its own: this thread's loop is Playwright's."""
    rows: list[Any] = []
    failure: list[BaseException] = []

    async def run() -> None:
        engine = create_async_engine(database_url.replace("postgresql://", "postgresql+asyncpg://"))
        try:
            async with engine.connect() as conn:
                rows.extend((await conn.execute(text(sql), params)).all())
        finally:
            await engine.dispose()

    def work() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # re-raised in the test's thread
            failure.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(60)
    if failure:
        raise failure[0]
    return rows


def a_worker_on_duty(api: ConsoleApi) -> tuple[str, str, str]:
    """A grid worker of GRID enrolled and on today's roster with a task from the manager, the
    grid's area drawn, two residents entered in the grid's registry; (username, user id,
    task id)."""
    username = api.create_staff(None, ["grid_worker"], regions=[GRID], display_name="林网格")
    pair = api.call("POST", "/api/v1/identity/staff-login",
                    json={"username": username, "password": STAFF_PASSWORD})
    worker_id = str(pair["user"]["id"])
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    api.call("PUT", f"/api/v1/routing/grids/{GRID}/area", api.admin_token, json={"polygon": AREA})
    api.call("POST", "/api/v1/routing/grid-workers", api.admin_token, status=201, json={
        "user_id": worker_id, "display_name": "林网格", "kind": "full_time",
        "grid_codes": [GRID], "started_on": today})
    api.call("PUT", f"/api/v1/routing/grids/{GRID}/roster/{today}", api.admin_token,
             json={"worker_ids": [worker_id], "starts": "08:30", "ends": "17:30"})
    due = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    task = api.call("POST", "/api/v1/routing/grid-tasks", api.admin_token, status=201, json={
        "title": "周五前走访网格内独居老人", "grid_code": GRID, "worker_id": worker_id,
        "due_at": due})
    for name in ("王秀英", "陈德福"):
        entered = api.http.post("/api/v1/identity/registry/people", json={
            "id_number": unique_id_number("350623"), "name": name, "region_code": GRID,
            "household_id": HOUSEHOLD},
            headers={"Authorization": f"Bearer {api.admin_token}"})
        assert entered.status_code in (200, 201), entered.text
    return username, worker_id, str(task["id"])


def signs_in(page: Page, username: str) -> None:
    page.goto("/grid/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url("/grid/today", timeout=WAIT_MS)
    # The service worker has kept the app: from here on it opens without signal.
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => !!r.active)")


def tab(page: Page, name: str) -> None:
    page.locator(".van-tabbar-item", has_text=name).click()


def verifies_on_site(page: Page, api: ConsoleApi, username: str, case_id: str,
                     screenshot: Callable[[Page, str], Path]) -> None:
    """The community's clerk handles the case; its verification duty reaches the worker, who
    passes it on site in the app."""
    unit = api.unit_of_kind(COMMUNITY, "community")
    api.wait_assigned(case_id, unit)
    clerk = api.sign_in(api.create_staff(unit, ["dept_staff"], regions=[COMMUNITY]))
    for action, body in (("accept", {"note": None}), ("start", {"note": None}),
                         ("result", {"result": "已联系物业清理，通道已畅通"})):
        api.call("POST", f"/api/v1/events/{case_id}/{action}", clerk, json=body)
    case_no = api.case(case_id)["case_no"]
    worker = api.sign_in(username)

    def duty_made() -> bool:  # routing makes it as it hears of the result
        return bool(api.call("GET", "/api/v1/routing/grid-tasks", worker, params={
            "kind": "verification", "status": "open"})["items"])

    api.wait_until(duty_made, within=30, what="a verification duty for the worker")
    tab(page, "今日")
    tab(page, "任务")
    duty = page.locator("[data-test=task]", has_text="核查")
    duty.click()
    expect(page.get_by_text(case_no, exact=True)).to_be_visible()
    expect(page.get_by_text("巷口堆放杂物")).to_be_visible()
    expect(page.locator("[data-test=case-result]")).to_contain_text("已联系物业清理")
    page.get_by_text("核查通过").click()
    page.locator("[data-test=task-note] textarea").fill("现场查看，通道已清理干净")
    screenshot(page, "grid-verify")
    assert accessibility_findings(page) == []
    page.locator("[data-test=task-submit]").click()
    expect(page).to_have_url("/grid/tasks")
    nothing_waits(page)
    assert api.case(case_id)["status"] == "closed"


def accessibility_findings(page: Page) -> list[str]:
    """axe's serious findings once the passing toast (Vant's, a nameless dialog) has gone."""
    expect(page.locator(".van-toast")).to_be_hidden(timeout=WAIT_MS)
    return serious_violations(page)


def nothing_waits(page: Page) -> None:
    expect(page.locator("[data-test=waiting-count]")).to_have_count(0, timeout=WAIT_MS)
    expect(page.locator("[data-test=outbox-badge] .van-tag--danger")).to_have_count(0)


def checks_in(page: Page) -> None:
    page.locator("[data-test=check-in]").click()
    expect(page.locator("[data-test=duty-state]")).to_contain_text("已签到")
    nothing_waits(page)


def records_a_patrol(page: Page, context: BrowserContext,
                     screenshot: Callable[[Page, str], Path]) -> None:
    tab(page, "巡查")
    page.locator("[data-test=patrol-start]").click()
    state = page.locator("[data-test=patrol-state]")
    expect(state).to_contain_text("已记录 1 个点")
    for step in (1, 2, 3):  # about 55 m north-east each time
        context.set_geolocation({"latitude": LAT + 0.0004 * step,
                                 "longitude": LNG + 0.0003 * step, "accuracy": 8})
        expect(state).to_contain_text(f"已记录 {step + 1} 个点", timeout=WAIT_MS)
    expect(page.locator("[data-test=patrol-track] polyline")).to_be_visible()
    screenshot(page, "grid-patrol")
    page.locator("[data-test=patrol-finish]").click()
    expect(page.locator("[data-test=patrol-start]")).to_be_visible(timeout=WAIT_MS)
    nothing_waits(page)


def completes_the_task(page: Page, title: str) -> None:
    tab(page, "任务")
    page.locator("[data-test=task]", has_text=title).click()
    page.locator("[data-test=task-note] textarea").fill("已逐户走访3位独居老人，情况良好")
    page.locator("[data-test=task-submit]").click()
    expect(page).to_have_url("/grid/tasks")
    nothing_waits(page)
    expect(page.locator("[data-test=task]", has_text=title)).to_have_count(0)


def visits(page: Page, note: str) -> None:
    tab(page, "走访")
    page.locator("[data-test=person]").first.click()
    page.locator("[data-test=visit-note] textarea").fill(note)
    page.locator("[data-test=visit-submit]").click()
    expect(page.locator("[data-test=visit-note] textarea")).to_have_value("")


def reports(page: Page, description: str, photo: Path, kind: str = "邻里纠纷",
            employer: str | None = None,
            screenshot: Callable[[Page, str], Path] | None = None) -> None:
    """A report of ``kind`` (under 社会矛盾); 劳动争议's template asks for the employer: the
    form refuses the report until it is filled in."""
    tab(page, "上报")
    category = page.locator("[data-test=category]")
    if kind not in category.inner_text():  # the form keeps the last report's category
        category.click()
        page.locator(".van-cascader__option", has_text="社会矛盾").click()
        page.locator(".van-cascader__option", has_text=kind).click()
    expect(category).to_contain_text(kind)
    page.locator("[data-test=description] textarea").fill(description)
    if employer:
        page.locator("[data-test=report-submit]").click()
        expect(page.locator(".van-toast")).to_contain_text("请填写“用人单位”")
        page.locator("[data-test=field-employer] input").fill(employer)
    page.locator("input[type=file]").set_input_files(str(photo))
    expect(page.locator(".van-uploader__preview")).to_have_count(1)
    expect(page.locator("[data-test=location]")).to_contain_text(f"{LAT:.1f}")
    if screenshot:
        assert accessibility_findings(page) == []  # once the refusal's toast has gone
        screenshot(page, "grid-report-fields")
    page.locator("[data-test=report-submit]").click()
    expect(page.locator("[data-test=description] textarea")).to_have_value("")


@dataclass
class Day:
    """One worker's day: their phone, the platform, and where to count what arrived."""

    page: Page
    context: BrowserContext
    api: ConsoleApi
    database_url: str
    prefix: str
    username: str
    worker_id: str
    photo: Path
    screenshot: Callable[[Page, str], Path]

    def rows(self, sql: str, **params: Any) -> list[Any]:
        """``sql`` with ``{identity}``, ``{events}`` and ``{routing}`` naming the schemas."""
        schemas = {s: schema_name(s, self.prefix) for s in ("identity", "events", "routing")}
        return query(self.database_url, sql.format(**schemas),
                     w=uuid.UUID(self.worker_id), **params)


CASES = "SELECT id, channel FROM {events}.cases WHERE description = :d"
VISITS = "SELECT count(*) FROM {identity}.household_visits WHERE worker_id = :w"


def starts_the_day(day: Day) -> None:
    page = day.page
    signs_in(page, day.username)
    expect(page.locator(".van-cell", has_text="08:30")).to_be_visible()
    checks_in(page)
    page.locator("[data-test=log-text] textarea").fill("网格内新开一家棋牌室，需关注夜间噪音")
    page.get_by_role("button", name="提交").click()
    nothing_waits(page)
    day.screenshot(page, "grid-today")
    assert accessibility_findings(page) == []
    [(flagged,)] = day.rows("SELECT flagged FROM {routing}.check_ins WHERE worker_id = :w")
    assert flagged is False  # inside the grid's area
    assert day.rows("SELECT text FROM {routing}.duty_logs WHERE worker_id = :w") == [
        ("网格内新开一家棋牌室，需关注夜间噪音",)]


def patrols_and_does_the_task(day: Day, task_id: str) -> None:
    records_a_patrol(day.page, day.context, day.screenshot)
    [(status, points, stored)] = day.rows(
        "SELECT p.status, p.points, (SELECT count(*) FROM {routing}.patrol_points pp "
        "WHERE pp.patrol_id = p.id) FROM {routing}.patrols p WHERE p.worker_id = :w")
    assert status == "finished"
    assert points == stored >= 4
    completes_the_task(day.page, "周五前走访网格内独居老人")
    day.screenshot(day.page, "grid-tasks")
    done = day.api.call("GET", f"/api/v1/routing/grid-tasks/{task_id}", day.api.admin_token)
    assert done["status"] == "done"
    assert done["completed_by"] == day.worker_id
    assert done["on_time"] is True


def visits_reports_and_verifies(day: Day) -> None:
    page = day.page
    visits(page, "独居老人，身体尚可，需定期探望")
    nothing_waits(page)
    assert day.rows("SELECT household_id FROM {identity}.household_visits "
                    "WHERE worker_id = :w") == [(HOUSEHOLD,)]
    online_report = f"巷口堆放杂物堵塞消防通道 {uuid.uuid4().hex[:6]}"
    reports(page, online_report, day.photo)
    nothing_waits(page)
    day.screenshot(page, "grid-report")
    assert accessibility_findings(page) == []
    [(first_case, _)] = day.rows(CASES, d=online_report)
    verifies_on_site(page, day.api, day.username, str(first_case), day.screenshot)


def works_without_signal(day: Day) -> str:
    """A report (with a photo) and a visit made offline wait on the phone; the report's
    description."""
    page = day.page
    day.context.set_offline(True)
    expect(page.locator("[data-test=offline]")).to_be_visible()
    offline_report = f"工地拖欠多名工人工资 {uuid.uuid4().hex[:6]}"
    reports(page, offline_report, day.photo, "劳动争议", employer="鑫达建筑工程公司",
            screenshot=day.screenshot)
    visits(page, "再次走访，家中无人，已电话联系")
    expect(page.locator("[data-test=waiting-count]")).to_have_text("2 条待发送")
    page.locator("[data-test=outbox-badge]").click()
    expect(page.locator("[data-test=outbox-item]")).to_have_count(2)
    expect(page.locator("[data-test=outbox-item]").first).to_contain_text("事件上报")
    # The app opens without signal (its service worker), the queue still on the phone.
    page.reload()
    expect(page.locator("[data-test=outbox-item]")).to_have_count(2, timeout=WAIT_MS)
    day.screenshot(page, "grid-offline-waiting")
    assert accessibility_findings(page) == []
    assert day.rows(CASES, d=offline_report) == []
    assert day.rows(VISITS) == [(1,)]
    return offline_report


def signal_returns_and_an_answer_is_lost(day: Day, offline_report: str) -> None:
    """Back online, the report's first answer is lost on its way back: the app sends it
    again with the same key, and the case is made once."""
    lost: list[str] = []

    def lose_first_answer(route: Route) -> None:
        if route.request.method == "POST" and not lost:
            lost.append(route.request.headers.get("idempotency-key", ""))
            route.fetch()  # the server makes the case ...
            route.abort("connectionreset")  # ... and the phone never hears of it
        else:
            route.continue_()

    day.page.route("**/api/v1/events", lose_first_answer)
    day.context.set_offline(False)
    expect(day.page.locator("[data-test=outbox-empty]")).to_be_visible(timeout=60_000)
    day.screenshot(day.page, "grid-outbox-sent")
    assert lost, "the report was not sent"
    assert lost[0], "the report was sent without an Idempotency-Key"
    made = day.rows(CASES, d=offline_report)
    assert len(made) == 1, made  # sent twice, made once
    assert day.rows(VISITS) == [(2,)]
    event_id, channel = str(made[0][0]), made[0][1]
    assert channel == "grid_worker"
    case = day.api.case(event_id)
    assert len(case["attachments"]) == 1  # the photo kept offline
    assert case["fields"] == {"employer": "鑫达建筑工程公司"}  # and its template field
    day.api.wait_assigned(event_id, day.api.unit_of_kind(COMMUNITY, "community"))


def reads_own_figures_and_signs_out(day: Day) -> None:
    api, page = day.api, day.page
    worker_token = api.sign_in(day.username)
    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")

    def counted() -> bool:
        mine = api.call("GET", "/api/v1/feedback/grid-scorecards/me", worker_token,
                        params={"month": month})
        return bool(mine["worker"]["figures"]["visits"] == 2)

    api.wait_until(counted, within=30, what="two visits in the worker's figures")
    tab(page, "我的")
    visits_row = page.locator("[data-test=figures] .van-cell", has_text="入户走访")
    expect(visits_row).to_contain_text("2")
    day.screenshot(page, "grid-mine")
    assert accessibility_findings(page) == []
    page.locator("[data-test=sign-out]").click()
    expect(page).to_have_url(re.compile(r"/grid/sign-in"))


def test_a_grid_worker_works_with_and_without_signal_and_nothing_arrives_twice(
    phone: Callable[[float, float], BrowserContext], console_platform: ConsolePlatform,
    database_url: str, screenshot: Callable[[Page, str], Path], tmp_path: Path,
) -> None:
    api = console_platform.api
    username, worker_id, task_id = a_worker_on_duty(api)
    photo = tmp_path / "scene.png"
    photo.write_bytes(sample_png())
    context = phone(LAT, LNG)
    day = Day(page=context.new_page(), context=context, api=api, database_url=database_url,
              prefix=console_platform.prefix, username=username, worker_id=worker_id,
              photo=photo, screenshot=screenshot)
    starts_the_day(day)
    patrols_and_does_the_task(day, task_id)
    visits_reports_and_verifies(day)
    offline_report = works_without_signal(day)
    signal_returns_and_an_answer_is_lost(day, offline_report)
    reads_own_figures_and_signs_out(day)


def test_a_check_in_far_outside_the_grid_is_recorded_and_flagged_not_refused(
    phone: Callable[[float, float], BrowserContext], console_platform: ConsolePlatform,
    database_url: str, screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    api.call("PUT", f"/api/v1/routing/grids/{GRID}/area", api.admin_token, json={"polygon": AREA})
    username = api.create_staff(None, ["grid_worker"], regions=[GRID], display_name="郑网格")
    page = phone(LAT + 0.05, LNG).new_page()  # about 5.5 km north of the grid
    signs_in(page, username)
    page.locator("[data-test=check-in]").click()
    nothing_waits(page)
    expect(page.locator("[data-test=flagged]")).to_contain_text("不在网格范围内")
    # No roster names the grid today: its name comes from the directory, its code below it.
    expect(page.locator(f"[data-test=grid-{GRID}]")).to_contain_text(f"西桥社区第一网格{GRID}")
    screenshot(page, "grid-check-in-flagged")
    routing = schema_name("routing", console_platform.prefix)
    worker_id = api.call("POST", "/api/v1/identity/staff-login", json={
        "username": username, "password": STAFF_PASSWORD})["user"]["id"]
    [(flagged, reason, distance)] = query(
        database_url, f"SELECT flagged, flag_reason, distance_m FROM {routing}.check_ins "
        "WHERE worker_id = :w", w=uuid.UUID(worker_id))
    assert flagged is True
    assert reason == "far_outside_grid"
    assert distance > 5_000
