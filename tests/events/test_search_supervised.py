"""The staff search's "supervised (督办)" filter: a case is supervised while a manual
supervision of it awaits its reply. Events learns it from routing's supervision messages;
replies close each supervision by id, so two supervisions, a duplicate and a late issue
message all leave the right answer. Over the events and routing apps on RabbitMQ (``loop``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.testing.plugin import wait_until
from tests.events.flows import COMMUNITY, COMMUNITY_UNIT, Loop, MovableClock, bearer

# A late copy of a message already handled: the same payload under a new message id (so the
# consumer inbox does not drop it), as a producer's republish would deliver it.
_REPUBLISH = """
WITH copy AS (
    SELECT gen_random_uuid() AS id, event_type, routing_key, envelope FROM outbox
    WHERE event_type = 'routing.supervision_issued'
      AND envelope->'payload'->>'supervision_id' = :supervision_id)
INSERT INTO outbox (event_id, event_type, routing_key, envelope)
SELECT id, event_type, routing_key, jsonb_set(envelope, '{event_id}', to_jsonb(id::text))
FROM copy RETURNING event_id
"""


async def _supervised(loop: Loop, token: str, flag: bool) -> list[str]:
    response = await loop.events.get("/api/v1/events/search", headers=bearer(token),
                                     params={"supervised": str(flag).lower()})
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def _issue(loop: Loop, event_id: str, token: str, clock: MovableClock) -> str:
    order = await loop.route(f"assignments/{event_id}/supervisions", token,
                             {"level": "supervision", "instruction": "请今日回复处置进展",
                              "reply_by": (clock() + timedelta(days=1)).isoformat()},
                             expect=201)
    return str(order["id"])


async def _closed(loop: Loop, supervision_id: str) -> bool:
    assert loop.sql is not None
    return bool(await loop.sql("events", "SELECT count(*) FROM case_supervisions WHERE "
                                         f"supervision_id = '{supervision_id}' AND NOT open"))


async def test_a_case_is_supervised_until_every_supervision_is_answered(
    loop: Loop, clock: MovableClock,
) -> None:
    created = await loop.report()
    event_id = str(created["id"])
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    supervisor = loop.people.supervisor()
    staff = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    assert event_id not in await _supervised(loop, supervisor, True)
    assert event_id in await _supervised(loop, supervisor, False)

    first = await _issue(loop, event_id, supervisor, clock)
    second = await _issue(loop, event_id, supervisor, clock)

    async def supervised() -> bool:
        return event_id in await _supervised(loop, supervisor, True)

    await wait_until(supervised)
    await loop.route(f"supervisions/{first}/reply", staff, {"reply": "已约谈当事人"}, expect=200)
    await wait_until(lambda: _closed(loop, first))
    assert await supervised()  # the second still awaits its reply
    assert event_id not in await _supervised(loop, supervisor, False)

    await loop.route(f"supervisions/{second}/reply", staff, {"reply": "已处理完毕"}, expect=200)

    async def not_supervised() -> bool:
        return event_id in await _supervised(loop, supervisor, False)

    await wait_until(not_supervised)
    assert not await supervised()


async def test_a_late_copy_of_an_issued_supervision_does_not_reopen_it(
    loop: Loop, clock: MovableClock, database_url: str,
) -> None:
    created = await loop.report()
    event_id = str(created["id"])
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    supervisor = loop.people.supervisor()
    staff = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    supervision = await _issue(loop, event_id, supervisor, clock)
    await loop.route(f"supervisions/{supervision}/reply", staff, {"reply": "已处理"},
                     expect=200)
    await wait_until(lambda: _closed(loop, supervision))

    copy = await _republish(loop, database_url, supervision)

    async def handled() -> bool:
        assert loop.sql is not None
        return bool(await loop.sql("events",
                                   f"SELECT count(*) FROM inbox WHERE event_id = '{copy}'"))

    await wait_until(handled)
    assert event_id in await _supervised(loop, supervisor, False)
    assert event_id not in await _supervised(loop, supervisor, True)


async def _republish(loop: Loop, database_url: str, supervision_id: str) -> Any:
    assert loop.sql is not None
    schema = await loop.sql("routing", "SELECT current_schema()")
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'SET LOCAL search_path TO "{schema}"'))
            result = await conn.execute(text(_REPUBLISH), {"supervision_id": supervision_id})
            return result.scalar_one()
    finally:
        await engine.dispose()
