"""Staff read the notes the platform writes on a case timeline in Simplified Chinese: whom
the case went to (by rule, by a dispatcher, by a timer), why it waits for the dispatcher,
deadline reminders and 督办, extensions, co-handling, the close after a passed check, ratings
(the default one too) and rework. Times read as in Zhangzhou (Asia/Shanghai); unit names
stay as they are. Over the events and routing apps on RabbitMQ (``loop``), through the
real handlers."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.events import messages
from shared.contracts.feedback import EventRated as FeedbackRated
from shared.messaging.envelope import Envelope
from shared.testing.plugin import wait_until
from tests.events.flows import (
    COMMUNITY,
    COMMUNITY_UNIT,
    COUNTY,
    COUNTY_JUSTICE,
    COUNTY_POLICE,
    OTHER_COMMUNITY_UNIT,
    TOWN_UNIT,
    Loop,
    MovableClock,
)
from tests.shared.chinese import assert_worded_in_chinese

LATIN = re.compile(r"[A-Za-z]")
SHOWN_TIME = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"


async def _staff_steps(loop: Loop, event_id: str) -> list[dict[str, Any]]:
    return await loop.timeline(event_id, loop.people.supervisor())


async def _wait_steps(loop: Loop, event_id: str, *actions: str, count: int = 1) -> None:
    async def shown() -> bool:
        seen = [s["action"] for s in await _staff_steps(loop, event_id)]
        return all(seen.count(action) >= count for action in actions)

    await wait_until(shown, within=8)


def _notes(steps: list[dict[str, Any]], action: str) -> list[str]:
    return [s["note"] for s in steps if s["action"] == action]


def _assert_every_note_reads_chinese(steps: list[dict[str, Any]]) -> None:
    """Every note on the staff timeline — the platform's, and the Chinese the people in
    these flows typed — has Chinese and not one English word."""
    notes = [s for s in steps if s["note"] is not None]
    assert assert_worded_in_chinese(notes) >= 2 * len(notes)  # each title and note
    english = [(s["action"], s["note"]) for s in notes if LATIN.search(s["note"])]
    assert english == []


async def test_dispatch_queue_reminder_and_overdue_notes_read_chinese(
    loop: Loop, clock: MovableClock
) -> None:
    event_id = (await loop.report())["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    community = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    await loop.act(event_id, "return", community, {"reason": "不属于本社区辖区"})
    await _wait_steps(loop, event_id, "queue")
    await loop.route(f"assignments/{event_id}/dispatch", loop.people.dispatcher(),
                     {"unit_id": str(OTHER_COMMUNITY_UNIT)})
    await loop.wait_assigned(event_id, OTHER_COMMUNITY_UNIT)
    clock.advance(timedelta(hours=6))  # 15:00: a reminder of the accept deadline
    await _wait_steps(loop, event_id, "remind")
    clock.advance(timedelta(days=1))  # Thursday afternoon: passed, up to the town
    await loop.wait_assigned(event_id, TOWN_UNIT, within=8)
    await _wait_steps(loop, event_id, "escalate", "supervise")

    steps = await _staff_steps(loop, event_id)
    assert _notes(steps, "dispatch") == ["已派发至东门社区居委会"]
    assert _notes(steps, "queue") == ["等待调度员分派（承办单位已退回）"]
    assert _notes(steps, "redispatch") == ["已重新派发至西门社区居委会"]
    # Re-dispatched Wednesday 09:00: accept by Thursday 09:00, shown in Zhangzhou's time.
    reminders = _notes(steps, "remind")  # one per warning fraction passed
    assert reminders
    for reminder in reminders:
        assert re.fullmatch(r"受理期限2026-11-26 09:00（已用时\d+%）", reminder), reminder
    assert _notes(steps, "escalate") == ["受理期限已过（系统自动）"]
    assert _notes(steps, "supervise") == ["受理期限已过，已督办"]
    _assert_every_note_reads_chinese(steps)


async def test_an_unmatched_report_waits_for_the_dispatcher_with_a_chinese_reason(
    loop: Loop,
) -> None:
    event_id = (await loop.report(category_code="political_security", description="可疑传单",
                                  fields={}))["id"]
    await _wait_steps(loop, event_id, "queue")
    steps = await _staff_steps(loop, event_id)
    assert _notes(steps, "queue") == ["等待调度员分派（没有匹配的分派规则）"]
    _assert_every_note_reads_chinese(steps)


async def _rate(loop: Loop, event_id: str, rating: str, *, default: bool = False) -> None:
    """What the feedback service publishes when the reporter (or the default) rates."""
    case = await loop.case(event_id)
    envelope = Envelope(
        event_type="feedback.event_rated", producer="feedback",
        payload=FeedbackRated(
            event_id=uuid.UUID(event_id), rating=rating, default_applied=default,  # type: ignore[arg-type]
            rated_at=datetime.now(UTC),
            closure_closed_at=datetime.fromisoformat(case["closed_at"]), closure_seq=1,
            rework=rating == "dissatisfied",
        ).model_dump(mode="json"),
    )
    broker = loop.apps["events"].state.runtime.broker  # type: ignore[attr-defined]
    await broker.publish(envelope.routing_key, envelope.to_bytes(),
                         message_id=str(envelope.event_id))


async def _extend_twice(loop: Loop, event_id: str, staff: str) -> None:
    """Ask for 14 more working hours (approved), then 3.5 more (refused)."""
    supervisor = loop.people.supervisor()
    for hours, approve in ((14, True), (3.5, False)):
        asked = await loop.route(f"assignments/{event_id}/extensions", staff,
                                 {"extra_working_hours": hours, "reason": "等待双方到场"},
                                 expect=201)
        await loop.route(f"extensions/{asked['id']}/decision", supervisor,
                         {"approve": approve}, expect=204)
    await _wait_steps(loop, event_id, "extend", "extension_rejected")


async def _co_handle(loop: Loop, event_id: str, staff: str, clock: MovableClock) -> None:
    """Police answer; the judicial office lets its two working hours pass."""
    answer = await loop.route(
        f"assignments/{event_id}/co-handling", staff,
        {"unit_ids": [str(COUNTY_POLICE), str(COUNTY_JUSTICE)], "task": "协助核实中介情况",
         "due_working_hours": 2}, expect=201)
    await loop.wait_for(event_id, lambda c: c["open_subtasks"] == 2, token=staff)
    police_task = answer["subtask_ids"][0]
    await loop.route(f"subtasks/{police_task}/answer",
                     loop.people.unit_staff(COUNTY_POLICE, COUNTY), {"answer": "已约谈中介"},
                     expect=204)
    clock.advance(timedelta(hours=3))
    await loop.wait_for(event_id, lambda c: c["open_subtasks"] == 0, token=staff)
    await _wait_steps(loop, event_id, "subtask_answered", "subtask_timed_out")


async def test_extension_co_handling_close_rating_and_rework_notes_read_chinese(
    loop: Loop, clock: MovableClock
) -> None:
    event_id = (await loop.report())["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    staff = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    await loop.act(event_id, "accept", staff)
    await _extend_twice(loop, event_id, staff)
    await _co_handle(loop, event_id, staff, clock)
    await loop.act(event_id, "result", staff, {"result": "押金已退还"})
    await loop.act(event_id, "verify", loop.people.grid_worker(), {"passed": True})
    await _rate(loop, event_id, "dissatisfied")
    await loop.wait_for(event_id, lambda c: c["status"] == "in_progress")
    await _wait_steps(loop, event_id, "deadline")
    await loop.act(event_id, "result", staff, {"result": "重办：押金已当面退还"})
    await loop.act(event_id, "verify", loop.people.grid_worker(), {"passed": True})
    await _rate(loop, event_id, "satisfied", default=True)
    await loop.wait_for(event_id, lambda c: c["status"] == "rated")

    steps = await _staff_steps(loop, event_id)
    assert _notes(steps, "extension_request") == ["申请延长14个工作小时", "申请延长3.5个工作小时"]
    [approved] = _notes(steps, "extend")
    assert re.fullmatch(f"延期已批准，办结期限{SHOWN_TIME}", approved), approved
    [refused] = _notes(steps, "extension_rejected")
    assert re.fullmatch(f"延期未批准，办结期限{SHOWN_TIME}", refused), refused
    assert _notes(steps, "co_handle") == ["协办单位：东山县公安局、东山县司法局"]
    assert _notes(steps, "subtask_answered") == ["协办单位已答复"]
    assert _notes(steps, "subtask_timed_out") == ["协办单位逾期未答复"]
    assert _notes(steps, "close") == ["核查通过，事项办结"] * 2
    assert _notes(steps, "rate") == ["不满意", "满意（默认评价）"]
    assert _notes(steps, "rework") == ["群众不满意，重新办理"]
    [rework_deadline] = _notes(steps, "deadline")
    assert re.fullmatch(f"办结期限调整为{SHOWN_TIME}（重新办理）", rework_deadline)
    # The new resolve-by is the case's, as people in Zhangzhou read it.
    resolve_by = datetime.fromisoformat((await loop.case(event_id))["resolve_by"])
    assert rework_deadline == f"办结期限调整为{_zhangzhou(resolve_by)}（重新办理）"
    _assert_every_note_reads_chinese(steps)


def _zhangzhou(moment: datetime) -> str:
    return (moment + timedelta(hours=8)).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


async def test_a_resident_still_reads_no_platform_note(loop: Loop) -> None:
    """The platform's notes are for staff: residents read the steps' titles, as before."""
    event_id = (await loop.report())["id"]
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    await loop.handle_to_close(event_id, COMMUNITY_UNIT, COMMUNITY)
    steps = await loop.timeline(event_id)
    assert {s["action"]: s["note"] for s in steps if s["action"] in ("dispatch", "close")} \
        == {"dispatch": None, "close": None}
    staff = {s["action"]: s["note"] for s in await _staff_steps(loop, event_id)}
    assert (staff["dispatch"], staff["close"]) == ("已派发至东门社区居委会", "核查通过，事项办结")


def test_late_and_wordless_replies_and_a_lapse_after_the_reply_by_read_chinese() -> None:
    """The variants the flows above do not reach: a late reply, a reply from an older
    producer with no words, a 督办 that lapsed after its reply-by; times from UTC."""
    moment = datetime(2026, 11, 26, 1, 30, tzinfo=UTC)  # 09:30 in Zhangzhou
    assert messages.note_supervision_replied("supervision", "已处理", late=True) \
        == "督办（逾期答复）：已处理"
    assert messages.note_supervision_replied("listed", None, late=False) == "挂牌督办：已答复"
    assert messages.note_supervision_lapsed("reminder", "rejected", was_overdue=True) \
        == "提醒未获答复即终止：事项不予受理，答复期限已过"
    assert messages.note_extension_decided(True, moment) == "延期已批准，办结期限2026-11-26 09:30"
    assert messages.note_assigned("transfer", "西门社区居委会") == "已转至西门社区居委会"
    assert messages.note_assigned("escalated", "铜陵镇综治中心") == "已上报至铜陵镇综治中心"
