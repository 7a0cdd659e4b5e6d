"""The organisation directory, rules with their audit, SLA policies and routing's pure rules."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from services.routing.app import create_app
from services.routing.domain import (
    Policy,
    Rule,
    deadlines,
    entry_target,
    escalation_target,
    reminder_times,
    supervisor_region,
)
from services.routing.settings import Settings
from shared.calendar import SHANGHAI, WorkingCalendar
from shared.problems import Conflict
from shared.testing.plugin import Migrator, running

RULES = [Rule("telecom_fraud", "county", "police", True),
         Rule("dispute_tenancy", "county", "market_regulation", False),
         Rule("political_security", "county", "dispatcher", True)]


def test_a_report_lands_on_its_entry_rule_or_the_community() -> None:
    fraud = entry_target(RULES, "telecom_fraud", "public_order")
    assert (fraud.level, fraud.unit_kind) == ("county", "police")
    tenancy = entry_target(RULES, "dispute_tenancy", "social_conflict")
    assert (tenancy.level, tenancy.unit_kind) == ("community", "community")
    assert entry_target(RULES, "political_security", "political_security").to_dispatcher


def test_escalation_climbs_community_town_county_and_stops_there() -> None:
    town = escalation_target(RULES, "dispute_tenancy", "social_conflict", "community")
    assert (town.level, town.unit_kind) == ("town", "town_office")
    county = escalation_target(RULES, "dispute_tenancy", "social_conflict", "town")
    assert (county.level, county.unit_kind) == ("county", "market_regulation")
    other = escalation_target(RULES, "dispute_family", "social_conflict", "town")
    assert other.unit_kind == "pingan_office"
    with pytest.raises(Conflict) as refused:
        escalation_target(RULES, "dispute_tenancy", "social_conflict", "county")
    assert refused.value.code == "escalation_ceiling"
    assert supervisor_region("350626106001") == "350626106"
    assert supervisor_region("350626") == "350626"


def test_deadlines_and_reminders_count_working_time_across_national_day() -> None:
    cal = WorkingCalendar()
    start = datetime(2026, 9, 30, 15, 0, tzinfo=SHANGHAI)
    due = deadlines(cal, Policy(7, 1, "days", True), start)
    assert due.accept_by == datetime(2026, 10, 8, 15, 0, tzinfo=SHANGHAI)
    assert due.resolve_by == datetime(2026, 10, 8, 15, 0, tzinfo=SHANGHAI)
    times = reminder_times(cal, start, due.accept_by, [0.5, 0.8])
    assert [f for f, _ in times] == [0.5, 0.8, 1.0]
    # Half of 7 h: 2.5 h left on 30 September, then 1 h after the holiday.
    assert times[0][1] == datetime(2026, 10, 8, 9, 30, tzinfo=SHANGHAI)


@pytest.fixture
async def client(
    migrator: Migrator, service_settings: Callable[..., Any], token_verifier: Any
) -> AsyncIterator[httpx.AsyncClient]:
    await migrator.ensure("routing")
    app = create_app(service_settings(Settings, run_timer_scanner=False),
                     verifier=token_verifier)
    async with running(app) as client:
        yield client


async def test_the_region_tree_is_served_level_by_level(client: httpx.AsyncClient) -> None:
    city = (await client.get("/api/v1/routing/regions")).json()["items"]
    assert city == [{"code": "350600", "name": "漳州市", "level": "city"}]
    counties = (await client.get("/api/v1/routing/regions?parent=350600")).json()["items"]
    assert {"code": "350626", "name": "东山县", "level": "county"} in counties
    assert len(counties) == 11
    towns = (await client.get("/api/v1/routing/regions?parent=350626")).json()["items"]
    assert {"code": "350626106", "name": "铜陵镇", "level": "town"} in towns
    grids = (await client.get("/api/v1/routing/regions?parent=350626106001")).json()["items"]
    assert {g["level"] for g in grids} == {"grid"}
    unknown = await client.get("/api/v1/routing/regions?parent=350626999")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "region_unknown")


async def test_only_a_supervisor_with_the_whole_city_in_scope_changes_a_city_wide_rule(
    client: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    category = f"cat_{uuid.uuid4().hex[:8]}"

    def supervisor_of(region: str) -> dict[str, str]:
        token = make_token(roles=["supervisor"], regions=[region])
        return {"Authorization": f"Bearer {token}"}

    county = await client.put(f"/api/v1/routing/rules/{category}/county",
                              headers=supervisor_of("350626"),
                              json={"unit_kind": "police", "entry": True})
    city = await client.put(f"/api/v1/routing/rules/{category}/town",
                            headers=supervisor_of("350600"),
                            json={"unit_kind": "judicial_office", "entry": True})
    admin = {"Authorization": f"Bearer {make_token(roles=['admin'])}"}
    rules = (await client.get("/api/v1/routing/rules", headers=admin)).json()["items"]
    audit = (await client.get("/api/v1/routing/rules/audit", headers=admin)).json()["items"]
    assert (county.status_code, county.json()["code"]) == (403, "out_of_scope")
    assert city.status_code == 204
    assert [(r["level"], r["unit_kind"]) for r in rules if r["category_code"] == category] == [
        ("town", "judicial_office")]
    assert [a["after"]["level"] for a in audit
            if (a["after"] or {}).get("category_code") == category] == ["town"]


async def test_rule_changes_are_audited_and_need_the_right_role(
    client: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    category = f"cat_{uuid.uuid4().hex[:8]}"
    staff = {"Authorization": f"Bearer {make_token(roles=['dept_staff'])}"}
    refused = await client.put(f"/api/v1/routing/rules/{category}/county", headers=staff,
                               json={"unit_kind": "police", "entry": True})
    assert (refused.status_code, refused.json()["code"]) == (403, "role_required")
    admin_id = uuid.uuid4()
    admin = {"Authorization": f"Bearer {make_token(subject=admin_id, roles=['admin'])}"}
    for kind in ("police", "market_regulation"):
        response = await client.put(f"/api/v1/routing/rules/{category}/county", headers=admin,
                                    json={"unit_kind": kind, "entry": True})
        assert response.status_code == 204
    bad = await client.put(f"/api/v1/routing/rules/{category}/planet", headers=admin,
                           json={"unit_kind": "police"})
    assert (bad.status_code, bad.json()["code"]) == (422, "level_invalid")
    audit = (await client.get("/api/v1/routing/rules/audit", headers=admin)).json()["items"]
    mine = [a for a in audit if (a["after"] or {}).get("category_code") == category]
    assert [a["after"]["unit_kind"] for a in reversed(mine)] == ["police", "market_regulation"]
    assert mine[0]["before"]["unit_kind"] == "police"
    assert mine[0]["actor_id"] == str(admin_id)
    resident = {"Authorization": f"Bearer {make_token(roles=['resident'])}"}
    assert (await client.get("/api/v1/routing/rules", headers=resident)).status_code == 403
    rules = (await client.get("/api/v1/routing/rules", headers=admin)).json()["items"]
    assert {"category_code": category, "level": "county", "unit_kind": "market_regulation",
            "entry": True} in rules


async def test_grid_workers_are_assigned_to_grids_within_scope(
    client: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    worker = uuid.uuid4()
    far = {"Authorization": f"Bearer {make_token(roles=['dept_admin'], regions=['350623'])}"}
    refused = await client.put(f"/api/v1/routing/grids/350626106001001/workers/{worker}",
                               headers=far)
    assert (refused.status_code, refused.json()["code"]) == (403, "out_of_scope")
    near = {"Authorization": f"Bearer {make_token(roles=['dept_admin'], regions=['350626'])}"}
    assert (await client.put(f"/api/v1/routing/grids/350626106001001/workers/{worker}",
                             headers=near)).status_code == 204
    listed = await client.get("/api/v1/routing/grids/350626106001001/workers", headers=near)
    assert str(worker) in listed.json()["user_ids"]
    not_a_grid = await client.put(f"/api/v1/routing/grids/350626106001/workers/{worker}",
                                  headers=near)
    assert (not_a_grid.status_code, not_a_grid.json()["code"]) == (404, "region_unknown")


async def test_sla_policies_and_calendar_overrides_are_admin_managed(
    client: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    admin = {"Authorization": f"Bearer {make_token(roles=['admin'])}"}
    staff = {"Authorization": f"Bearer {make_token(roles=['supervisor'])}"}
    category = f"cat_{uuid.uuid4().hex[:8]}"
    body = {"accept_hours": 2, "resolve_amount": 24, "resolve_unit": "hours",
            "auto_escalate": True}
    refused = await client.put(f"/api/v1/routing/sla-policies/{category}/urgent", json=body,
                               headers=staff)
    assert refused.status_code == 403
    assert (await client.put(f"/api/v1/routing/sla-policies/{category}/urgent", json=body,
                             headers=admin)).status_code == 204
    policies = (await client.get("/api/v1/routing/sla-policies", headers=staff)).json()["items"]
    assert {"category_code": category, "urgency": "urgent", **body} in [
        {**p, "accept_hours": int(p["accept_hours"]), "resolve_amount": int(p["resolve_amount"])}
        for p in policies]
    bad = await client.put(f"/api/v1/routing/sla-policies/{category}/normal",
                           json={**body, "resolve_unit": "weeks"}, headers=admin)
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_error")
    refused = await client.put("/api/v1/routing/calendar/overrides/2027-02-20",
                               json={"workday": True}, headers=staff)
    assert refused.status_code == 403
    assert (await client.put("/api/v1/routing/calendar/overrides/2027-02-20",
                             json={"workday": True, "note": "调休"},
                             headers=admin)).status_code == 204


async def test_nul_over_long_codes_and_unknown_urgencies_are_refused_not_crashed(
    client: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    """Each is a 4xx problem with a code, never a 500 from PostgreSQL."""
    admin = {"Authorization": f"Bearer {make_token(roles=['admin'])}"}
    some_case, some_unit = uuid.uuid4(), str(uuid.uuid4())
    policy = {"accept_hours": 2, "resolve_amount": 24, "resolve_unit": "hours"}
    requests: list[tuple[str, str, Any, int, str]] = [
        ("POST", f"assignments/{some_case}/dispatch", {"unit_id": some_unit, "note": "派\x00"},
         422, "validation_error"),
        ("POST", f"assignments/{some_case}/transfer", {"unit_id": some_unit, "reason": "转\x00办"},
         422, "validation_error"),
        ("POST", f"assignments/{some_case}/escalate", {"reason": "上\x00报"},
         422, "validation_error"),
        ("POST", f"assignments/{some_case}/extensions",
         {"extra_working_hours": 2, "reason": "延\x00期"}, 422, "validation_error"),
        ("POST", f"assignments/{some_case}/co-handling",
         {"unit_ids": [some_unit], "task": "协\x00办"}, 422, "validation_error"),
        ("POST", f"subtasks/{uuid.uuid4()}/answer", {"answer": "答\x00复"},
         422, "validation_error"),
        ("PUT", "rules/" + "x" * 65 + "/county", {"unit_kind": "police"},
         422, "validation_error"),
        ("PUT", "rules/cat%00/county", {"unit_kind": "police"}, 422, "validation_error"),
        ("PUT", "rules/some_cat/county", {"unit_kind": "pol\x00ice"}, 422, "validation_error"),
        ("PUT", "sla-policies/some_cat/whenever", policy, 422, "validation_error"),
        ("PUT", "sla-policies/" + "x" * 65 + "/normal", policy, 422, "validation_error"),
        ("PUT", "sla-policies/cat%00/normal", policy, 422, "validation_error"),
        ("PUT", "calendar/overrides/2027-02-20", {"workday": True, "note": "调\x00休"},
         422, "validation_error"),
        ("PUT", "regions/350626106009", {"name": "新\x00社区"}, 422, "validation_error"),
        # A NUL in a query or path is refused for every service at the door (shared/web).
        ("GET", "units?region=35%00", None, 422, "validation_error"),
        ("GET", "grids/35062610600100%00/workers", None, 422, "validation_error"),
        ("PUT", f"grids/35062610600100%00/workers/{uuid.uuid4()}", None, 422,
         "validation_error"),
    ]
    for method, path, body, status, code in requests:
        response = await client.request(method, f"/api/v1/routing/{path}", json=body,
                                        headers=admin)
        assert (response.status_code, response.json().get("code")) == (status, code), path
    rules = (await client.get("/api/v1/routing/rules", headers=admin)).json()["items"]
    assert not [r for r in rules if r["category_code"] == "some_cat"]
    assert (await client.get("/api/v1/routing/units?region=350626",
                             headers=admin)).status_code == 200
