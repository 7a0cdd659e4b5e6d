"""What platform services read about residents over /internal/identity (relief's applicant
profile, feedback's openid), each read in the PII audit trail; reviewers' agency on staff
accounts and in their tokens."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import pytest

from services.identity.domain import IdNumber
from services.relief.domain import Agency
from services.relief.identity_client import IdentityClient
from services.relief.service.common import agency_of
from shared.auth.internal import internal_headers
from shared.testing.plugin import running
from tests.identity.conftest import (
    admin_token,
    assert_problem,
    bearer,
    login,
    unique_id_number,
)

PEOPLE = "/api/v1/identity/registry/people"
STAFF = "/api/v1/identity/staff"
INTERNAL_KEY = "dev-only-internal-key"  # the platform settings' development default
RELIEF = internal_headers(INTERNAL_KEY, "relief")
FEEDBACK = internal_headers(INTERNAL_KEY, "feedback")
PASSWORD = "reviewer-password-123"


def profile_path(user_id: Any) -> str:
    return f"/internal/identity/residents/{user_id}/profile"


def openid_path(user_id: Any) -> str:
    return f"/internal/identity/users/{user_id}/wechat-openid"


def new_grid() -> str:
    return f"350626106{random.randint(100, 999)}{random.randint(100, 999)}"


async def _enter(client: httpx.AsyncClient, make_token: Any, grid: str, **person: Any) -> str:
    headers = bearer(make_token(roles=["grid_worker"], regions=[grid]))
    answer = await client.post(PEOPLE, json={"region_code": grid, **person}, headers=headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


async def _verified_resident(client: httpx.AsyncClient, name: str, id_number: str
                             ) -> dict[str, Any]:
    pair = await login(client)
    answer = await client.post("/api/v1/identity/me/verification",
                               json={"name": name, "id_number": id_number},
                               headers=bearer(pair["access_token"]))
    assert answer.json()["status"] == "verified", answer.text
    return pair


async def _service_reads(identity_sql: Any, *subject_ids: Any) -> list[tuple[str, str, str]]:
    rows = await identity_sql(
        "SELECT actor_id, actor_service, subject_kind, subject_id, field, reason "
        "FROM pii_access_audit WHERE subject_id = ANY(CAST(:ids AS uuid[]))",
        ids=[str(s) for s in subject_ids])
    assert all(r["actor_id"] is None for r in rows)
    assert all(r["reason"] == f"service:{r['actor_service']}" for r in rows)
    return sorted((r["actor_service"], f"{r['subject_kind']}:{r['subject_id']}", r["field"])
                  for r in rows)


async def _household(client: httpx.AsyncClient, make_token: Any) -> dict[str, Any]:
    """A verified resident entered in the registry with a spouse and a son; a neighbour in
    another household of the same grid."""
    grid, household = new_grid(), f"H{uuid.uuid4().hex[:12]}"
    mother = unique_id_number(born_in=1968, male=False)
    spouse = unique_id_number(born_in=1965)
    son = unique_id_number(born_in=2012)
    ids = {
        "self": await _enter(client, make_token, grid, id_number=mother, name="林秀英",
                             household_id=household, address="绥安镇南门村12号"),
        "spouse": await _enter(client, make_token, grid, id_number=spouse, name="陈建国",
                               household_id=household),
        "son": await _enter(client, make_token, grid, id_number=son, name="陈小明",
                            household_id=household),
        "neighbour": await _enter(client, make_token, grid, id_number=unique_id_number(),
                                  name="王五", household_id=f"H{uuid.uuid4().hex[:12]}"),
    }
    pair = await _verified_resident(client, "林秀英", mother)
    return {"grid": grid, "household": household, "pair": pair, "ids": ids,
            "numbers": {"self": mother, "spouse": spouse, "son": son}}


async def test_relief_reads_a_verified_residents_profile_with_household_and_it_is_audited(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    async with running(identity_app()) as client:
        family = await _household(client, make_token)
        user_id = family["pair"]["user"]["id"]
        answer = await client.get(profile_path(user_id), headers=RELIEF)
        audit = await client.get("/api/v1/identity/admin/pii-access",
                                 headers=bearer(await admin_token(client)))
    assert answer.status_code == 200, answer.text
    numbers, ids = family["numbers"], family["ids"]
    born = {who: IdNumber(number).birth_date.isoformat() for who, number in numbers.items()}
    assert answer.json() == {
        "user_id": user_id, "verified": True, "name": "林秀英", "id_number": numbers["self"],
        "birth_date": born["self"], "gender": "female", "region_code": family["grid"],
        "household_id": family["household"], "address": "绥安镇南门村12号",
        "household": [
            {"name": "林秀英", "id_number": numbers["self"], "birth_date": born["self"],
             "relation": "self"},
            {"name": "陈建国", "id_number": numbers["spouse"], "birth_date": born["spouse"],
             "relation": None},
            {"name": "陈小明", "id_number": numbers["son"], "birth_date": born["son"],
             "relation": None},
        ],
    }
    assert await _service_reads(identity_sql, user_id, *ids.values()) == sorted([
        ("relief", f"user:{user_id}", "name"),
        ("relief", f"user:{user_id}", "id_number"),
        ("relief", f"registry:{ids['self']}", "address"),
        ("relief", f"registry:{ids['spouse']}", "name"),
        ("relief", f"registry:{ids['spouse']}", "id_number"),
        ("relief", f"registry:{ids['son']}", "name"),
        ("relief", f"registry:{ids['son']}", "id_number"),
    ])
    # The admin's audit trail lists service reads beside people's reveals.
    assert audit.status_code == 200, audit.text
    mine = [e for e in audit.json()["items"] if e["subject_id"] == user_id]
    assert {(e["actor_id"], e["actor_service"], e["reason"]) for e in mine} == {
        (None, "relief", "service:relief")}


async def test_a_verified_resident_missing_from_the_registry_gets_what_the_account_knows(
    identity_app: Any, identity_sql: Any
) -> None:
    id_number = unique_id_number(male=True)
    async with running(identity_app()) as client:
        pair = await _verified_resident(client, "张三", id_number)
        answer = await client.get(profile_path(pair["user"]["id"]), headers=RELIEF)
    user_id = pair["user"]["id"]
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "user_id": user_id, "verified": True, "name": "张三", "id_number": id_number,
        "birth_date": IdNumber(id_number).birth_date.isoformat(), "gender": "male",
        "region_code": None, "household_id": None, "address": None, "household": [],
    }
    assert await _service_reads(identity_sql, user_id) == [
        ("relief", f"user:{user_id}", "id_number"), ("relief", f"user:{user_id}", "name")]


async def test_an_unverified_resident_is_answered_as_unverified_with_nothing_to_reveal(
    identity_app: Any, identity_sql: Any
) -> None:
    async with running(identity_app()) as client:
        pair = await login(client)
        answer = await client.get(profile_path(pair["user"]["id"]), headers=RELIEF)
    assert answer.status_code == 200, answer.text
    assert answer.json()["verified"] is False
    assert answer.json()["name"] is None
    assert answer.json()["id_number"] is None
    assert await _service_reads(identity_sql, pair["user"]["id"]) == []


async def test_unknown_users_and_staff_accounts_are_not_residents(
    identity_app: Any, token_verifier: Any, identity_sql: Any
) -> None:
    unknown = uuid.uuid4()
    async with running(identity_app()) as client:
        admin_id = token_verifier.verify(await admin_token(client)).subject
        missing = await client.get(profile_path(unknown), headers=RELIEF)
        staff = await client.get(profile_path(admin_id), headers=RELIEF)
    assert_problem(missing, 404, "resident_not_found")
    assert_problem(staff, 404, "resident_not_found")
    assert await _service_reads(identity_sql, unknown) == []


@pytest.mark.parametrize("headers", [{}, internal_headers("not-the-key", "relief")])
async def test_internal_reads_without_the_internal_key_are_refused_and_not_audited(
    identity_app: Any, identity_sql: Any, headers: dict[str, str]
) -> None:
    async with running(identity_app()) as client:
        pair = await _verified_resident(client, "李四", unique_id_number())
        user_id = pair["user"]["id"]
        profile = await client.get(profile_path(user_id), headers=headers)
        openid = await client.get(openid_path(user_id), headers=headers)
    assert_problem(profile, 401, "internal_key_invalid")
    assert_problem(openid, 401, "internal_key_invalid")
    assert await _service_reads(identity_sql, user_id) == []


async def test_feedback_reads_a_residents_openid_and_it_is_audited(
    identity_app: Any, token_verifier: Any, identity_sql: Any
) -> None:
    openid = f"o{uuid.uuid4().hex}"
    async with running(identity_app()) as client:
        pair = await login(client, openid)
        admin_id = token_verifier.verify(await admin_token(client)).subject
        answer = await client.get(openid_path(pair["user"]["id"]), headers=FEEDBACK)
        unknown = await client.get(openid_path(uuid.uuid4()), headers=FEEDBACK)
        staff = await client.get(openid_path(admin_id), headers=FEEDBACK)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"openid": openid}
    assert_problem(unknown, 404, "openid_not_found")
    assert_problem(staff, 404, "openid_not_found")
    assert await _service_reads(identity_sql, pair["user"]["id"]) == [
        ("feedback", f"user:{pair['user']['id']}", "openid")]


async def test_relief_client_accepts_the_profile_of_a_resident_living_alone(
    identity_app: Any, make_token: Any
) -> None:
    """Contract check against relief's own client (not a stand-in)."""
    app = identity_app()
    grid, id_number = new_grid(), unique_id_number()
    async with running(app) as client:
        await _enter(client, make_token, grid, id_number=id_number, name="林一",
                     household_id=f"H{uuid.uuid4().hex[:12]}")
        pair = await _verified_resident(client, "林一", id_number)
        relief = IdentityClient(base_url="http://identity", internal_key=INTERNAL_KEY,
                                transport=httpx.ASGITransport(app=app))
        try:
            profile = await relief.resident_profile(uuid.UUID(pair["user"]["id"]))
        finally:
            await relief.aclose()
    assert profile.region_code == grid
    assert [(m.name, m.relation) for m in profile.household] == [("林一", "self")]


