"""Residents read Chinese: timeline step titles and status labels, category names, template
field labels and choice labels, and the detail of a refused template value, all Simplified
Chinese from the message catalog; action, status, choice and error codes stay English."""

from __future__ import annotations

import importlib.util
import re
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.events import messages
from services.events.app import create_app
from services.events.domain import TemplateField, validate_fields
from services.events.seed import CATEGORIES as SEEDED_CATEGORIES
from services.events.settings import Settings
from shared.i18n import zh_CN
from shared.problems import RuleViolation
from shared.testing.plugin import Migrator, running
from tests.events.flows import COMMUNITY, COMMUNITY_UNIT, Loop

CHINESE = re.compile(r"[\u4e00-\u9fff]")
CODE = re.compile(r"[a-z_]+")
MIGRATION = (Path(__file__).parents[2] / "services/events/migrations/versions"
             / "0010_template_choice_labels.py")


@pytest.fixture
async def client(
    migrator: Migrator, service_settings: Callable[..., Any], token_verifier: Any, tmp_path: Any
) -> AsyncIterator[httpx.AsyncClient]:
    await migrator.ensure("events")
    app = create_app(service_settings(Settings, attachment_dir=str(tmp_path)),
                     verifier=token_verifier)
    async with running(app) as client:
        yield client


