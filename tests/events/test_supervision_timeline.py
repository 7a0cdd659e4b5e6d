"""A manual supervision (督办) on the case's own timeline: issued (level, masked instruction,
reply-by, whom the supervisor acted for), replied (which unit, who), raised a level when
unanswered, and lapsed when the case ends first — which also clears "supervised". Copies of
routing's messages add nothing. Over the events and routing apps on RabbitMQ (``loop``)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.events.service import bus
from services.routing.service.supervision import fire_overdue_supervisions
from shared.contracts.routing import SupervisionIssued, SupervisionLapsed
from shared.testing.plugin import wait_until
from tests.events.flows import COMMUNITY, COMMUNITY_UNIT, COUNTY, Loop, MovableClock, bearer

COMMUNITY_NAME = "东门社区居委会"
SUPERVISION_STEPS = ("supervision_issued", "supervision_replied", "supervision_overdue",
                     "supervision_lapsed")


async def _assigned_case(loop: Loop) -> str:
    created = await loop.report()
    await loop.wait_assigned(created["id"], COMMUNITY_UNIT)
    return str(created["id"])


async def _issue(loop: Loop, event_id: str, supervisor: str, reply_by: Any,
                 level: str = "listed") -> str:
    order = await loop.route(f"assignments/{event_id}/supervisions", supervisor,
                             {"level": level, "reply_by": reply_by.isoformat(),
                              "instruction": "请联系房东 13912345678 协调退还押金"},
                             expect=201)
    return str(order["id"])


async def _steps(loop: Loop, event_id: str, token: str, action: str) -> list[dict[str, Any]]:
    return [s for s in await loop.timeline(event_id, token) if s["action"] == action]


async def _wait_step(loop: Loop, event_id: str, token: str, action: str) -> dict[str, Any]:
    async def shown() -> bool:
        return bool(await _steps(loop, event_id, token, action))

    await wait_until(shown, within=5)
    [step] = await _steps(loop, event_id, token, action)
    return step


async def _supervised(loop: Loop, token: str, event_id: str) -> bool:
    response = await loop.events.get("/api/v1/events/search", headers=bearer(token),
                                     params={"supervised": "true"})
    assert response.status_code == 200, response.text
    return event_id in [item["id"] for item in response.json()["items"]]


async def test_the_timeline_shows_a_supervision_issued_and_replied_with_actor_and_unit(
    loop: Loop, clock: MovableClock,
) -> None:
    event_id = await _assigned_case(loop)
    supervisor_id, clerk_id = uuid.uuid4(), uuid.uuid4()
    supervisor = loop.people.make_token(subject=supervisor_id, roles=["supervisor"],
                                        regions=[COUNTY])
    clerk = loop.people.make_token(subject=clerk_id, roles=["dept_staff"],
                                   departments=[COMMUNITY_UNIT], regions=[COMMUNITY])
    reply_by = clock() + timedelta(days=1)
    order = await _issue(loop, event_id, supervisor, reply_by)

    issued = await _wait_step(loop, event_id, clerk, "supervision_issued")
    assert issued["title"] == "下达督办"
    assert (issued["actor_role"], issued["actor_id"], issued["actor_unit"]) \
        == ("supervisor", str(supervisor_id), "东山县")
    # The reply-by as people in Zhangzhou read it (Asia/Shanghai, to the minute).
    assert issued["note"].startswith(
        f"挂牌督办 → {COMMUNITY_NAME}，请于{reply_by:%Y-%m-%d %H:%M}前答复：")
    assert "139****5678" in issued["note"]
    assert "13912345678" not in issued["note"]

    await loop.route(f"supervisions/{order}/reply", clerk, {"reply": "已约谈房东，本周退还"},
                     expect=200)
    replied = await _wait_step(loop, event_id, supervisor, "supervision_replied")
    assert replied["title"] == "督办已回复"
    assert (replied["actor_role"], replied["actor_id"], replied["actor_unit"]) \
        == ("dept_staff", str(clerk_id), COMMUNITY_NAME)
    assert replied["note"] == "挂牌督办：已约谈房东，本周退还"
    # The resident reads that the case was supervised, not the orders or who gave them.
    for_resident = [s for s in await loop.timeline(event_id) if s["action"] in SUPERVISION_STEPS]
    assert [(s["title"], s["note"], s["actor_id"]) for s in for_resident] \
        == [("下达督办", None, None), ("督办已回复", None, None)]


async def test_an_unanswered_supervision_raised_a_level_shows_on_the_timeline(
    loop: Loop, clock: MovableClock,
) -> None:
    event_id = await _assigned_case(loop)
    supervisor = loop.people.supervisor()
    reply_by = clock() + timedelta(minutes=10)  # the clock reads Zhangzhou's time
    await _issue(loop, event_id, supervisor, reply_by, "reminder")

    clock.advance(timedelta(minutes=11))

    raised = await _wait_step(loop, event_id, supervisor, "supervision_overdue")
    assert raised["title"] == "督办逾期未回复，已提级"
    assert raised["actor_role"] == "system"
    assert raised["note"] == f"提醒：{reply_by:%Y-%m-%d %H:%M}前未答复，已提请350626督导员跟进"
    assert await _supervised(loop, supervisor, event_id)  # raised, still awaiting the reply


async def test_closing_a_case_with_an_open_supervision_lapses_it_and_clears_supervised(
    loop: Loop, clock: MovableClock,
) -> None:
    event_id = await _assigned_case(loop)
    supervisor = loop.people.supervisor()
    await _issue(loop, event_id, supervisor, clock() + timedelta(minutes=10))
    await wait_until(lambda: _supervised(loop, supervisor, event_id), within=5)

    await loop.handle_to_close(event_id, COMMUNITY_UNIT, COMMUNITY)

    lapsed = await _wait_step(loop, event_id, supervisor, "supervision_lapsed")
    assert lapsed["title"] == "督办已终止"
    assert lapsed["note"] == "挂牌督办未获答复即终止：事项已办结"
    assert not await _supervised(loop, supervisor, event_id)
    # Past its reply-by now, the overdue worker does not raise what lapsed.
    clock.advance(timedelta(minutes=11))
    runtime = loop.apps["routing"].state.runtime  # type: ignore[attr-defined]
    assert await fire_overdue_supervisions(runtime.uow(), now=clock()) == 0
    assert await _steps(loop, event_id, supervisor, "supervision_overdue") == []
    assert not await _supervised(loop, supervisor, event_id)


# Copies of every supervision message routing sent for the case, under new message ids (so
# the consumer inbox does not drop them), as a producer's republish would deliver them.
_REPUBLISH = """
WITH copy AS (
    SELECT gen_random_uuid() AS id, event_type, routing_key, envelope FROM outbox
    WHERE event_type LIKE 'routing.supervision_%'
      AND envelope->'payload'->>'event_id' = :event_id)
