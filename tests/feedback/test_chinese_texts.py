"""Residents and staff read Chinese: every notice title and body, and the words of its WeChat
subscribe message, come from the message catalog in Simplified Chinese; the notice kinds
(codes) stay English. No Chinese text is written anywhere else in feedback's code."""

from __future__ import annotations

import ast
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

from services.feedback import messages, notices
from services.feedback.app import create_app
from services.feedback.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.contracts.routing import (
    AssignReason,
    DeadlineKind,
    EventEscalated,
    EventOverdue,
    QueueReason,
    SupervisionLevel,
    UnitLevel,
)
from shared.i18n import zh_CN
from shared.messaging.envelope import Envelope
from shared.testing.plugin import running, wait_until
from tests.feedback.helpers import publish, sql, until_handled
from tests.feedback.test_notifications import closed_event, status_change
from tests.feedback.test_staff_notices_for_units import (
    COMMUNITY,
    case_messages,
    envelope,
)

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CHINESE = re.compile(r"[\u4e00-\u9fff]")
WORDS = ("phrase", "thing")  # the subscribe-message fields that carry words, not codes


def test_every_notice_a_resident_can_get_is_worded_in_chinese() -> None:
    every = [notices.case_notice(a, event_id="e", case_no="ZZ-20260302-000001", at=AT)
             for a in notices.CASE_STEPS]
    every += [
        notices.closed_notice(event_id="e", case_no="ZZ-20260302-000001", closed_at=AT),
        notices.booking_notice(booking_id="b", round_title="春节慰问物资", pickup_starts_at=AT),
        notices.relief_decision_notice(application_id="a", kind="tekun", outcome="approved",
                                       decided_at=AT),
        notices.relief_decision_notice(application_id="a", kind="dibao", outcome="rejected",
                                       decided_at=AT),
    ]
    for notice in every:
        assert notice is not None
        assert CHINESE.search(notice.title), notice
        assert CHINESE.search(notice.body), notice
        assert re.fullmatch(r"[a-z_]+", notice.kind)  # the code stays English
        for key, value in notice.data.items():
            if key.startswith(WORDS):
                assert CHINESE.search(value["value"]), (notice.kind, key)


def test_the_notices_read_their_words_from_the_one_catalog() -> None:
    accepted = notices.case_notice("accept", event_id="e", case_no="ZZ-1", at=AT)
    assert accepted is not None
    assert accepted.title == "事项已受理" == zh_CN.CASE_NOTICE_TITLE.format(phrase="已受理")
    assert accepted.body == "您反映的事项（ZZ-1）承办单位已受理。"
    assert notices.CASE_STEPS == dict(zh_CN.CASE_NOTICE_STEPS) == messages.CASE_STEPS
    refused = notices.relief_decision_notice(application_id="a", kind="unknown_kind",
                                             outcome="rejected", decided_at=AT)
    assert refused.title == "救助申请未通过"
    assert refused.body == "您的救助申请未通过。原因请在小程序中查看。"


async def test_a_residents_inbox_and_wechat_message_read_chinese_with_english_kinds(
    feedback_settings: Settings, token_verifier: TokenVerifier, make_token: Callable[..., str]
) -> None:
    resident = uuid.uuid4()
    case_id = uuid.uuid4()
    steps = [status_change(resident, "accept", "accepted", event_id=case_id),
             closed_event(resident, event_id=case_id)]
    app = create_app(feedback_settings, verifier=token_verifier)  # WeChat sandboxed
    async with running(app) as client:
        await publish(app, steps)
        await until_handled(app, len(steps))

        async def recorded() -> bool:
            return len(await sql(app, "SELECT id FROM wechat_sandbox_messages")) == 2
        await wait_until(recorded, within=10)
        reader = {"Authorization": f"Bearer {make_token(subject=resident)}"}
        inbox = await client.get("/api/v1/feedback/notifications", headers=reader)
        assert inbox.status_code == 200
        items = {i["kind"]: i for i in inbox.json()["items"]}
        assert set(items) == {"accepted", "closed"}
        assert items["accepted"]["title"] == "事项已受理"
        assert items["accepted"]["body"] == "您反映的事项（PA202603020001）承办单位已受理。"
        assert items["closed"]["title"] == "事项已办结"
        assert "请对办理结果进行评价" in items["closed"]["body"]
        rows = await sql(app, "SELECT data FROM wechat_sandbox_messages")
        # The sender may deliver the two in either order: compare them by their phrase.
        sent = {r.data["phrase2"]["value"]: r.data for r in rows}
        assert set(sent) == {"已受理", "已办结"}
        assert sent["已受理"]["thing4"]["value"] == "承办单位已受理"
        assert sent["已受理"]["character_string1"]["value"] == "PA202603020001"


