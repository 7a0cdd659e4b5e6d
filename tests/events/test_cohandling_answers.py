"""The lead unit's case page shows each assisting unit's answer: the timeline step says an
assisting unit answered and when (events, from ``routing.subtask_closed``), and the case's
sub-tasks (routing) say which unit and who answered, what, with which attachments. Over the
events and routing apps on RabbitMQ (``loop``)."""

from __future__ import annotations

import io
import uuid
from typing import Any

from PIL import Image

from tests.events.flows import (
    COUNTY,
    COUNTY_JUSTICE,
    COUNTY_MARKET,
    COUNTY_POLICE,
    Loop,
    bearer,
)


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, "JPEG")
    return out.getvalue()


async def _case_subtasks(loop: Loop, event_id: str, token: str) -> dict[str, Any]:
    response = await loop.routing.get(f"/api/v1/routing/assignments/{event_id}/subtasks",
                                      headers=bearer(token))
    assert response.status_code == 200, response.text
    return {s["unit_id"]: s for s in response.json()["items"]}


async def test_lead_unit_reads_who_answered_when_what_and_with_which_photo(loop: Loop) -> None:
    created = await loop.report(category_code="illegal_business", description="无证经营棋牌室",
                                fields={"business_name": "某某棋牌室"})
    event_id = str(created["id"])
    await loop.wait_assigned(event_id, COUNTY_MARKET)
    market = loop.people.unit_staff(COUNTY_MARKET, COUNTY)
    await loop.act(event_id, "accept", market)
    await loop.route(f"assignments/{event_id}/co-handling", market,
                     {"unit_ids": [str(COUNTY_POLICE), str(COUNTY_JUSTICE)],
                      "task": "协助查处"}, expect=201)
    officer = uuid.uuid4()
    police = loop.people.make_token(subject=officer, roles=["dept_staff"],
                                    departments=[COUNTY_POLICE], regions=[COUNTY])
    uploaded = await loop.events.post("/api/v1/events/attachments", headers=bearer(police),
                                      files={"file": ("scene.jpg", _photo(), "image/jpeg")})
    assert uploaded.status_code == 201, uploaded.text
    photo = uploaded.json()["id"]
    [task] = (await loop.routing.get("/api/v1/routing/subtasks",
                                     headers=bearer(police))).json()["items"]

    await loop.route(f"subtasks/{task['id']}/answer", police,
                     {"answer": "已现场查处，见照片", "attachment_ids": [photo]}, expect=204)

    await loop.wait_for(event_id, lambda c: c["open_subtasks"] == 1, token=market)
    answered = [s for s in await loop.timeline(event_id, market)
                if s["action"] == "subtask_answered"]
    assert len(answered) == 1  # the step says when; routing's list says who and what
    page = await _case_subtasks(loop, event_id, market)
    answer = page[str(COUNTY_POLICE)]
    assert answer["answer"] == "已现场查处，见照片"
    assert answer["answered_by"] == str(officer)
    assert answer["answer_attachment_ids"] == [photo]
    assert answer["closed_at"] is not None
    assert page[str(COUNTY_JUSTICE)]["status"] == "open"
