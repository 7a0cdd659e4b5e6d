"""Relief reviewers work applications in the console, by clicking and typing: three reviewers,
one of each joint-review agency, each find the application in their own queue, one looks at
the full identity through the audited reveal (a reason is required), each gives their consent,
and the application shows it is under public notice (公示). API calls only play the resident
and the town office that accepted the application. Also: who is not a reviewer sees no menu
entry and the no-access page; the page passes axe-core."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.identity.conftest import make_id_number, unique_id_number
from tests.web.conftest import ConsolePlatform
from tests.web.console.test_console_clerk_actions import signs_out
from tests.web.console.test_console_clerk_case import serious_violations
from tests.web.console.test_console_sign_in import sign_in_through_the_form

COUNTY = "350623"  # 漳浦县: the reviewers' scope
GRID = "350623100001001"  # 绥安社区 first grid: where the applicant is registered
JOINT_REVIEW = (("ping_an_office", "平安办"), ("civil_affairs", "民政局"),
                ("agriculture", "农业农村局"))


def registered_resident(console_platform: ConsolePlatform, name: str, *, minor: bool = False
                        ) -> str:
    """A resident of the registry (entered by the admin) who logs in through WeChat and passes
    real-name verification (a 15-year-old, when ``minor``); their access token carrying the
    verified claim."""
    api = console_platform.api
    id_number = unique_id_number(COUNTY)
    if minor:
        born = date.today().replace(year=date.today().year - 15, day=1)
        id_number = make_id_number(COUNTY, born, seq=uuid.uuid4().int % 1000)
    api.call("POST", "/api/v1/identity/registry/people", api.admin_token, json={
        "id_number": id_number, "name": name, "region_code": GRID,
        "household_id": f"hh-{uuid.uuid4().hex[:8]}", "address": "绥安镇中山路18号"})
    code = f"r{uuid.uuid4().hex[:12]}"
    login = {"code": code}
    token = api.call("POST", "/api/v1/identity/wechat-login", json=login)["access_token"]
    api.call("POST", "/api/v1/identity/me/verification", token,
             json={"name": name, "id_number": id_number})
    api.wait_until(lambda: api.call("GET", "/api/v1/identity/me", token).get("verified") is True,
                   what="resident verified")
    return str(api.call("POST", "/api/v1/identity/wechat-login", json=login)["access_token"])


def accepted_application(console_platform: ConsolePlatform, reason: str, name: str = "陈秀英",
                         *, minor: bool = False) -> str:
    """A 低保 application the resident filed and the town office accepted: in joint review."""
    api = console_platform.api
    resident = registered_resident(console_platform, name, minor=minor)
    deadline = time.monotonic() + 15
    while True:  # relief learns the verification through the broker
        response = api.http.post("/api/v1/relief/applications",
                                 json={"kind": "dibao", "reason": reason},
                                 headers={"Authorization": f"Bearer {resident}"})
        if response.status_code == 201 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response.status_code == 201, response.text
    application = str(response.json()["id"])
    town = api.sign_in(api.create_staff(None, ["reviewer"], regions=[COUNTY], agency="town",
                                        display_name="绥安镇社会事务办"))
    api.call("POST", f"/api/v1/relief/applications/{application}/accept", town)
    return application


def test_three_agencies_approve_from_their_own_queues_and_the_notice_starts(
    page: Page, console_platform: ConsolePlatform, screenshot: Callable[[Page, str], Path],
) -> None:
    api = console_platform.api
    reason = "家中主要劳动力因病丧失劳动能力，收入不足以维持基本生活"
    application = accepted_application(console_platform, reason, "鲍秀英")
    reviewers = [(api.create_staff(None, ["reviewer"], regions=[COUNTY], agency=agency,
                                   display_name=f"{label}审核员"), label)
                 for agency, label in JOINT_REVIEW]
    page.goto("/console/")
    for n, (username, label) in enumerate(reviewers):
        sign_in_through_the_form(page, username)
        expect(page).to_have_url(re.compile(r"/console/relief$"))
        expect(page.get_by_test_id("agency")).to_contain_text(label)
        rows = page.get_by_test_id("relief-queue").locator("tbody tr")
        row = rows.filter(has_text="鲍**")  # masked in the queue
        expect(row).to_have_count(1)
        expect(row).to_contain_text("最低生活保障")
        if n == 0:
            expect(row).to_contain_text("漳浦县 / 绥安镇 / 绥安社区")  # names, not a code
            screenshot(page, "relief-queue")
            assert serious_violations(page) == []
        row.get_by_role("link").click()
        expect(page.get_by_test_id("relief-facts")).to_contain_text("联合审核")
        if n == 0:
            reveals_the_identity_with_a_reason(page, screenshot)
        expect(page.get_by_test_id("relief-notice")).to_have_text("尚未进入公示")
        page.get_by_test_id("act-agree").click()
        dialog = page.get_by_role("dialog", name="同意")
        dialog.get_by_label("审核意见").fill(f"{label}核实情况属实，同意")
        dialog.get_by_role("button", name="确定").click()
        expect(dialog).to_be_hidden()
        expect(page.get_by_test_id("relief-opinions")).to_contain_text(label)
        expect(page.get_by_test_id("act-agree")).to_be_hidden()  # one opinion per agency
        page.get_by_role("link", name="返回审核队列").click()
        expect(page.get_by_test_id("relief-queue")).to_be_visible()
        expect(rows.filter(has_text="鲍**")).to_have_count(0)  # no longer waits for them
        if n < len(reviewers) - 1:
            signs_out(page)

    page.goto(f"/console/relief/{application}")
    expect(page.get_by_test_id("relief-status")).to_have_text("公示中")
    expect(page.get_by_test_id("relief-notice")).to_contain_text(re.compile(r"公示中，截止 \d{4}-"))
    expect(page.get_by_test_id("relief-opinions").locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("relief-timeline")).to_contain_text("公示")
    screenshot(page, "relief-application-in-notice")
    assert serious_violations(page) == []
    trail = api.call("GET", "/api/v1/relief/pii-access-log", api.admin_token,
                     params={"application_id": application})["items"]
    assert sorted(entry["field"] for entry in trail) == ["id_number", "name"]
    assert {entry["reason"] for entry in trail} == {"核对户籍信息与申请人身份"}


def reveals_the_identity_with_a_reason(page: Page, screenshot: Callable[[Page, str], Path]
                                       ) -> None:
    """The full name and ID number only with a reason, and the page says it is audited."""
    expect(page.get_by_test_id("relief-facts")).not_to_contain_text("鲍秀英")
    page.get_by_test_id("reveal").click()
    dialog = page.get_by_role("dialog", name="查看完整个人信息")
    expect(dialog.get_by_test_id("reveal-audited")).to_contain_text("记录审计")
    dialog.get_by_role("button", name="确定").click()
    expect(dialog.get_by_text("请填写查看原因（至少4个字）")).to_be_visible()
    expect(page.get_by_test_id("revealed")).to_have_count(0)
    dialog.get_by_label("查看原因").fill("核对户籍信息与申请人身份")
    screenshot(page, "relief-reveal-dialog")
    dialog.get_by_role("button", name="确定").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("revealed")).to_contain_text("鲍秀英")


def test_a_reviewer_who_disagrees_must_say_why_and_the_application_is_rejected(
    page: Page, console_platform: ConsolePlatform,
) -> None:
    api = console_platform.api
    application = accepted_application(console_platform, "经营失败欠债，申请临时救助", "薛秀英")
    reviewer = api.create_staff(None, ["reviewer"], regions=[COUNTY], agency="ping_an_office")
    page.goto("/console/")
    sign_in_through_the_form(page, reviewer)
    expect(page).to_have_url(re.compile(r"/console/relief$"))
    page.get_by_test_id("relief-queue").locator("tbody tr").filter(has_text="薛**") \
        .get_by_role("link").click()
    page.get_by_test_id("act-disagree").click()
    dialog = page.get_by_role("dialog", name="不同意")
    dialog.get_by_role("button", name="确定").click()
    expect(dialog.get_by_text("请填写理由")).to_be_visible()
    token = api.sign_in(reviewer)
    path = f"/api/v1/relief/applications/{application}"
    assert api.call("GET", path, token)["status"] == "in_review"

    dialog.get_by_label("审核意见").fill("经走访核实，申请人名下有经营性收入")
    dialog.get_by_role("button", name="确定").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("relief-status")).to_have_text("未通过")
    expect(page.get_by_test_id("relief-decision")).to_contain_text("未通过")
    expect(page.get_by_test_id("relief-actions")).to_have_count(0)
    assert api.call("GET", path, token)["status"] == "rejected"


def test_civil_affairs_approves_a_minor_s_application_that_skips_the_notice(
    page: Page, console_platform: ConsolePlatform, screenshot: Callable[[Page, str], Path],
) -> None:
    """A minor's application is never publicised: after the joint review it waits for civil
    affairs at once, who approves it with the monthly amount."""
    api = console_platform.api
    application = accepted_application(console_platform, "父母双亡，由祖母抚养，无生活来源",
                                       "简小明", minor=True)
    for agency, label in JOINT_REVIEW:  # the joint review, played through the API
        token = api.sign_in(api.create_staff(None, ["reviewer"], regions=[COUNTY], agency=agency))
        api.call("POST", f"/api/v1/relief/applications/{application}/reviews", token,
                 json={"approve": True, "opinion": f"{label}核实属实"})
    approver = api.create_staff(None, ["reviewer"], regions=[COUNTY], agency="civil_affairs",
                                display_name="民政局审批员")
    page.goto("/console/")
    sign_in_through_the_form(page, approver)
    expect(page).to_have_url(re.compile(r"/console/relief$"))
    page.get_by_test_id("relief-queue").locator("tbody tr").filter(has_text="简**") \
        .get_by_role("link").click()
    expect(page.get_by_test_id("relief-status")).to_have_text("待审批")
    expect(page.get_by_test_id("relief-notice")).to_have_text("申请人为未成年人，依规不予公示")
    expect(page.get_by_test_id("act-agree")).to_have_count(0)  # its opinion is given

    page.get_by_test_id("act-approve").click()
    dialog = page.get_by_role("dialog", name="审批通过")
    dialog.get_by_label("每月救助金额（元）").fill("650")
    dialog.get_by_role("button", name="确定").click()

    expect(page.get_by_test_id("relief-status")).to_have_text("审批通过")
    expect(page.get_by_test_id("relief-decision")).to_contain_text("审批通过")
    expect(page.get_by_test_id("relief-actions")).to_have_count(0)
    screenshot(page, "relief-approved")
    read = api.call("GET", f"/api/v1/relief/applications/{application}", api.admin_token)
    assert read["status"] == "approved"


def test_who_is_not_a_reviewer_has_no_relief_menu_and_no_access(
    page: Page, console_platform: ConsolePlatform,
) -> None:
    api = console_platform.api
    application = accepted_application(console_platform, "房屋倒塌，临时无处居住")
    operator = api.create_staff(None, ["booking_operator"], regions=[COUNTY])
    page.goto("/console/")
    sign_in_through_the_form(page, operator)
    expect(page).to_have_url(re.compile(r"/console/booking$"))
    expect(page.get_by_role("navigation", name="主菜单")).to_contain_text("预约管理")
    expect(page.get_by_role("navigation", name="主菜单")).not_to_contain_text("救助审核")
    page.goto(f"/console/relief/{application}")
    expect(page.get_by_test_id("no-access")).to_be_visible()
    page.goto("/console/relief")
    expect(page.get_by_test_id("no-access")).to_be_visible()


def test_a_reviewer_of_another_county_does_not_see_the_application(
    page: Page, console_platform: ConsolePlatform,
) -> None:
    api = console_platform.api
    application = accepted_application(console_platform, "突发重病，医疗费用负担沉重")
    elsewhere = api.create_staff(None, ["reviewer"], regions=["350626"], agency="agriculture")
    page.goto("/console/")
    sign_in_through_the_form(page, elsewhere)
    expect(page).to_have_url(re.compile(r"/console/relief$"))
    expect(page.get_by_test_id("relief-queue")).to_contain_text("暂无待审核的申请")
    page.goto(f"/console/relief/{application}")
    expect(page.get_by_test_id("no-access")).to_be_visible()