FEEDBACK = Path(__file__).resolve().parents[2] / "services" / "feedback"
LATIN = re.compile(r"[A-Za-z{}]")  # an English word, or a placeholder left unfilled


def assert_staff_text(text: str) -> None:
    assert CHINESE.search(text), text
    assert not LATIN.search(text), text


def _docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring nodes of a module, its classes and functions."""
    owners = [tree] + [n for n in ast.walk(tree) if isinstance(
        n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    return {id(o.body[0].value) for o in owners
            if o.body and isinstance(o.body[0], ast.Expr)
            and isinstance(o.body[0].value, ast.Constant)}


def chinese_literals(source: str) -> list[tuple[int, str]]:
    """Chinese string literals in code (f-string parts too); docstrings and comments aside."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    return sorted((node.lineno, node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in docs and CHINESE.search(node.value))


def test_no_text_is_written_in_feedbacks_code_outside_the_catalog() -> None:
    files = sorted(FEEDBACK.rglob("*.py"))
    assert FEEDBACK / "service" / "staff_notices.py" in files
    found = {str(f.relative_to(FEEDBACK)): chinese_literals(f.read_text(encoding="utf-8"))
             for f in files}
    assert {name: texts for name, texts in found.items() if texts} == {}


def test_the_scan_finds_a_chinese_title_written_inline() -> None:
    inline = '''"""A docstring may say 督办."""
def notice(level: str) -> dict[str, str]:
    """So may this one: 案件."""
    return {"title": f"案件{level}", "body": "请跟进。"}  # and a comment: 跟进
'''
    assert chinese_literals(inline) == [(4, "案件"), (4, "请跟进。")]


def every_staff_notice() -> list[tuple[str, str]]:
    """The (title, body) of every staff notice, for every code routing can send."""
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    levels = get_args(UnitLevel)
    texts = [messages.overdue_notice(k, at) for k in get_args(DeadlineKind)]
    texts += [messages.escalation_notice(a, b, automatic=auto)
              for a in levels for b in levels for auto in (True, False)]
    texts += [messages.assigned_notice(r, at) for r in get_args(AssignReason)]
    texts += [messages.queued_notice("returned" if r == "returned" else "queued", r)
              for r in get_args(QueueReason)]
    texts += [messages.deadline_warning_notice(k, at, 0.5) for k in get_args(DeadlineKind)]
    for level in get_args(SupervisionLevel):
        texts.append(messages.supervision_issued_notice(level, at, "请当日回复。"))
        texts.append(messages.supervision_overdue_notice(level, at))
    texts += [messages.co_handling_notice(lead, at) for lead in ("桂花社区居委会", None)]
    return texts


def test_every_staff_notice_is_worded_in_chinese_with_every_placeholder_filled() -> None:
    texts = every_staff_notice()
    assert len(texts) == 2 + 50 + 4 + 3 + 2 + 6 + 2
    for title, body in texts:
        assert_staff_text(title)
        assert_staff_text(body)


