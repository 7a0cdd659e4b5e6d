"""Applicants, reviewers and the public read relief (一键报难) in Chinese: statuses, kinds,
agencies, stages, outcomes and the reviewers' buttons carry Chinese labels from the message
catalog next to their English codes; timeline steps have Chinese titles and notes; the public
notice (公示) has its line; a form left blank is refused naming its Chinese label; the WeChat
notice of a decision reads Chinese for every kind. A label left in English fails here."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.feedback import notices as resident_notices
from services.relief import messages
from services.relief.domain import (
    JOINT_REVIEWERS,
    Action,
    Actor,
    Agency,
    Application,
    Command,
    Kind,
    Stage,
    Status,
    decide,
)
from shared.calendar import WorkingCalendar
from shared.i18n import zh_CN
from shared.problems import RuleViolation
from tests.relief.conftest import ReliefWorld
from tests.relief.flows import (
    BASE,
    approve,
    auth,
    disburse,
    expect,
    get,
    review,
    submit,
    through_joint_review,
)
from tests.shared.chinese import CHINESE, CODE, assert_worded_in_chinese

RELIEF = Path(__file__).parents[2] / "services/relief"
STEP_CODE = re.compile(r'step=f?"([a-z_{}]+)"|"step": "([a-z_]+)"')


async def timeline(world: ReliefWorld, token: str, app_id: str) -> list[dict[str, str]]:
    answer = expect(await world.client.get(f"{BASE}/applications/{app_id}/timeline",
                                           headers=auth(token)), 200)
    assert assert_worded_in_chinese(answer) >= 3 * len(answer["items"])
    return list(answer["items"])


async def test_an_approved_applicant_and_the_public_read_the_whole_path_in_chinese(
    world: ReliefWorld,
) -> None:
    _, token = world.resident(name="林秀英")
    app_id = (await submit(world.client, token, kind="dibao"))["id"]
    noticed = await through_joint_review(world.client, world.staff, app_id)
    assert (noticed["status"], noticed["status_label"]) == ("in_notice", "公示中")
    assert (noticed["kind"], noticed["kind_label"]) == ("dibao", "最低生活保障")
    assert [(o["agency"], o["agency_label"]) for o in noticed["opinions"]] == [
        ("ping_an_office", "平安办"), ("civil_affairs", "民政局"), ("agriculture", "农业农村局")]
    assert noticed["action_labels"] == {"object": "提出异议", "withdraw": "撤回申请"}
    assert re.fullmatch(r"丈\*+（共\d+字）", noticed["reason"])  # masked, worded in Chinese
    assert assert_worded_in_chinese(noticed) >= 6

    board = expect(await world.client.get(f"{BASE}/notices",
                                          params={"region_code": world.region}), 200)
    [line] = board["items"]
    assert line["kind_label"] == "最低生活保障"
    assert line["text"].startswith("林**家（")
    assert "申请最低生活保障，公示至" in line["text"]
    assert "林秀英" not in str(board)
    assert noticed["household_source_label"] == "人口库登记"

    _, neighbour = world.resident()
    filed = expect(await world.client.post(f"{BASE}/applications/{app_id}/objections",
                                           json={"text": "其子女有稳定收入"},
                                           headers=auth(neighbour)), 201)
    assert filed["status_label"] == "待处理"
    expect(await world.client.post(
        f"{BASE}/applications/{app_id}/objections/{filed['id']}/resolution",
        json={"upheld": False, "resolution": "经核实子女无赡养能力"},
        headers=auth(world.staff.civil_affairs)), 200)
    [objection] = expect(await world.client.get(f"{BASE}/applications/{app_id}/objections",
                                                headers=auth(world.staff.civil_affairs)), 200)
    assert objection["status_label"] == "异议不成立"

    world.clock.advance(timedelta(days=7, seconds=1))
    approved = expect(await approve(world.client, world.staff, app_id), 200)
    assert (approved["decision"]["outcome_label"], approved["decision"]["stage_label"]) == (
        "审批通过", "审批")
    paid = expect(await disburse(world.client, world.staff, app_id, month="2026-11",
                                 amount_fen=79_800), 201)
    assert paid["kind_label"] == "最低生活保障"

    steps = await timeline(world, token, app_id)
    assert [s["title"] for s in steps] == [
        "提交申请", "乡镇（街道）已受理", "平安办审核同意", "民政局审核同意",
        "农业农村局审核同意，开始公示", "收到公示异议", "异议不成立", "审批通过", "救助金已发放"]
    assert [s["status_label"] for s in steps][-3:] == ["公示中", "审批通过", "发放中"]
    assert steps[0]["actor_role_label"] == "群众"
    assert steps[1]["actor_agency_label"] == "乡镇（街道）"
    assert steps[4]["note"].startswith("公示至")
    assert steps[-1]["note"] == "发放2026年11月救助金"
    assert CODE.fullmatch(steps[4]["step"])  # the codes stay English


async def test_a_rejected_applicant_reads_the_decision_and_its_reasons_in_chinese(
    world: ReliefWorld,
) -> None:
    _, token = world.resident()
    app_id = (await submit(world.client, token, kind="temporary"))["id"]
    rejected = expect(await world.client.post(
        f"{BASE}/applications/{app_id}/reject", json={"reason": "家庭收入超过当地救助标准"},
        headers=auth(world.staff.town)), 200)
    assert (rejected["status_label"], rejected["kind_label"]) == ("未通过", "临时救助")
    assert (rejected["decision"]["outcome_label"], rejected["decision"]["stage_label"]) == (
        "未通过", "乡镇受理")
    reasons = expect(await world.client.get(f"{BASE}/applications/{app_id}/decision",
                                            headers=auth(token)), 200)
    assert (reasons["outcome_label"], reasons["stage_label"]) == ("未通过", "乡镇受理")
    steps = await timeline(world, token, app_id)
    assert steps[-1]["title"] == "乡镇（街道）不予受理"
    assert re.fullmatch(r"共1条理由，须于\d{4}-\d\d-\d\d \d\d:\d\d前告知申请人", steps[-1]["note"])


async def test_a_form_left_blank_is_refused_naming_its_chinese_label_and_nothing_is_written(
    world: ReliefWorld,
) -> None:
    user_id, token = world.resident()
    blank = await world.client.post(f"{BASE}/applications", json={"kind": "dibao",
                                    "reason": "  "}, headers=auth(token))
    assert blank.status_code == 422
    assert (blank.json()["code"], blank.json()["field"], blank.json()["detail"]) == (
        "reason_required", "reason", "请填写：困难情况")
    assert await world.scalar("SELECT count(*) FROM applications WHERE applicant_user_id = :u",
                              u=uuid.UUID(user_id)) == 0

    app_id = (await submit(world.client, token))["id"]
    no_reason = await world.client.post(f"{BASE}/applications/{app_id}/reject", json={},
                                        headers=auth(world.staff.town))
    assert (no_reason.status_code, no_reason.json()["detail"]) == (422, "请填写：驳回理由")
    await world.client.post(f"{BASE}/applications/{app_id}/accept",
                            headers=auth(world.staff.town))
    refusals = {
        "opinion_decision_required": ({"opinion": "属实"}, "approve", "请选择：同意或不同意"),
        "opinion_required": ({"approve": True, "opinion": " "}, "opinion", "请填写：审核意见"),
    }
    for code, (body, field, detail) in refusals.items():
        answer = await world.client.post(f"{BASE}/applications/{app_id}/reviews", json=body,
                                         headers=auth(world.staff.agriculture))
        assert answer.status_code == 422
        assert (answer.json()["code"], answer.json()["field"], answer.json()["detail"]) == (
            code, field, detail)
    assert await world.scalar("SELECT count(*) FROM opinions WHERE application_id = :i",
                              i=uuid.UUID(app_id)) == 0
    assert [s["step"] for s in await timeline(world, token, app_id)] == ["submitted", "accepted"]
    assert (await get(world.client, token, app_id))["status"] == "in_review"
    passed = await review(world.client, world.staff, app_id, "agriculture")
    assert passed.status_code == 200  # the same form, filled in, is taken


async def test_a_bad_household_and_a_wrong_monthly_amount_are_refused_in_chinese(
    world: ReliefWorld,
) -> None:
    _, token = world.resident()
    bad_household = await world.client.post(f"{BASE}/applications", headers=auth(token), json={
        "kind": "dibao", "reason": "无劳动力", "household": [
            {"name": "林", "id_number": "350623196803090011", "relation": "本人"}]})
    assert bad_household.status_code == 422
    assert bad_household.json()["detail"] == "家庭成员身份证号码校验位不正确"
    app_id = (await submit(world.client, token, kind="temporary"))["id"]
    await through_joint_review(world.client, world.staff, app_id)
    world.clock.advance(timedelta(days=7, seconds=1))
    refused = await world.client.post(
        f"{BASE}/applications/{app_id}/approve", json={"monthly_amount_fen": 50_000},
        headers=auth(world.staff.civil_affairs))
    assert refused.status_code == 422
    assert (refused.json()["code"], refused.json()["field"]) == (
        "monthly_amount_invalid", "monthly_amount_fen")
    assert CHINESE.search(refused.json()["detail"])
    assert (await get(world.client, token, app_id))["status"] == "awaiting_approval"


def test_every_refusal_of_the_machine_for_a_missing_text_is_worded_in_chinese() -> None:
    applicant = uuid.uuid4()
    app = Application(status=Status.SUBMITTED, kind=Kind.DIBAO, region_code="350623100001",
                      applicant_id=applicant)
    town = Actor(uuid.uuid4(), frozenset({"reviewer"}), ("350623",), Agency.TOWN)
    now, calendar = datetime(2026, 3, 2, 1, tzinfo=UTC), WorkingCalendar()
    commands = [Command(Action.REJECT, town, text=" "), Command(Action.OBJECT, town),
                Command(Action.RESOLVE_OBJECTION, town, upheld=True),
                Command(Action.REVIEW, town, text="属实"), Command(Action.REVIEW, town,
                                                                   approve=True)]
    for command in commands:
        with pytest.raises(RuleViolation) as refused:
            decide(app, command, now=now, calendar=calendar)
        assert CHINESE.search(refused.value.detail), command.action
        assert refused.value.extra["field"] in ("reason", "text", "resolution", "approve",
                                                "opinion")


def _step_codes() -> set[str]:
    """Every timeline step code relief can write, read from its source, the agency and stage
    patterns expanded: a new step without a Chinese title fails below."""
    found: set[str] = set()
    for source in RELIEF.rglob("*.py"):
        if "migrations" in source.parts:
            continue
        for match in STEP_CODE.finditer(source.read_text()):
            found.add(match.group(1) or match.group(2))
    codes = set()
    for code in found:
        for agency in JOINT_REVIEWERS:
            for stage in Stage:
                codes.add(code.format(agency=agency.value, stage=stage.value))
    return codes


def test_the_catalog_words_every_code_relief_shows() -> None:
    for table, codes in ((zh_CN.RELIEF_STATUS_LABELS, Status), (zh_CN.RELIEF_KINDS, Kind),
                         (zh_CN.RELIEF_AGENCY_LABELS, Agency), (zh_CN.RELIEF_STAGE_LABELS, Stage),
                         (zh_CN.RELIEF_ACTION_LABELS, Action)):
        assert set(table) == {c.value for c in codes}, table
    steps = _step_codes()
    assert {"submitted", "disbursed", "approved_by_agriculture_notice_started",
            "rejected_at_town", "rejected_by_ping_an_office"} <= steps
    untitled = [s for s in steps if messages.step_title(s) == zh_CN.RELIEF_STEP_TITLE_FALLBACK]
    assert untitled == []
    assert all(CHINESE.search(messages.step_title(s)) for s in steps)


def test_a_note_written_in_english_before_is_left_out_and_masked_text_reads_chinese() -> None:
    assert messages.shown_note("public notice until 2026-03-09T01:00:00+00:00") is None
    assert messages.shown_note("1 reason(s); applicant to be told by 2026-03-05") is None
    assert messages.shown_note("公示至2026-03-09 09:00") == "公示至2026-03-09 09:00"
    assert messages.shown_note(None) is None
    assert messages.masked_text("丈夫病故，家中无劳动力") == "丈*********（共11字）"
    assert messages.masked_text("") == ""


def test_the_wechat_notice_of_every_relief_decision_reads_chinese() -> None:
    at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    for kind in Kind:
        for outcome in ("approved", "rejected"):
            notice = resident_notices.relief_decision_notice(
                application_id="a", kind=kind.value, outcome=outcome, decided_at=at)
            assert CHINESE.search(notice.title)
            assert CHINESE.search(notice.body)
            assert zh_CN.RELIEF_KINDS[kind.value] in notice.body
            for key, value in notice.data.items():
                if key.startswith(("thing", "phrase", "name")):
                    assert CHINESE.search(value["value"]), (kind, outcome, key)
