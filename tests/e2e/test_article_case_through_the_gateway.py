"""The article's case, end to end through the gateway: a landlord–agency–tenant dispute over a
deposit in 东山县铜陵镇桂花社区. The admin opens 桂花社区 and creates 铜陵派出所 and the town's
司法所; each unit's department admin creates its clerk; the community takes the case and
escalates it to the town; the town finds it by keyword and asks the county market regulator,
the 派出所 and the 司法所 to help; each answers from its own queue; a supervisor presses the
town once by hand (督办) and the town replies; the case closes and the tenant rates it.
Staff log in with the accounts created here; no step copies an id it was not shown."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.testing.plugin import wait_until
from tests.e2e.conftest import Platform, bearer, ok, report_once_regions_are_known

COUNTY = "350626"  # 东山县
TOWN = "350626106"  # 铜陵镇
GUIHUA = "350626106009"  # 桂花社区, opened by the admin in this test
GUIHUA_GRID = "350626106009001"
PASSWORD = "Tongling-2026!"


@dataclass(frozen=True)
class Clerk:
    """A staff member logged in through identity, and the unit they work for."""

    user_id: str
    token: str
    unit_id: str


def no_content(response: httpx.Response) -> None:
    assert response.status_code == 204, f"{response.status_code}: {response.text}"


# -- the directory, as the admin and the department admins build it ---------------------------


async def open_guihua_community(client: httpx.AsyncClient, admin: str) -> str:
    """桂花社区 and its first grid join the region tree; the community gets its 居委会."""
    for code, name in ((GUIHUA, "桂花社区"), (GUIHUA_GRID, "桂花社区第一网格")):
        no_content(await client.put(f"/api/v1/routing/regions/{code}",
                                    json={"name": name, "active": True}, headers=bearer(admin)))
    return await unit_of_kind(client, admin, GUIHUA, "community")


async def unit_of_kind(client: httpx.AsyncClient, admin: str, region: str, kind: str) -> str:
    """The directory's unit of this kind in exactly this region, as the admin lists it."""
    units = ok(await client.get("/api/v1/routing/units", params={"region": region},
                                headers=bearer(admin)))["items"]
    [unit] = [u for u in units if u["kind"] == kind and u["region_code"] == region]
    return str(unit["id"])


async def create_unit(client: httpx.AsyncClient, admin: str, *, name: str, kind: str,
                      region: str) -> str:
    created = ok(await client.post("/api/v1/routing/units", json={
        "name": name, "kind": kind, "region_code": region, "categories": []},
        headers=bearer(admin)), 201)
    assert created["level"] == "town"
    return str(created["id"])


async def log_in(client: httpx.AsyncClient, username: str) -> str:
    pair = ok(await client.post("/api/v1/identity/staff-login",
                                json={"username": username, "password": PASSWORD}))
    return str(pair["access_token"])


async def staff_unit(client: httpx.AsyncClient, admin: str, *, unit_id: str, region: str,
                     name: str) -> Clerk:
    """The admin creates the unit's department admin, who logs in and creates its clerk."""
    tag = uuid.uuid4().hex[:8]
    staff_path = f"/api/v1/identity/departments/{unit_id}/staff"
    ok(await client.post(staff_path, json={
        "username": f"head-{tag}", "password": PASSWORD, "display_name": f"{name}负责人",
        "roles": ["dept_admin"], "regions": [region]}, headers=bearer(admin)), 201)
    head = await log_in(client, f"head-{tag}")
    clerk = ok(await client.post(staff_path, json={
        "username": f"clerk-{tag}", "password": PASSWORD, "display_name": f"{name}办事员",
        "roles": ["dept_staff"], "regions": [region]}, headers=bearer(head)), 201)
    assert clerk["departments"] == [unit_id]
    return Clerk(user_id=str(clerk["id"]), token=await log_in(client, f"clerk-{tag}"),
                 unit_id=unit_id)


# -- the case ---------------------------------------------------------------------------------


async def tenant_reports(client: httpx.AsyncClient, resident: str, marker: str) -> str:
    """The tenant reports from 桂花社区 (retried until events has learnt the new region)."""
    body = {"category_code": "dispute_tenancy", "region_code": GUIHUA_GRID,
            "description": f"房东与中介拒不退还押金三千元，租客多次协商无果 {marker}",
            "address": "铜陵镇桂花社区桂花巷8号", "fields": {"party_role": "tenant"}}
    return await report_once_regions_are_known(client, resident, body)


async def case(client: httpx.AsyncClient, event_id: str, token: str) -> dict[str, Any]:
    return dict(ok(await client.get(f"/api/v1/events/{event_id}", headers=bearer(token))))


