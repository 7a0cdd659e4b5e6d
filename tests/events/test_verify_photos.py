"""The on-site check (核查) carries the checker's photos: they join the case's attachments; a
photo that is not the checker's own upload is refused and the check is not recorded."""

from __future__ import annotations

from typing import Any

from tests.events.flows import COMMUNITY, COMMUNITY_UNIT, Loop, bearer
from tests.events.test_guards import JPEG


async def _result_submitted(loop: Loop) -> str:
    created = await loop.report()
    event_id = str(created["id"])
    await loop.wait_assigned(event_id, COMMUNITY_UNIT)
    staff = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    await loop.act(event_id, "accept", staff)
    await loop.act(event_id, "start", staff)
    await loop.act(event_id, "result", staff, {"result": "已协调双方，噪音问题解决"})
    return event_id


async def _upload(loop: Loop, token: str) -> str:
    response = await loop.events.post("/api/v1/events/attachments", headers=bearer(token),
                                      files={"file": ("site.jpg", JPEG, "image/jpeg")})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_a_grid_worker_passes_a_check_with_site_photos_and_they_join_the_case(
    loop: Loop,
) -> None:
    event_id = await _result_submitted(loop)
    before: list[Any] = (await loop.case(event_id))["attachments"]
    checker = loop.people.grid_worker()
    photo = await _upload(loop, checker)
    closed = await loop.act(event_id, "verify", checker,
                            {"passed": True, "note": "现场已恢复安静", "attachments": [photo]})
    assert closed["status"] == "closed"
    assert (await loop.case(event_id))["attachments"] == [*before, photo]


async def test_a_check_with_someone_elses_photo_is_refused_and_not_recorded(loop: Loop) -> None:
    event_id = await _result_submitted(loop)
    other = await _upload(loop, loop.people.grid_worker())
    refused = await loop.act(event_id, "verify", loop.people.grid_worker(),
                             {"passed": False, "note": "现场仍有噪音", "attachments": [other]},
                             expect=400)
    assert refused["code"] == "attachment_invalid"
    case = await loop.case(event_id)
    assert case["status"] == "result_submitted"
    assert other not in case["attachments"]
    assert [s["action"] for s in await loop.timeline(event_id)][-1] == "submit_result"