def test_staff_notices_read_as_they_always_did() -> None:
    at = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)  # 19:00 in Zhangzhou
    assert messages.overdue_notice("resolve", at) == (
        "案件督办", "办结期限2026-03-02 19:00已过，已立督办，请督促承办单位办理。")
    assert messages.escalation_notice("community", "town", automatic=True) == (
        "案件升级", "已由社区级自动上报至镇街级办理。")
    assert messages.escalation_notice("town", "county", automatic=False)[1] == (
        "已由镇街级经办单位上报至县区级办理。")
    assert messages.assigned_notice("escalated", at) == (
        "案件上报至本单位", "下级单位上报的案件已转至本单位，请于2026-03-02 19:00前受理。")
    assert messages.queued_notice("returned", "returned") == (
        "案件退回", "承办单位已退回案件，请重新分派。")
    assert messages.queued_notice("queued", "no_rule") == (
        "案件待分派", "没有匹配的分派规则，请人工分派。")
    assert messages.deadline_warning_notice("accept", at, 0.75) == (
        "期限提醒", "受理期限2026-03-02 19:00将至（已用75%），请抓紧办理。")
    assert messages.supervision_issued_notice("listed", at, "请当日约谈中介并回复。") == (
        "案件挂牌督办", "请于2026-03-02 19:00前答复。请当日约谈中介并回复。")
    assert messages.supervision_overdue_notice("supervision", at) == (
        "督办逾期未复", "督办答复期限2026-03-02 19:00已过，承办单位未答复，请跟进。")
    assert messages.co_handling_notice(None, at) == (
        "协办请求", "牵头单位请求本单位协办，请于2026-03-02 19:00前答复。")


def expected_staff_texts(at: datetime) -> dict[str, tuple[str, str]]:
    """What each kind of staff notice about a case told by ``case_messages`` and
    ``more_case_messages`` reads, worded from the catalog."""
    return {
        "supervision": messages.overdue_notice("resolve", at + timedelta(hours=4)),
        "escalation": messages.escalation_notice("community", "town", automatic=False),
        "assigned": messages.assigned_notice("initial", at + timedelta(hours=2)),
        "returned": messages.queued_notice("returned", "returned"),
        "deadline_warning": messages.deadline_warning_notice(
            "accept", at + timedelta(hours=2), 0.75),
        "supervision_issued": messages.supervision_issued_notice(
            "listed", at + timedelta(days=1), "请当日约谈中介并回复。"),
        "supervision_overdue": messages.supervision_overdue_notice(
            "supervision", at + timedelta(days=1)),
        "co_handling": messages.co_handling_notice(COMMUNITY.name, at + timedelta(days=2)),
    }


def more_case_messages(case_id: uuid.UUID, at: datetime) -> list[Envelope]:
    """A passed resolve deadline (the supervisors' 督办 notice) and a unit's escalation."""
    return [
        envelope("routing.event_overdue", EventOverdue(
            event_id=case_id, unit_id=COMMUNITY.unit_id, unit_level="community",
            kind="resolve", deadline=at + timedelta(hours=4), supervision_id=uuid.uuid4(),
            supervisor_region_code=COMMUNITY.region_code, at=at + timedelta(hours=5))),
        envelope("routing.event_escalated", EventEscalated(
            event_id=case_id, from_unit_id=COMMUNITY.unit_id, to_unit_id=uuid.uuid4(),
            from_level="community", to_level="town", automatic=False,
            at=at + timedelta(hours=6))),
    ]


async def test_every_staff_notice_in_the_inbox_reads_the_catalogs_chinese(
    feedback_settings: Settings, token_verifier: TokenVerifier, make_token: Callable[..., str]
) -> None:
    case_id = uuid.uuid4()
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    reported, assigned, *rest = case_messages(case_id)
    app = create_app(feedback_settings, verifier=token_verifier)
    admin = {"Authorization": f"Bearer {make_token(roles=['admin'])}"}
    async with running(app) as client:
        # The escalation needs the case's region, and the co-handling request (queue
        # "notices") the lead unit's name, which the assignment (queue "cases") records.
        await publish(app, [reported, assigned])
        await until_handled(app, 2)
        await publish(app, rest + more_case_messages(case_id, at))
        expected = expected_staff_texts(at)

        async def all_recorded() -> bool:
            rows = await sql(app, "SELECT kind FROM staff_notices WHERE event_id = :e",
                             e=case_id)
            return {r.kind for r in rows} == set(expected)
        await wait_until(all_recorded, within=15)
        answer = await client.get("/api/v1/feedback/staff-notices?limit=100", headers=admin)
        assert answer.status_code == 200, answer.text
    told = {(n["kind"], n["title"], n["body"]) for n in answer.json()["items"]
            if n["event_id"] == str(case_id)}
    assert told == {(kind, title, body) for kind, (title, body) in expected.items()}
    for _, title, body in told:
        assert_staff_text(title)
        assert_staff_text(body)