async def wait_with_unit(client: httpx.AsyncClient, event_id: str, clerk: Clerk) -> None:
    async def holds() -> bool:
        response = await client.get(f"/api/v1/events/{event_id}", headers=bearer(clerk.token))
        body = response.json() if response.status_code == 200 else {}
        return (body.get("assignee") or {}).get("unit_id") == clerk.unit_id

    await wait_until(holds, within=15)


async def act(client: httpx.AsyncClient, event_id: str, action: str, token: str,
              body: dict[str, Any] | None = None) -> dict[str, Any]:
    return dict(ok(await client.post(f"/api/v1/events/{event_id}/{action}", json=body,
                                     headers=bearer(token))))


async def community_takes_and_escalates(client: httpx.AsyncClient, community: Clerk,
                                        event_id: str) -> None:
    """The community clerk finds the case in the unit's work queue, accepts, escalates."""
    async def queued() -> bool:
        queue = ok(await client.get(f"/api/v1/routing/units/{community.unit_id}/work-queue",
                                    headers=bearer(community.token)))["items"]
        return any(item["event_id"] == event_id for item in queue)

    await wait_until(queued, within=15)
    await wait_with_unit(client, event_id, community)
    await act(client, event_id, "accept", community.token)
    ok(await client.post(f"/api/v1/routing/assignments/{event_id}/escalate",
                         json={"reason": "涉及中介机构，社区调解不成"},
                         headers=bearer(community.token)), 202)


async def town_finds_by_keyword(client: httpx.AsyncClient, town: Clerk, marker: str) -> str:
    """The town searches its cases for the marker word, as a clerk reading the call would."""
    found: list[dict[str, Any]] = []

    async def listed() -> bool:
        page = ok(await client.get("/api/v1/events/search",
                                   params={"q": marker, "unit": town.unit_id},
                                   headers=bearer(town.token)))
        found[:] = page["items"]
        return len(found) == 1

    await wait_until(listed, within=15)
    return str(found[0]["id"])


async def staff_notice(client: httpx.AsyncClient, clerk: Clerk, kind: str,
                       case_no: str) -> dict[str, Any]:
    """Wait for the notice of this kind about this case in the clerk's staff inbox."""
    found: list[dict[str, Any]] = []

    async def arrived() -> bool:
        inbox = ok(await client.get("/api/v1/feedback/staff-notices",
                                    headers=bearer(clerk.token)))["items"]
        found[:] = [n for n in inbox if n["kind"] == kind and n["case_no"] == case_no]
        return len(found) == 1

    await wait_until(arrived, within=15)
    return found[0]


async def assisting_unit_answers(client: httpx.AsyncClient, clerk: Clerk, case_no: str,
                                 answer: str) -> None:
    """Told by a co-handling notice, the assisting clerk opens their own sub-task queue,
    finds the case there, reads the task and answers."""
    await staff_notice(client, clerk, "co_handling", case_no)
    queue = ok(await client.get("/api/v1/routing/subtasks", params={"state": "open"},
                                headers=bearer(clerk.token)))["items"]
    [task] = [item for item in queue if item["case_no"] == case_no]
    assert task["lead_unit_name"] == "铜陵镇综治中心"
    opened = ok(await client.get(f"/api/v1/routing/subtasks/{task['id']}",
                                 headers=bearer(clerk.token)))
    assert opened["task"] == "请协助查明中介收费与押金去向，依法调处"
    no_content(await client.post(f"/api/v1/routing/subtasks/{task['id']}/answer",
                                 json={"answer": answer}, headers=bearer(clerk.token)))


async def supervisor_presses_the_town(client: httpx.AsyncClient, supervisor: str,
                                      event_id: str) -> dict[str, Any]:
    reply_by = datetime.now(UTC) + timedelta(days=1)
    return dict(ok(await client.post(
        f"/api/v1/routing/assignments/{event_id}/supervisions",
        json={"level": "supervision", "instruction": "请镇里牵头尽快化解押金纠纷",
              "reply_by": reply_by.isoformat()},
        headers=bearer(supervisor)), 201))


async def town_replies_to_the_supervision(client: httpx.AsyncClient, town: Clerk,
                                          case_no: str) -> dict[str, Any]:
    """Told by a 督办 notice, the town opens its unit's open orders and answers this one."""
    notice = await staff_notice(client, town, "supervision_issued", case_no)
    orders = ok(await client.get(
        f"/api/v1/routing/units/{notice['addressed_unit_id']}/supervisions",
        headers=bearer(town.token)))["items"]
    [order] = [o for o in orders if o["case_no"] == case_no]
    assert order["instruction"] == "请镇里牵头尽快化解押金纠纷"
    return dict(ok(await client.post(f"/api/v1/routing/supervisions/{order['id']}/reply",
                                     json={"reply": "已召集三方联合调处，预计明日办结"},
                                     headers=bearer(town.token))))


