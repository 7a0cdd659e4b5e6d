"""An assisting unit's answer on the lead unit's case page: the ``subtask_answered`` step names
the assisting unit and who answered, and the attachments the answer names — uploaded by the
answering officer or a colleague of the same unit — become the case's, so the lead unit opens
them; another unit's upload named in the answer stays unreadable to it. Over the events and
routing apps on RabbitMQ (``loop``)."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

from PIL import Image

from shared.contracts.routing import SubtaskClosed
from tests.events.flows import (
    COUNTY,
    COUNTY_JUSTICE,
    COUNTY_MARKET,
    COUNTY_POLICE,
    Loop,
    bearer,
)


def _photo(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, "JPEG")
    return out.getvalue()


def _staff(loop: Loop, unit: uuid.UUID) -> tuple[uuid.UUID, str]:
    subject = uuid.uuid4()
    return subject, loop.people.make_token(subject=subject, roles=["dept_staff"],
                                           departments=[unit], regions=[COUNTY])


async def _upload(loop: Loop, token: str, colour: str) -> str:
    response = await loop.events.post("/api/v1/events/attachments", headers=bearer(token),
                                      files={"file": ("scene.jpg", _photo(colour), "image/jpeg")})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _co_handled_case(loop: Loop) -> tuple[str, str]:
    created = await loop.report(category_code="illegal_business", description="无证经营棋牌室",
                                fields={"business_name": "某某棋牌室"})
    event_id = str(created["id"])
    await loop.wait_assigned(event_id, COUNTY_MARKET)
    market = loop.people.unit_staff(COUNTY_MARKET, COUNTY)
    await loop.act(event_id, "accept", market)
    await loop.route(f"assignments/{event_id}/co-handling", market,
                     {"unit_ids": [str(COUNTY_POLICE), str(COUNTY_JUSTICE)],
                      "task": "协助查处"}, expect=201)
    return event_id, market


async def test_lead_unit_opens_the_assisting_units_answer_photos_not_another_units(
    loop: Loop,
) -> None:
    event_id, market = await _co_handled_case(loop)
    officer, police = _staff(loop, COUNTY_POLICE)
    _, colleague = _staff(loop, COUNTY_POLICE)
    _, clerk = _staff(loop, COUNTY_JUSTICE)
    own = await _upload(loop, police, "white")
    colleagues = await _upload(loop, colleague, "black")
    strangers = await _upload(loop, clerk, "red")  # the justice office's, not the police's
    [task] = (await loop.routing.get("/api/v1/routing/subtasks",
                                     headers=bearer(police))).json()["items"]

    await loop.route(f"subtasks/{task['id']}/answer", police,
                     {"answer": "已现场查处，见照片",
                      "attachment_ids": [own, colleagues, strangers]}, expect=204)

    await loop.wait_for(event_id, lambda c: c["open_subtasks"] == 1, token=market)
    [step] = [s for s in await loop.timeline(event_id, market)
              if s["action"] == "subtask_answered"]
    assert loop.sql is not None
    police_name = await loop.sql("routing", f"SELECT name FROM units WHERE id = '{COUNTY_POLICE}'")
    assert step["actor_unit"] == police_name
    assert step["actor_id"] == str(officer)
    for readable in (own, colleagues):
        response = await loop.events.get(f"/api/v1/events/attachments/{readable}",
                                         headers=bearer(market))
        assert response.status_code == 200, response.text
    refused = await loop.events.get(f"/api/v1/events/attachments/{strangers}",
                                    headers=bearer(market))
    assert refused.status_code == 404
    assert refused.json()["code"] == "attachment_not_found"
    unlinked = await loop.sql("events", "SELECT count(*) FROM attachments "
                                        f"WHERE id = '{strangers}' AND event_id IS NULL")
    assert unlinked == 1  # still only its uploader's


async def test_an_answer_without_photos_names_the_unit_and_links_nothing(loop: Loop) -> None:
    event_id, market = await _co_handled_case(loop)
    _, police = _staff(loop, COUNTY_POLICE)
    [task] = (await loop.routing.get("/api/v1/routing/subtasks",
                                     headers=bearer(police))).json()["items"]
    await loop.route(f"subtasks/{task['id']}/answer", police,
                     {"answer": "已查处，无照片"}, expect=204)

    await loop.wait_for(event_id, lambda c: c["open_subtasks"] == 1, token=market)
    [step] = [s for s in await loop.timeline(event_id, market)
              if s["action"] == "subtask_answered"]
    assert step["actor_unit"] is not None
    assert loop.sql is not None
    assert await loop.sql("events", "SELECT count(*) FROM attachments "
                                    f"WHERE event_id = '{event_id}'") == 0


def test_an_older_subtask_closed_payload_still_reads() -> None:
    older = {"event_id": str(uuid.uuid4()), "subtask_id": str(uuid.uuid4()),
             "unit_id": str(uuid.uuid4()), "outcome": "timed_out",
             "at": datetime.now(UTC).isoformat()}

    closed = SubtaskClosed.model_validate(older)

    assert closed.answered_by is None
    assert closed.unit_name is None
    assert closed.attachment_ids == []