async def test_relief_client_accepts_a_household_whose_relations_are_unknown(
    identity_app: Any, make_token: Any
) -> None:
    app = identity_app()
    async with running(app) as client:
        family = await _household(client, make_token)
        relief = IdentityClient(base_url="http://identity", internal_key=INTERNAL_KEY,
                                transport=httpx.ASGITransport(app=app))
        try:
            profile = await relief.resident_profile(uuid.UUID(family["pair"]["user"]["id"]))
        finally:
            await relief.aclose()
    assert len(profile.household) == 3


# -- reviewers' agency -------------------------------------------------------------------------


def _reviewer(agency: str | None = "civil_affairs", **overrides: Any) -> dict[str, Any]:
    body = {"username": f"rv{uuid.uuid4().hex[:10]}", "password": PASSWORD,
            "roles": ["reviewer"], "regions": ["350626106"], "agency": agency}
    body.update(overrides)
    return body


async def _staff_login(client: httpx.AsyncClient, username: str) -> dict[str, Any]:
    answer = await client.post("/api/v1/identity/staff-login",
                               json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_reviewer_logs_in_with_their_agency_in_the_token(
    identity_app: Any, token_verifier: Any
) -> None:
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        body = _reviewer("civil_affairs")
        created = await client.post(STAFF, json=body, headers=admin)
        pair = await _staff_login(client, body["username"])
        admin_principal = token_verifier.verify(admin["Authorization"].split()[1])
    assert created.status_code == 201, created.text
    assert created.json()["agency"] == "civil_affairs"
    assert pair["user"]["agency"] == "civil_affairs"
    principal = token_verifier.verify(pair["access_token"])
    assert principal.extra == {"agency": "civil_affairs"}
    assert agency_of(principal) is Agency.CIVIL_AFFAIRS  # as relief reads it
    assert admin_principal.extra == {}  # no agency, no ext claim


async def test_a_rescoped_reviewer_carries_the_new_agency_after_login_and_refresh(
    identity_app: Any, token_verifier: Any
) -> None:
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        body = _reviewer("town")
        staff_id = (await client.post(STAFF, json=body, headers=admin)).json()["id"]
        before = await _staff_login(client, body["username"])
        rescoped = await client.put(f"{STAFF}/{staff_id}/scope", headers=admin, json={
            "roles": ["reviewer"], "regions": ["350626106"], "agency": "agriculture"})
        stale = await client.post("/api/v1/identity/refresh",
                                  json={"refresh_token": before["refresh_token"]})
        after = await _staff_login(client, body["username"])
        refreshed = await client.post("/api/v1/identity/refresh",
                                      json={"refresh_token": after["refresh_token"]})
    assert token_verifier.verify(before["access_token"]).extra == {"agency": "town"}
    assert rescoped.status_code == 200, rescoped.text
    assert rescoped.json()["agency"] == "agriculture"
    assert_problem(stale, 401, "refresh_token_revoked")  # re-scoping ends old sessions
    assert token_verifier.verify(after["access_token"]).extra == {"agency": "agriculture"}
    assert refreshed.status_code == 200, refreshed.text
    assert agency_of(token_verifier.verify(refreshed.json()["access_token"])) is (
        Agency.AGRICULTURE)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"agency": "police"}, "agency_unknown"),
        ({"agency": None}, "agency_required"),
        ({"roles": ["grid_worker"], "agency": "town"}, "agency_without_reviewer"),
    ],
)
async def test_a_bad_agency_is_refused_and_nothing_is_written(
    identity_app: Any, identity_sql: Any, overrides: dict[str, Any], code: str
) -> None:
    async with running(identity_app()) as client:
        admin = bearer(await admin_token(client))
        body = _reviewer(**overrides)
        created = await client.post(STAFF, json=body, headers=admin)
        kept = _reviewer("ping_an_office")
        staff_id = (await client.post(STAFF, json=kept, headers=admin)).json()["id"]
        rescoped = await client.put(f"{STAFF}/{staff_id}/scope", headers=admin, json={
            "roles": overrides.get("roles", ["reviewer"]), "regions": ["350600"],
            "agency": overrides["agency"]})
    assert_problem(created, 422, code)
    assert_problem(rescoped, 422, code)
    assert await identity_sql("SELECT id FROM users WHERE username = :u",
                              u=body["username"]) == []
    rows = await identity_sql("SELECT roles, regions, agency FROM users WHERE username = :u",
                              u=kept["username"])
    assert [dict(r) for r in rows] == [
        {"roles": ["reviewer"], "regions": ["350626106"], "agency": "ping_an_office"}]