async def tenant_rates(client: httpx.AsyncClient, resident: str, event_id: str) -> None:
    """Once feedback has learnt of the closure, the tenant rates it satisfied."""
    async def rated() -> bool:
        response = await client.post("/api/v1/feedback/ratings", json={
            "event_id": event_id, "rating": "satisfied", "comment": "押金退回了，谢谢"},
            headers=bearer(resident))
        return response.status_code == 201

    await wait_until(rated, within=15)

    async def recorded() -> bool:
        return (await case(client, event_id, resident))["rating"] == "satisfied"

    await wait_until(recorded, within=15)


# -- the test ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cast:
    """The clerks of the five units that work the case, each logged in."""

    community: Clerk  # 桂花社区居委会
    town: Clerk  # 铜陵镇综治中心
    market: Clerk  # 东山县市场监督管理局
    station: Clerk  # 东山县公安局铜陵派出所
    office: Clerk  # 铜陵镇司法所


async def build_the_directory(client: httpx.AsyncClient, admin: str) -> Cast:
    """The admin opens 桂花社区 and creates the 派出所 and the 司法所; every unit is staffed."""
    guihua = await open_guihua_community(client, admin)
    police = await create_unit(client, admin, name="东山县公安局铜陵派出所",
                               kind="police_station", region=TOWN)
    justice = await create_unit(client, admin, name="铜陵镇司法所", kind="judicial_office",
                                region=TOWN)
    town = await unit_of_kind(client, admin, TOWN, "town_office")
    market = await unit_of_kind(client, admin, COUNTY, "market_regulation")
    return Cast(
        community=await staff_unit(client, admin, unit_id=guihua, region=GUIHUA,
                                   name="桂花社区"),
        town=await staff_unit(client, admin, unit_id=town, region=TOWN, name="铜陵镇"),
        market=await staff_unit(client, admin, unit_id=market, region=COUNTY,
                                name="县市场监管局"),
        station=await staff_unit(client, admin, unit_id=police, region=TOWN, name="铜陵派出所"),
        office=await staff_unit(client, admin, unit_id=justice, region=TOWN, name="铜陵司法所"),
    )


async def town_leads_and_asks_for_help(client: httpx.AsyncClient, cast: Cast,
                                       marker: str) -> tuple[str, str]:
    """The town finds the case by keyword, takes it and asks the three units to help;
    answers (event id, case number)."""
    town = cast.town
    event_id = await town_finds_by_keyword(client, town, marker)
    await act(client, event_id, "accept", town.token)
    await act(client, event_id, "start", town.token)
    helpers = [cast.market.unit_id, cast.station.unit_id, cast.office.unit_id]
    ok(await client.post(f"/api/v1/routing/assignments/{event_id}/co-handling", json={
        "unit_ids": helpers, "task": "请协助查明中介收费与押金去向，依法调处"},
        headers=bearer(town.token)), 201)
    return event_id, str((await case(client, event_id, town.token))["case_no"])


async def supervised_once_by_hand(client: httpx.AsyncClient, supervisor: str, town: Clerk,
                                  event_id: str, case_no: str) -> None:
    """A county supervisor issues a 督办 to the town; the town replies; the case page shows
    the order answered."""
    issued = await supervisor_presses_the_town(client, supervisor, event_id)
    assert issued["unit_id"] == town.unit_id
    assert issued["status"] == "open"
    replied = await town_replies_to_the_supervision(client, town, case_no)
    assert replied["status"] == "replied"
    assert replied["replied_by"] == town.user_id
    on_case_page = ok(await client.get(f"/api/v1/routing/assignments/{event_id}/supervisions",
                                       headers=bearer(town.token)))["items"]
    assert [(o["level"], o["status"]) for o in on_case_page] == [("supervision", "replied")]


async def town_closes_the_case(client: httpx.AsyncClient, town: Clerk, grid_worker: str,
                               event_id: str) -> None:
    """Every assisting unit has answered: the town submits the joint result and the grid
    worker's check on site closes the case."""
    await wait_until(lambda: _no_open_subtasks(client, event_id, town.token), within=15)
    await act(client, event_id, "result", town.token, {"result": "三方达成调解协议，押金退还"})
    closed = await act(client, event_id, "verify", grid_worker,
                       {"passed": True, "note": "回访租客，押金已到账"})
    assert closed["status"] == "closed"


