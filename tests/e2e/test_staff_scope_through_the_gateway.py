"""Staff scope, proven end to end through the gateway for every item of issue #17: a clerk of
one unit cannot open another unit's attachments, sub-tasks or staff notices (nor read their
unread count or mark them read); a county supervisor cannot supervise another county's case;
a town's dispatcher cannot dispatch another town's case; a dept_admin cannot touch another
unit's staff; a keyword search never finds another unit's cases. Every refusal is checked
for its status, its problem ``code`` and that nothing was written (the rows it could have
changed are compared before and after, in the owning service's own schema). Each test also
shows the same request succeeding for someone in scope, so a refusal cannot pass for the
wrong reason."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.db.migrate import schema_name
from shared.testing.plugin import wait_until
from tests.e2e.conftest import Platform, bearer, ok
from tests.events.flows import (
    COMMUNITY,
    COMMUNITY_UNIT,
    COUNTY,
    COUNTY_JUSTICE,
    COUNTY_POLICE,
    GRID,
    OTHER_COMMUNITY_UNIT,
    TOWN,
    Loop,
    People,
)

OTHER_COMMUNITY = "350626106002"  # 西门社区, next door to 东门社区 in 铜陵镇
OTHER_COMMUNITY_GRID = "350626106002001"
OTHER_TOWN = "350626101"  # 樟塘镇, in the same county
OTHER_COUNTY = "350623"  # 漳浦县
PASSWORD = "Dongmen-2026!"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(20_000)


@dataclass
class Scene:
    """The platform behind the gateway, the flows' steps over it, and SQL into a service's
    own schema to see that a refused request wrote nothing."""

    client: httpx.AsyncClient
    loop: Loop
    people: People
    make_token: Callable[..., str]
    engine: AsyncEngine
    prefix: str

    async def fingerprint(self, service: str, table: str, where: str, **params: Any) -> str:
        """Every column of the rows of ``table`` matching ``where``, hashed in one order."""
        async with self.engine.connect() as conn:
            await conn.execute(text(f'SET search_path TO "{schema_name(service, self.prefix)}"'))
            found = await conn.execute(text(
                f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' "
                f"ORDER BY t::text)), '') FROM {table} t WHERE {where}"), params)
            return str(found.scalar())

    def clerk(self, unit: uuid.UUID, region: str) -> str:
        return self.people.unit_staff(unit, region)


@pytest.fixture
async def scene(
    platform: Platform, database_url: str, make_token: Callable[..., str]
) -> AsyncIterator[Scene]:
    people = People(make_token)
    engine = create_async_engine(database_url, pool_size=2)
    try:
        yield Scene(client=platform.client,
                    loop=Loop(events=platform.client, routing=platform.client, people=people),
                    people=people, make_token=make_token, engine=engine, prefix=platform.prefix)
    finally:
        await engine.dispose()


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.text


async def unchanged(snapshot: Callable[[], Awaitable[str]],
                    attempt: Callable[[], Awaitable[None]]) -> None:
    """``attempt`` (its refusals asserted inside) leaves ``snapshot`` as it found it."""
    before = await snapshot()
    await attempt()
    assert await snapshot() == before


async def reported_to_the_community(scene: Scene, **overrides: Any) -> str:
    """A tenancy dispute reported in 东门社区 (through the gateway), held by its 居委会."""
    created = await scene.loop.report(**overrides)
    await scene.loop.wait_assigned(created["id"], COMMUNITY_UNIT, within=15)
    return str(created["id"])


async def case_rows(scene: Scene, event_id: str) -> str:
    """What events holds of a case: the case, its timeline and its attachments."""
    return "/".join([
        await scene.fingerprint("events", "cases", "id = :e", e=uuid.UUID(event_id)),
        await scene.fingerprint("events", "timeline", "event_id = :e", e=uuid.UUID(event_id)),
        await scene.fingerprint("events", "attachments", "event_id = :e",
                                e=uuid.UUID(event_id)),
    ])


# -- attachments ------------------------------------------------------------------------------


async def test_a_clerk_of_another_unit_cannot_open_the_cases_attachment(scene: Scene) -> None:
    upload = ok(await scene.client.post(
        "/api/v1/events/attachments", headers=bearer(scene.people.resident()),
        files={"file": ("clip.mp4", MP4, "application/octet-stream")}), 201)
    event_id = await reported_to_the_community(scene, attachments=[upload["id"]])
    path = f"/api/v1/events/attachments/{upload['id']}"
    holder = scene.clerk(COMMUNITY_UNIT, COMMUNITY)
    opened = await scene.client.get(path, headers={**bearer(holder), "Range": "bytes=0-15"})
    assert (opened.status_code, opened.content) == (206, MP4[:16])

    outsider = bearer(scene.clerk(OTHER_COMMUNITY_UNIT, OTHER_COMMUNITY))

    async def attempt() -> None:
        refused(await scene.client.get(path, headers=outsider), 404, "attachment_not_found")
        refused(await scene.client.get(f"{path}/thumbnail", headers=outsider), 404,
                "attachment_not_found")
        refused(await scene.client.post(f"{path}/link", headers=outsider), 404,
                "attachment_not_found")

    await unchanged(lambda: case_rows(scene, event_id), attempt)


# -- co-handling sub-tasks ----------------------------------------------------------------------


async def test_a_clerk_of_another_unit_cannot_list_open_or_answer_a_subtask(
    scene: Scene,
) -> None:
    event_id = await reported_to_the_community(scene)
    lead = scene.clerk(COMMUNITY_UNIT, COMMUNITY)
    await scene.loop.act(event_id, "accept", lead)
    asked = ok(await scene.client.post(
        f"/api/v1/routing/assignments/{event_id}/co-handling", headers=bearer(lead),
        json={"unit_ids": [str(COUNTY_POLICE), str(COUNTY_JUSTICE)],
              "task": "请协助核实中介收费情况"}), 201)
    police = scene.clerk(COUNTY_POLICE, COUNTY)
    [police_task] = [t["id"] for t in ok(await scene.client.get(
        "/api/v1/routing/subtasks", headers=bearer(police)))["items"]]
    assert police_task in {str(i) for i in asked["subtask_ids"]}

    justice = bearer(scene.clerk(COUNTY_JUSTICE, COUNTY))
    neighbour = bearer(scene.clerk(OTHER_COMMUNITY_UNIT, OTHER_COMMUNITY))

    async def attempt() -> None:
        refused(await scene.client.get(f"/api/v1/routing/units/{COUNTY_POLICE}/subtasks",
                                       headers=justice), 403, "out_of_scope")
        refused(await scene.client.get("/api/v1/routing/subtasks", headers=justice,
                                       params={"unit_id": str(COUNTY_POLICE)}),
                403, "out_of_scope")
        refused(await scene.client.get(f"/api/v1/routing/subtasks/{police_task}",
                                       headers=justice), 404, "subtask_not_found")
        refused(await scene.client.post(f"/api/v1/routing/subtasks/{police_task}/answer",
                                        json={"answer": "冒名答复"}, headers=justice),
                403, "not_assigned")
        refused(await scene.client.get(f"/api/v1/routing/assignments/{event_id}/subtasks",
                                       headers=neighbour), 403, "out_of_scope")

    await unchanged(lambda: scene.fingerprint("routing", "subtasks", "event_id = :e",
                                              e=uuid.UUID(event_id)), attempt)
    still = ok(await scene.client.get(f"/api/v1/routing/subtasks/{police_task}",
                                      headers=bearer(police)))
    assert (still["status"], still["answer"]) == ("open", None)


# -- staff notices ------------------------------------------------------------------------------


async def test_a_clerk_of_another_unit_cannot_see_count_or_mark_read_a_units_notice(
    scene: Scene,
) -> None:
    event_id = await reported_to_the_community(scene)
    holder = bearer(scene.clerk(COMMUNITY_UNIT, COMMUNITY))
    found: list[dict[str, Any]] = []

    async def arrived() -> bool:
        inbox = ok(await scene.client.get("/api/v1/feedback/staff-notices", headers=holder))
        found[:] = [n for n in inbox["items"] if n["event_id"] == event_id]
        return len(found) == 1

    await wait_until(arrived, within=15)
    notice = found[0]
    assert (notice["kind"], notice["addressed_unit_id"]) == ("assigned", str(COMMUNITY_UNIT))
    holder_unread = ok(await scene.client.get("/api/v1/feedback/staff-notices/unread-count",
                                              headers=holder))["unread"]
    assert holder_unread >= 1

    outsider = bearer(scene.clerk(OTHER_COMMUNITY_UNIT, OTHER_COMMUNITY))

    async def attempt() -> None:
        inbox = ok(await scene.client.get("/api/v1/feedback/staff-notices", headers=outsider))
        assert notice["id"] not in {n["id"] for n in inbox["items"]}
        unread = ok(await scene.client.get("/api/v1/feedback/staff-notices/unread-count",
                                           headers=outsider))["unread"]
        assert unread == len([n for n in inbox["items"] if n["read_at"] is None]) == 0
        refused(await scene.client.post(f"/api/v1/feedback/staff-notices/{notice['id']}/read",
                                         headers=outsider), 404, "staff_notice_not_found")
        marked = ok(await scene.client.post("/api/v1/feedback/staff-notices/read-all",
                                            headers=outsider))
        assert marked["marked"] == 0

    await unchanged(lambda: scene.fingerprint("feedback", "staff_notice_reads", "notice_id = :n",
                                              n=uuid.UUID(notice["id"])), attempt)
    assert ok(await scene.client.get("/api/v1/feedback/staff-notices/unread-count",
                                     headers=holder))["unread"] == holder_unread
    read = ok(await scene.client.post(f"/api/v1/feedback/staff-notices/{notice['id']}/read",
                                      headers=holder))
    assert read["read_at"] is not None  # the holder's own mark is theirs to set
    assert ok(await scene.client.get("/api/v1/feedback/staff-notices/unread-count",
                                     headers=holder))["unread"] == holder_unread - 1


# -- 督办 --------------------------------------------------------------------------------------


async def test_a_county_supervisor_cannot_supervise_another_countys_case(scene: Scene) -> None:
    event_id = await reported_to_the_community(scene)
    order = {"level": "supervision", "instruction": "请尽快化解押金纠纷",
             "reply_by": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    path = f"/api/v1/routing/assignments/{event_id}/supervisions"
    elsewhere = bearer(scene.make_token(roles=["supervisor"], regions=[OTHER_COUNTY]))

    async def attempt() -> None:
        refused(await scene.client.post(path, json=order, headers=elsewhere), 403,
                "out_of_scope")

    async def rows() -> str:
        return "/".join([
            await scene.fingerprint("routing", "supervision_orders", "event_id = :e",
                                    e=uuid.UUID(event_id)),
            await case_rows(scene, event_id)])

    await unchanged(rows, attempt)
    before = await rows()
    in_scope = bearer(scene.make_token(roles=["supervisor"], regions=[COUNTY]))
    issued = ok(await scene.client.post(path, json=order, headers=in_scope), 201)
    assert issued["unit_id"] == str(COMMUNITY_UNIT)
    assert await rows() != before  # the rows compared are the ones a 督办 writes


# -- dispatch -----------------------------------------------------------------------------------


async def test_a_towns_dispatcher_cannot_dispatch_another_towns_case(scene: Scene) -> None:
    # No routing rule takes this category: the case waits for 铜陵镇's dispatchers.
    created = await scene.loop.report(category_code="political_security",
                                      description="可疑传单张贴", fields={})
    event_id = str(created["id"])
    town_dispatcher = bearer(scene.make_token(roles=["dispatcher"], regions=[TOWN]))

    async def queued() -> bool:
        """In the town's queue, and the queueing on the case's timeline too: events writes
        that step from routing's message a moment later, and the snapshot below must not
        take it for a write of the refused requests."""
        queue = ok(await scene.client.get("/api/v1/routing/queue", headers=town_dispatcher))
        steps = ok(await scene.client.get(f"/api/v1/events/{event_id}/timeline",
                                          headers=town_dispatcher))["items"]
        return (event_id in {str(item["event_id"]) for item in queue["items"]}
                and "queue" in {step["action"] for step in steps})

    await wait_until(queued, within=15)
    body = {"unit_id": str(COUNTY_POLICE), "note": "交派出所核查"}
    other_town = bearer(scene.make_token(roles=["dispatcher"], regions=[OTHER_TOWN]))

    async def attempt() -> None:
        refused(await scene.client.post(f"/api/v1/routing/assignments/{event_id}/dispatch",
                                        json=body, headers=other_town), 403, "out_of_scope")
        refused(await scene.client.post(f"/api/v1/routing/assignments/{event_id}/transfer",
                                        json={"unit_id": body["unit_id"], "reason": "越权转办"},
                                        headers=other_town), 403, "out_of_scope")
        queue = ok(await scene.client.get("/api/v1/routing/queue", headers=other_town))
        assert event_id not in {str(item["event_id"]) for item in queue["items"]}

    async def rows() -> str:
        return "/".join([
            await scene.fingerprint("routing", "assignments", "event_id = :e",
                                    e=uuid.UUID(event_id)),
            await case_rows(scene, event_id)])

    await unchanged(rows, attempt)
    before = await rows()
    ok(await scene.client.post(f"/api/v1/routing/assignments/{event_id}/dispatch",
                               json=body, headers=town_dispatcher), 202)
    await scene.loop.wait_assigned(event_id, COUNTY_POLICE, within=15,
                                   token=scene.people.dispatcher())
    assert await rows() != before  # the rows compared are the ones a dispatch writes


# -- a unit's staff -----------------------------------------------------------------------------


async def test_a_dept_admin_cannot_touch_another_units_staff(scene: Scene) -> None:
    client = scene.client
    admin = bearer(scene.make_token(roles=["admin"]))
    tag = uuid.uuid4().hex[:8]

    def staff_path(unit: uuid.UUID) -> str:
        return f"/api/v1/identity/departments/{unit}/staff"

    ok(await client.post(staff_path(COMMUNITY_UNIT), headers=admin, json={
        "username": f"dongmen-head-{tag}", "password": PASSWORD, "display_name": "东门社区负责人",
        "roles": ["dept_admin"], "regions": [COMMUNITY]}), 201)
    other = ok(await client.post(staff_path(OTHER_COMMUNITY_UNIT), headers=admin, json={
        "username": f"ximen-clerk-{tag}", "password": PASSWORD, "display_name": "西门社区办事员",
        "roles": ["dept_staff"], "regions": [OTHER_COMMUNITY]}), 201)
    head = bearer(ok(await client.post("/api/v1/identity/staff-login", json={
        "username": f"dongmen-head-{tag}", "password": PASSWORD}))["access_token"])
    theirs, mine = staff_path(OTHER_COMMUNITY_UNIT), staff_path(COMMUNITY_UNIT)
    intruder = {"username": f"intruder-{tag}", "password": PASSWORD, "display_name": "冒名",
                "roles": ["dept_staff"], "regions": [OTHER_COMMUNITY]}

    async def attempt() -> None:
        refused(await client.post(theirs, json=intruder, headers=head), 403, "out_of_scope")
        refused(await client.get(theirs, headers=head), 403, "out_of_scope")
        for route in (theirs, mine):  # neither through their routes nor by naming them in mine
            code = "out_of_scope" if route == theirs else "staff_outside_unit"
            refused(await client.post(f"{route}/{other['id']}/disable", headers=head), 403, code)
            refused(await client.post(f"{route}/{other['id']}/password", headers=head,
                                      json={"password": "Taken-over-2026!"}), 403, code)
            refused(await client.put(f"{route}/{other['id']}/scope", headers=head,
                                     json={"roles": ["dept_staff"], "regions": [COMMUNITY]}),
                    403, code)
        refused(await client.post(f"/api/v1/identity/staff/{other['id']}/disable",
                                  headers=head), 403, "role_required")

    async def rows() -> str:
        return "/".join([
            await scene.fingerprint("identity", "users", "id = :u", u=uuid.UUID(other["id"])),
            await scene.fingerprint("identity", "users", "username = :n",
                                    n=intruder["username"]),
            await scene.fingerprint("identity", "refresh_tokens", "user_id = :u",
                                    u=uuid.UUID(other["id"]))])

    await unchanged(rows, attempt)
    # The clerk next door still signs in with their own password.
    ok(await client.post("/api/v1/identity/staff-login", json={
        "username": f"ximen-clerk-{tag}", "password": PASSWORD}))


# -- search -------------------------------------------------------------------------------------


async def test_a_keyword_search_never_finds_another_units_cases(scene: Scene) -> None:
    marker = f"押金{uuid.uuid4().hex[:6]}"
    mine, theirs = [], []
    for grid, unit, held in ((GRID, COMMUNITY_UNIT, mine),
                             (OTHER_COMMUNITY_GRID, OTHER_COMMUNITY_UNIT, theirs)):
        for n in range(2):
            created = await scene.loop.report(region_code=grid,
                                              description=f"房东拒退{marker}第{n + 1}户")
            await scene.loop.wait_assigned(created["id"], unit, within=15)
            held.append(str(created["id"]))

    async def found(token: str, **params: str) -> set[str]:
        page = ok(await scene.client.get("/api/v1/events/search", headers=bearer(token),
                                         params={"q": marker, **params}))
        return {str(item["id"]) for item in page["items"]}

    dongmen = scene.clerk(COMMUNITY_UNIT, COMMUNITY)
    ximen = scene.clerk(OTHER_COMMUNITY_UNIT, OTHER_COMMUNITY)
    assert await found(dongmen) == set(mine)
    assert await found(ximen) == set(theirs)
    assert await found(dongmen, unit=str(OTHER_COMMUNITY_UNIT)) == set()  # asking does not help
    assert await found(dongmen, region=OTHER_COMMUNITY) == set()
    other_town = scene.make_token(roles=["dispatcher"], regions=[OTHER_TOWN])
    assert await found(other_town) == set()
    town = scene.make_token(roles=["dispatcher"], regions=[TOWN])
    assert await found(town) == set(mine) | set(theirs)  # the town sees both communities