def _walk(tree: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [node for c in tree for node in (c, *_walk(c["children"]))]


async def test_a_residents_timeline_reads_chinese_step_titles_with_english_codes(
    loop: Loop,
) -> None:
    created = await loop.report()
    await loop.wait_assigned(created["id"], COMMUNITY_UNIT)
    await loop.handle_to_close(created["id"], COMMUNITY_UNIT, COMMUNITY)
    steps = await loop.timeline(created["id"])
    assert [(s["action"], s["title"]) for s in steps] == [
        ("report", "提交事项"), ("dispatch", "派发承办单位"), ("accept", "承办单位受理"),
        ("start", "开始办理"), ("submit_result", "提交办理结果"), ("verify", "核查办理结果"),
        ("close", "事项办结")]
    assert [(s["status"], s["status_label"]) for s in steps][-2:] == [
        ("verified", "已核查"), ("closed", "已办结")]
    notes = {s["action"]: s["note"] for s in steps}
    # What people wrote stays; the platform's bookkeeping notes are for staff, not residents.
    assert notes["submit_result"] == "押金已退还，双方签字确认"
    assert notes["dispatch"] is None
    assert notes["close"] is None
    for step in steps:
        assert CHINESE.search(step["title"])
        assert CODE.fullmatch(step["action"])
        assert step["note"] is None or not re.search(r"[A-Za-z]{3,}", step["note"])
    staff = await loop.timeline(created["id"], loop.people.supervisor())
    by_action = {s["action"]: s for s in staff}
    assert by_action["close"]["note"] == "核查通过，事项办结"  # staff read it, in Chinese
    assert by_action["close"]["title"] == "事项办结"


async def test_a_missing_required_field_is_refused_naming_its_chinese_label(
    loop: Loop,
) -> None:
    missing = await loop.report(expect=422, fields={})
    assert (missing["code"], missing["field"]) == ("template_field_missing", "party_role")
    assert missing["detail"] == "请填写：您的身份"
    wrong = await loop.report(expect=422, fields={"party_role": "房东"})  # a label, not a code
    assert (wrong["code"], wrong["field"]) == ("template_field_invalid", "party_role")
    assert wrong["detail"] == "您的身份：请从以下选项中选择：房东、租客、中介"
    created = await loop.report(fields={"party_role": "landlord"})  # codes, as before
    assert (await loop.case(created["id"]))["fields"] == {"party_role": "landlord"}


async def test_the_category_tree_has_chinese_names_field_labels_and_choice_labels(
    client: httpx.AsyncClient,
) -> None:
    tree = (await client.get("/api/v1/events/categories")).json()["items"]
    # The seeded tree: other tests in this database add categories of their own.
    seeded = {code for code, *_ in SEEDED_CATEGORIES}
    nodes = [node for node in _walk(tree) if node["code"] in seeded]
    assert len(nodes) == len(seeded) >= 22
    for node in nodes:
        assert CHINESE.search(node["name"]), node["code"]
        assert CODE.fullmatch(node["code"])
        for field in node["template"]:
            assert CHINESE.search(field["label"])
            assert CODE.fullmatch(field["key"])
            for option in field["options"]:
                assert CHINESE.search(option["label"]) or option["label"] == "QQ"
    tenancy = next(n for n in nodes if n["code"] == "dispute_tenancy")
    assert tenancy["name"] == "租赁纠纷"
    role = next(f for f in tenancy["template"] if f["key"] == "party_role")
    assert role["label"] == "您的身份"
    assert role["choices"] == ["landlord", "tenant", "agency"]  # still the codes
    assert role["options"] == [{"code": "landlord", "label": "房东"},
                               {"code": "tenant", "label": "租客"},
                               {"code": "agency", "label": "中介"}]


async def test_an_admin_gives_choice_labels_and_old_style_choices_still_work(
    client: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    admin = {"Authorization": f"Bearer {make_token(roles=['admin'])}"}
    code = f"dispute_{uuid.uuid4().hex[:6]}"
    labelled = {"name": "彩礼纠纷", "parent_code": "social_conflict", "template": [
        {"key": "side", "label": "您是哪一方", "type": "choice", "required": True,
         "options": [{"code": "bride", "label": "女方"}, {"code": "groom", "label": "男方"}]},
        {"key": "party_role", "label": "您的身份", "type": "choice",
         "choices": ["landlord", "tenant"]}]}
    put = await client.put(f"/api/v1/events/categories/{code}", json=labelled, headers=admin)
    assert put.status_code == 204, put.text
    tree = (await client.get("/api/v1/events/categories")).json()["items"]
    added = next(n for n in _walk(tree) if n["code"] == code)
    side, role = added["template"]
    assert side["choices"] == ["bride", "groom"]
    assert side["options"][0] == {"code": "bride", "label": "女方"}
    assert role["options"] == [{"code": "landlord", "label": "房东"},
                               {"code": "tenant", "label": "租客"}]  # from the catalog
    mismatched = {**labelled, "template": [{**labelled["template"][0], "choices": ["x"]}]}
    refused = await client.put(f"/api/v1/events/categories/{code}", json=mismatched,
                               headers=admin)
    assert (refused.status_code, refused.json()["code"]) == (422, "validation_error")


def test_every_refused_value_names_its_label_in_chinese() -> None:
    template = [TemplateField(key="party_role", label="您的身份", type="choice",
                              required=True, choices=("landlord", "tenant")),
                TemplateField(key="loss", label="损失金额(元)", type="number"),
                TemplateField(key="when", label="合同日期", type="date"),
                TemplateField(key="tel", label="对方号码", type="phone")]
    cases = {
        "template_field_missing": ({}, "请填写：您的身份"),
        "template_field_unknown": ({"party_role": "tenant", "x": 1}, "不支持的填写项：x"),
    }
    for code, (values, detail) in cases.items():
        with pytest.raises(RuleViolation) as refused:
            validate_fields(template, values)
        assert (refused.value.code, refused.value.detail) == (code, detail)
    for values, label in (({"loss": "many"}, "损失金额(元)"), ({"when": "x"}, "合同日期"),
                          ({"tel": "12"}, "对方号码")):
        with pytest.raises(RuleViolation) as refused:
            validate_fields(template, {"party_role": "tenant", **values})
        assert refused.value.code == "template_field_invalid"
        assert refused.value.detail.startswith(f"{label}：")
        assert CHINESE.search(refused.value.detail.removeprefix(f"{label}："))


def test_the_catalog_titles_every_step_and_status_in_chinese() -> None:
    for table in (zh_CN.STEP_TITLES, zh_CN.STATUS_LABELS, zh_CN.ROLE_LABELS):
        assert all(CODE.fullmatch(k) and CHINESE.search(v) for k, v in table.items())
    from services.events.domain import Status
    assert set(zh_CN.STATUS_LABELS) == {s.value for s in Status}
    assert messages.step_title("something_new") == "办理进展"


def test_the_migration_labels_choices_of_templates_stored_before_it() -> None:
    spec = importlib.util.spec_from_file_location("choice_labels_0010", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    old = [{"key": "channel", "label": "诈骗渠道", "type": "choice", "choices": ["sms", "zz"]},
           {"key": "place", "label": "活动地点", "type": "text"}]
    assert module._with_options(old) == [
        {**old[0], "options": [{"code": "sms", "label": "短信"},
                               {"code": "zz", "label": "zz"}]}, old[1]]
    assert module._with_options([old[1]]) is None  # nothing to label: left as it is