async def test_the_article_case_is_escalated_co_handled_supervised_closed_and_rated(
    platform: Platform, make_token: Callable[..., str]
) -> None:
    client = platform.client
    cast = await build_the_directory(client, make_token(roles=["admin"]))
    resident = make_token(roles=["resident"], verified=True)
    marker = f"桂花{uuid.uuid4().hex[:6]}"
    reported = await tenant_reports(client, resident, marker)
    await community_takes_and_escalates(client, cast.community, reported)

    event_id, case_no = await town_leads_and_asks_for_help(client, cast, marker)
    assert event_id == reported
    for clerk, answer in ((cast.market, "中介超范围收费，已责令退还"),
                          (cast.station, "已约谈中介负责人，无治安违法"),
                          (cast.office, "已组织三方调解，签订调解协议")):
        await assisting_unit_answers(client, clerk, case_no, answer)
    await supervised_once_by_hand(client, make_token(roles=["supervisor"], regions=[COUNTY]),
                                  cast.town, event_id, case_no)
    await assert_the_town_reads_every_answer(
        client, cast.town, event_id,
        {cast.market.user_id, cast.station.user_id, cast.office.user_id})

    await town_closes_the_case(client, cast.town,
                               make_token(roles=["grid_worker"], regions=[GUIHUA_GRID]),
                               event_id)
    await tenant_rates(client, resident, event_id)
    await assert_the_trail(client, event_id, cast.town, cast.community)


async def _no_open_subtasks(client: httpx.AsyncClient, event_id: str, token: str) -> bool:
    return (await case(client, event_id, token))["open_subtasks"] == 0


async def assert_the_town_reads_every_answer(client: httpx.AsyncClient, town: Clerk,
                                             event_id: str, answerers: set[str]) -> None:
    subtasks = ok(await client.get(f"/api/v1/routing/assignments/{event_id}/subtasks",
                                   headers=bearer(town.token)))["items"]
    assert {s["status"] for s in subtasks} == {"answered"}
    assert {s["answered_by"] for s in subtasks} == answerers
    assert {s["unit_name"] for s in subtasks} == {
        "东山县市场监督管理局", "东山县公安局铜陵派出所", "铜陵镇司法所"}


async def assert_the_trail(client: httpx.AsyncClient, event_id: str, town: Clerk,
                           community: Clerk) -> None:
    steps = ok(await client.get(f"/api/v1/events/{event_id}/timeline",
                                headers=bearer(town.token)))["items"]
    actions = [s["action"] for s in steps]
    escalation = next(s for s in steps if s["action"] == "escalate")
    assert escalation["actor_id"] == community.user_id
    assert escalation["actor_unit"] == "桂花社区居委会"
    assert "co_handle" in actions
    assert actions.count("subtask_answered") == 3
    assert actions[-2:] == ["close", "rate"], actions
    assert_the_supervision_on_the_timeline(steps, town)
    await assert_the_community_still_follows_the_case(client, event_id, community, steps)


def assert_the_supervision_on_the_timeline(steps: list[dict[str, Any]], town: Clerk) -> None:
    """The 督办 is on the case's own timeline: issued by the county's supervisor, answered
    by the town's clerk."""
    issued = next(s for s in steps if s["action"] == "supervision_issued")
    assert (issued["title"], issued["actor_role"], issued["actor_unit"]) \
        == ("下达督办", "supervisor", "东山县")
    assert issued["note"].startswith("督办 → 铜陵镇综治中心，请于")
    assert issued["note"].endswith("请镇里牵头尽快化解押金纠纷")
    replied = next(s for s in steps if s["action"] == "supervision_replied")
    assert (replied["title"], replied["actor_id"], replied["actor_unit"]) \
        == ("督办已回复", town.user_id, "铜陵镇综治中心")
    assert replied["note"] == "督办：已召集三方联合调处，预计明日办结"


async def assert_the_community_still_follows_the_case(
    client: httpx.AsyncClient, event_id: str, community: Clerk, steps: list[dict[str, Any]]
) -> None:
    """The community that escalated reads the case and its whole timeline to the end, finds
    it among the cases it handled before, and can no longer act on it."""
    assert (await case(client, event_id, community.token))["status"] == "rated"
    seen = ok(await client.get(f"/api/v1/events/{event_id}/timeline",
                               headers=bearer(community.token)))["items"]
    assert [s["action"] for s in seen] == [s["action"] for s in steps]
    found = ok(await client.get("/api/v1/events/search", params={"handled_before": "true"},
                                headers=bearer(community.token)))["items"]
    assert [c["id"] for c in found] == [event_id]
    refused = await client.post(f"/api/v1/routing/assignments/{event_id}/escalate",
                                json={"reason": "再次上报"}, headers=bearer(community.token))
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "not_assigned"