INSERT INTO outbox (event_id, event_type, routing_key, envelope)
SELECT id, event_type, routing_key, jsonb_set(envelope, '{event_id}', to_jsonb(id::text))
FROM copy RETURNING event_id
"""


async def test_redelivered_supervision_messages_add_no_steps_and_reopen_nothing(
    loop: Loop, clock: MovableClock, database_url: str,
) -> None:
    event_id = await _assigned_case(loop)
    supervisor = loop.people.supervisor()
    staff = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    answered = await _issue(loop, event_id, supervisor, clock() + timedelta(days=1))
    await _issue(loop, event_id, supervisor, clock() + timedelta(days=1), "reminder")
    await loop.route(f"supervisions/{answered}/reply", staff, {"reply": "已处理"}, expect=200)
    await loop.handle_to_close(event_id, COMMUNITY_UNIT, COMMUNITY)
    # Steps show in the order their messages were handled: the second order's issue may come
    # in after the first one's reply, or after the lapse (the queue's batches run side by
    # side), so what is there is waited for and compared, not its order.
    before: list[dict[str, Any]] = []

    async def all_four_shown() -> bool:
        before[:] = [s for s in await loop.timeline(event_id, supervisor)
                     if s["action"] in SUPERVISION_STEPS]
        return sorted(s["action"] for s in before) == [
            "supervision_issued", "supervision_issued", "supervision_lapsed",
            "supervision_replied"]

    await wait_until(all_four_shown, within=5)

    copies = await _republish(loop, database_url, event_id)
    assert len(copies) == 4

    async def all_handled() -> bool:
        assert loop.sql is not None
        ids = ", ".join(f"'{c}'" for c in copies)
        return int(await loop.sql("events", "SELECT count(*) FROM inbox "
                                            f"WHERE event_id IN ({ids})")) == len(copies)

    await wait_until(all_handled, within=5)
    after = [s for s in await loop.timeline(event_id, supervisor)
             if s["action"] in SUPERVISION_STEPS]
    assert after == before
    assert not await _supervised(loop, supervisor, event_id)


async def _republish(loop: Loop, database_url: str, event_id: str) -> list[Any]:
    assert loop.sql is not None
    schema = await loop.sql("routing", "SELECT current_schema()")
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
            result = await conn.execute(text(_REPUBLISH), {"event_id": event_id})
            return list(result.scalars())
    finally:
        await engine.dispose()


async def test_a_supervision_reported_lapsed_before_issued_never_makes_the_case_supervised(
    loop: Loop, clock: MovableClock,
) -> None:
    """Out of order (the lapse handled before the issue, as two consumers may): both steps are
    written, each at its own time, the timeline lists them in the order they happened, and
    the supervision stays closed."""
    event_id = await _assigned_case(loop)
    supervision_id, now = uuid.uuid4(), clock()
    issued = SupervisionIssued(
        supervision_id=supervision_id, event_id=uuid.UUID(event_id), case_no="X",
        region_code=COMMUNITY, unit_id=COMMUNITY_UNIT, level="reminder",
        instruction="请回复", reply_by=now + timedelta(hours=1), issued_by=uuid.uuid4(),
        at=now, unit_name=COMMUNITY_NAME, issued_for="东山县")
    lapsed = SupervisionLapsed(
        supervision_id=supervision_id, event_id=uuid.UUID(event_id), unit_id=COMMUNITY_UNIT,
        level="reminder", case_status="closed", was_overdue=False,
        at=now + timedelta(minutes=5))
    runtime = loop.apps["events"].state.runtime  # type: ignore[attr-defined]

    for apply in (lambda uow: bus.on_supervision_lapsed(uow, lapsed),
                  lambda uow: bus.on_supervision_issued(uow, issued),
                  lambda uow: bus.on_supervision_issued(uow, issued)):
        async with runtime.uow() as uow:
            await apply(uow)

    supervisor = loop.people.supervisor()
    steps = [s for s in await loop.timeline(event_id, supervisor)
             if s["action"] in SUPERVISION_STEPS]
    assert [s["action"] for s in steps] == ["supervision_issued", "supervision_lapsed"]
    assert steps[0]["at"] < steps[1]["at"]  # each keeps its own time
    assert not await _supervised(loop, supervisor, event_id)
