"""Notifications: each step a resident cares about lands in the in-app inbox and goes out as
a WeChat subscribe message (real HTTP to a stand-in; sandbox when no base URL is set), with
fields cut to WeChat's limits, 43101 recorded and never retried, busy answers retried."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from services.feedback import notices
from services.feedback.app import create_app
from services.feedback.service import projection
from services.feedback.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.contracts.booking import BookingConfirmed
from shared.contracts.events import (
    EventClosed,
    EventStatusChanged,
    ReporterSeal,
    ReporterSealError,
)
from shared.contracts.relief import ApplicationDecided
from shared.messaging.envelope import Envelope
from shared.testing.plugin import running, wait_until
from tests.feedback.helpers import publish, sql, until_handled
from tests.feedback.standin import INTERNAL_KEY, StandIn

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def status_change(reporter: uuid.UUID | None, action: str, to_status: str,
                  *, event_id: uuid.UUID | None = None) -> Envelope:
    payload = EventStatusChanged(
        event_id=event_id or uuid.uuid4(), case_no="PA202603020001", category_code="dispute",
        region_code="350623100001", from_status="dispatched", to_status=to_status,
        action=action, actor_role="dept_staff", at=AT, reporter_id=reporter)
    return Envelope(event_type="events.event_status_changed", producer="events",
                    payload=payload.model_dump(mode="json"))


def closed_event(reporter: uuid.UUID | None, *, event_id: uuid.UUID | None = None) -> Envelope:
    payload = EventClosed(
        event_id=event_id or uuid.uuid4(), case_no="PA202603020001", category_code="dispute",
        major_risk="social_conflict", urgency="normal", region_code="350623100001",
        lead_unit_id=None, handling_unit_ids=[], reported_at=AT, first_dispatched_at=AT,
        accepted_at=AT, result_submitted_at=AT, closed_at=AT, accept_by=AT, resolve_by=AT,
        accepted_on_time=True, resolved_on_time=True, escalation_count=0, return_count=0,
        rework_count=0, classified=True, dispatch_trail_recorded=True, result_recorded=True,
        reporter_id=reporter)
    return Envelope(event_type="events.event_closed", producer="events",
                    payload=payload.model_dump(mode="json"))


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    server = await StandIn().start()
    yield server
    await server.stop()


def test_fields_are_cut_to_wechat_limits() -> None:
    assert notices.fit("thing4", "承办单位已提交办理结果并完成现场核查与回访工作") == \
        "承办单位已提交办理结果并完成现场核查与…"
    assert len(notices.fit("thing4", "x" * 50)) == 20
    assert notices.fit("phrase2", "已受理OK了吗啊啊") == "已受理了吗"
    assert notices.fit("character_string1", "PA-2026/03 案件#1" + "9" * 40)[:14] == "PA-2026/03 #19"
    assert len(notices.fit("character_string1", "A" * 40)) == 32
    with pytest.raises(ValueError, match="not a WeChat"):
        notices.fit("colour1", "red")
    all_notices = [notices.case_notice(a, event_id="e", case_no="PA1", at=AT)
                   for a in notices.CASE_STEPS]
    all_notices.append(notices.closed_notice(event_id="e", case_no="PA1", closed_at=AT))
    for notice in all_notices:
        assert notice is not None
        for key, value in notice.data.items():
            assert len(value["value"]) <= notices.LIMITS[notices.field_type(key)]


async def test_steps_reach_the_inbox_and_wechat_with_retries_and_no_retry_on_43101(
    feedback_settings: Settings, token_verifier: TokenVerifier,
    make_token: Callable[..., str], standin: StandIn,
) -> None:
    happy = standin.user("openid-happy")
    busy = standin.user("openid-busy", [-1, -1, 0])
    refused = standin.user("openid-refused", [43101])
    no_wechat = uuid.uuid4()
    standin.stale_tokens.add("token-1")  # the first token goes stale: fetched again once
    settings = feedback_settings.model_copy(update={
        "wechat_api_base": standin.base_url, "identity_base_url": standin.base_url,
        "internal_api_key": INTERNAL_KEY, "wechat_backoff_seconds": 0.05,
        "sender_poll_seconds": 0.05})
    case_id = uuid.uuid4()
    steps = [
        status_change(happy, "accept", "accepted", event_id=case_id),
        status_change(happy, "close", "closed", event_id=case_id),  # told by event_closed
        closed_event(happy, event_id=case_id),
        status_change(happy, "start", "in_progress", event_id=case_id),  # not told
        status_change(busy, "submit_result", "result_submitted"),
        status_change(refused, "assign", "dispatched"),
        status_change(no_wechat, "rework", "in_progress"),
        closed_event(None),  # sensitive: no reporter on the bus
    ]
    app = create_app(settings, verifier=token_verifier)
    async with running(app) as client:
        await publish(app, steps + steps[:3])  # the first three redelivered
        await until_handled(app, len(steps) + 3)

        async def settled() -> bool:
            rows = await sql(app, "SELECT wechat_status FROM notifications")
            return len(rows) == 5 and all(r.wechat_status != "pending" for r in rows)
        await wait_until(settled, within=15)

        rows = {(r.user_id, r.kind): r for r in await sql(
            app, "SELECT user_id, kind, wechat_status, wechat_attempts, wechat_error "
                 "FROM notifications")}
        assert {k: (r.wechat_status, r.wechat_attempts) for k, r in rows.items()} == {
            (happy, "accepted"): ("sent", 1),
            (happy, "closed"): ("sent", 1),
            (busy, "result"): ("sent", 3),
            (refused, "dispatched"): ("not_subscribed", 1),
            (no_wechat, "rework"): ("no_account", 1),
        }
        assert standin.calls["openid-refused"] == 1  # 43101 is never retried
        assert rows[(refused, "dispatched")].wechat_error.startswith("43101")
        assert standin.token_fetches == 2
        sent = {m["touser"]: m for m in standin.sent}
        closed = next(m for m in standin.sent
                      if m["touser"] == "openid-happy" and m["template_id"] == "tmpl-case-closed")
        assert closed["data"]["phrase2"]["value"] == "已办结"
        assert closed["page"] == f"pages/events/detail?id={case_id}"
        assert sent["openid-busy"]["data"]["character_string1"]["value"] == "PA202603020001"

        # The in-app inbox: the resident's own, newest first, paged, with mark-as-read.
        headers = {"Authorization": f"Bearer {make_token(subject=happy)}"}
        page = await client.get("/api/v1/feedback/notifications", params={"limit": 1},
                                headers=headers)
        assert page.status_code == 200
        first = page.json()
        assert len(first["items"]) == 1
        assert first["next_cursor"]
        rest = await client.get("/api/v1/feedback/notifications",
                                params={"limit": 1, "cursor": first["next_cursor"]},
                                headers=headers)
        items: list[dict[str, Any]] = first["items"] + rest.json()["items"]
        assert sorted(i["kind"] for i in items) == ["accepted", "closed"]
        assert rest.json()["next_cursor"] is None
        target = items[0]["id"]
        stranger = {"Authorization": f"Bearer {make_token()}"}
        denied = await client.post(f"/api/v1/feedback/notifications/{target}/read",
                                   headers=stranger)
        assert (denied.status_code, denied.json()["code"]) == (404, "notification_not_found")
        read = await client.post(f"/api/v1/feedback/notifications/{target}/read",
                                 headers=headers)
        assert read.status_code == 200
        assert read.json()["read_at"] is not None
        unread = await client.get("/api/v1/feedback/notifications",
                                  params={"unread": "true"}, headers=headers)
        assert [i["id"] for i in unread.json()["items"]] == [items[1]["id"]]
        bad = await client.get("/api/v1/feedback/notifications", params={"cursor": "!!"},
                               headers=headers)
        assert (bad.status_code, bad.json()["code"]) == (400, "cursor_invalid")


async def test_without_a_wechat_base_url_messages_are_recorded_in_the_sandbox(
    feedback_settings: Settings, token_verifier: TokenVerifier
) -> None:
    resident = uuid.uuid4()
    booking = BookingConfirmed(
        booking_id=uuid.uuid4(), round_id=uuid.uuid4(),
        round_title="春节慰问物资（大米、食用油）第一批次集中发放",
        pickup_point_id=uuid.uuid4(), slot_id=uuid.uuid4(), user_id=resident, confirmed_at=AT,
        pickup_starts_at=AT, pickup_ends_at=AT)
    decided = ApplicationDecided(
        application_id=uuid.uuid4(), applicant_user_id=resident, kind="dibao",
        region_code="350623100001", outcome="rejected", stage="town", reasons_count=2,
        decided_at=AT, notify_by=AT)
    messages = [
        closed_event(resident),
        Envelope(event_type="relief.application_decided", producer="relief",
                 payload=decided.model_dump(mode="json")),
        Envelope(event_type="booking.booking_confirmed", producer="booking",
                 payload=booking.model_dump(mode="json")),
    ]
    app = create_app(feedback_settings, verifier=token_verifier)
    async with running(app):
        await publish(app, messages)
        await until_handled(app, len(messages))

        async def recorded() -> bool:
            return len(await sql(app, "SELECT id FROM wechat_sandbox_messages")) == 3
        await wait_until(recorded, within=10)
        rows = await sql(app, "SELECT touser, template_id, data FROM wechat_sandbox_messages "
                              "ORDER BY id")
        assert {r.touser for r in rows} == {f"sandbox:{resident}"}
        booked = next(r for r in rows if r.data["phrase2"]["value"] == "预约成功")
        assert booked.data["thing1"]["value"] == "春节慰问物资（大米、食用油）第一批次集…"
        statuses = await sql(app, "SELECT kind, wechat_status FROM notifications ORDER BY kind")
        assert [tuple(s) for s in statuses] == [("booking_confirmed", "sandbox"),
                                                ("closed", "sandbox"),
                                                ("relief_decision", "sandbox")]
        relief = next(r for r in rows if r.data["phrase2"]["value"] == "未通过")
        assert relief.data["thing1"]["value"] == "最低生活保障申请"


async def test_the_reporter_of_a_sensitive_tip_is_told_through_the_seal_only_we_can_open(
    feedback_settings: Settings, token_verifier: TokenVerifier,
    make_token: Callable[..., str],
) -> None:
    """The reporter of a sensitive tip comes only sealed (shared.contracts.events): opened
    with this service's keyring, the closure notice reaches them, and the stored fact keeps
    no sealed value."""
    reporter = uuid.uuid4()
    case_id = uuid.uuid4()
    closed = closed_event(None, event_id=case_id)
    closed.payload["reporter_sealed"] = ReporterSeal(
        feedback_settings.reporter_seal_keys).seal(case_id, reporter)
    app = create_app(feedback_settings, verifier=token_verifier)
    async with running(app) as client:
        await publish(app, [closed])
        await until_handled(app, 1)
        token = make_token(subject=reporter, roles=["resident"])
        inbox = await client.get("/api/v1/feedback/notifications",
                                 headers={"Authorization": f"Bearer {token}"})
        assert [(n["kind"], n["event_id"]) for n in inbox.json()["items"]] == [
            ("closed", str(case_id))]
        facts = await sql(app, "SELECT payload FROM case_facts WHERE event_id = :e", e=case_id)
        assert [f.payload.get("reporter_sealed") for f in facts] == [None]
        summary = await sql(app, "SELECT reporter_id FROM case_summaries WHERE event_id = :e",
                            e=case_id)
        assert summary[0].reporter_id == reporter


def test_a_seal_under_a_key_we_do_not_hold_fails_the_message_rather_than_losing_the_reporter(
) -> None:
    """Retried, then parked for a re-drive once the keyring is fixed — never silently
    treated as a case without a reporter."""
    case_id = uuid.uuid4()
    closed = closed_event(None, event_id=case_id)
    closed.payload["reporter_sealed"] = ReporterSeal("k9:another-keyring").seal(
        case_id, uuid.uuid4())
    ours = ReporterSeal(Settings.model_fields["reporter_seal_keys"].default)
    with pytest.raises(ReporterSealError):
        projection.reporter_of(closed, ours)
    assert projection.reporter_of(closed_event(None), ours) is None


async def test_a_forged_list_cursor_is_refused_not_a_crash(
    feedback_settings: Settings, token_verifier: TokenVerifier, make_token: Callable[..., str]
) -> None:
    """Every list reads its cursor through shared.paging (whose edge cases are tested once,
    in tests/shared/test_paging.py): a forged one is 400 ``cursor_invalid``, never a 500."""
    import base64

    # A moment with no UTC instant: it would crash the query if it got that far.
    forged = base64.urlsafe_b64encode(
        f"0001-01-01T00:00:00+10:00|{uuid.uuid4()}".encode()).decode()
    app = create_app(feedback_settings, verifier=token_verifier)
    async with running(app) as client:
        resident = {"Authorization": f"Bearer {make_token()}"}
        admin = {"Authorization": f"Bearer {make_token(roles=['admin'])}"}
        lists = [("/api/v1/feedback/notifications", resident),
                 ("/api/v1/feedback/staff-notices", admin),
                 ("/api/v1/feedback/command-centre/350623/overdue", admin)]
        for path, headers in lists:
            answer = await client.get(path, params={"cursor": forged}, headers=headers)
            assert (answer.status_code, answer.json()["code"]) == (
                400, "cursor_invalid"), (path, answer.text)


async def test_a_failed_send_never_records_or_logs_the_wechat_access_token(
    feedback_settings: Settings, token_verifier: TokenVerifier, standin: StandIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An HTTP error from WeChat's gateway is retried; what is kept about it (the row's
    ``wechat_error``, the delivery log line) names the status, never the request URL with
    the platform's access token in its query string."""
    user = standin.user("openid-gateway-down")
    standin.gateway_errors.add("openid-gateway-down")
    settings = feedback_settings.model_copy(update={
        "wechat_api_base": standin.base_url, "identity_base_url": standin.base_url,
        "internal_api_key": INTERNAL_KEY, "wechat_backoff_seconds": 0.05,
        "sender_poll_seconds": 0.05, "wechat_max_attempts": 2})
    caplog.set_level("INFO")
    app = create_app(settings, verifier=token_verifier)
    async with running(app):
        await publish(app, [status_change(user, "accept", "accepted")])
        await until_handled(app, 1)

        async def failed() -> bool:
            rows = await sql(app, "SELECT wechat_status FROM notifications")
            return [r.wechat_status for r in rows] == ["failed"]
        await wait_until(failed, within=15)
        [row] = await sql(app, "SELECT wechat_error, wechat_attempts FROM notifications")
    assert row.wechat_attempts == 2
    assert "502" in row.wechat_error
    assert "token-" not in row.wechat_error
    assert "access_token" not in row.wechat_error
    # The feedback service's own log lines. (httpx's INFO request line also quotes the URL:
    # that is the platform's logging set-up, shared/logs.py, not this service's code.)
    ours = [str(r.msg) for r in caplog.records if r.name.startswith("services.feedback")]
    assert any("wechat_delivery" in line for line in ours)
    assert not [line for line in ours if "token-1" in line]
