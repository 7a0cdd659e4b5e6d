"""Residents read Chinese: every notice title and body, and the words of its WeChat subscribe
message, come from the message catalog in Simplified Chinese; the notice kinds (codes) stay
English."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from services.feedback import messages, notices
from services.feedback.app import create_app
from services.feedback.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.i18n import zh_CN
from shared.testing.plugin import running, wait_until
from tests.feedback.helpers import publish, sql, until_handled
from tests.feedback.test_notifications import closed_event, status_change

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
