"""Region statistics up the tree, with the 长泰区 figures of the 2023 report."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.testing.plugin import Migrator, running
from tests.identity.conftest import assert_problem, bearer, login, unique_id_number

STATS = "/api/v1/identity/stats/regions"


@pytest.fixture
async def fresh_prefix(migrator: Migrator, run_prefix: str) -> str:
    """Statistics count a whole schema: this test gets its own."""
    prefix = f"{run_prefix}s{uuid.uuid4().hex[:5]}"
    await migrator.ensure("identity", prefix=prefix)
    return prefix


async def test_changtai_rates_come_out_as_the_report_says_and_roll_up_to_the_city(
    identity_app: Any, make_token: Any, fresh_prefix: str
) -> None:
    admin = bearer(make_token(roles=["admin"]))
    async with running(identity_app(schema_prefix=fresh_prefix)) as client:
        county = (await client.get(f"{STATS}/350605", headers=admin)).json()
        assert county["census_population"] == 228_235
        assert county["verified"] == 97_483
        assert county["entered"] == 211_654
        assert county["verification_rate"] == 42.71
        assert county["entry_rate"] == 92.73

        grid = "350605100001001"
        worker = bearer(make_token(roles=["grid_worker"], regions=[grid]))
        id_number = unique_id_number()
        await client.post("/api/v1/identity/registry/people", headers=worker, json={
            "id_number": id_number, "name": "戴一", "region_code": grid})
        resident = await login(client)
        await client.post("/api/v1/identity/me/verification",
                          json={"name": "戴一", "id_number": id_number},
                          headers=bearer(resident["access_token"]))
        put = await client.put(f"{STATS}/350623/population", headers=admin,
                               json={"census_population": 1000})
        assert put.status_code == 204
        city = (await client.get(f"{STATS}/350600", headers=admin)).json()
        town = (await client.get(f"{STATS}/350605100", headers=bearer(make_token(
            roles=["supervisor"], regions=["350605"])))).json()
    assert city["census_population"] == 229_235
    assert city["entered"] == 211_655
    assert city["verified"] == 97_484
    children = {c["region_code"]: c for c in city["children"]}
    assert set(children) == {"350605", "350623"}
    assert children["350605"]["entered"] == 211_655
    assert children["350623"]["entry_rate"] == 0.0
    assert town["entered"] == 1
    assert town["children"][0]["region_code"] == "350605100001"


async def test_statistics_respect_scope_and_refuse_bad_codes(
    identity_app: Any, make_token: Any
) -> None:
    async with running(identity_app()) as client:
        other_county = await client.get(f"{STATS}/350605", headers=bearer(make_token(
            roles=["supervisor"], regions=["350623"])))
        resident = await client.get(f"{STATS}/350605", headers=bearer(make_token()))
        bad = await client.get(f"{STATS}/35x", headers=bearer(make_token(roles=["admin"])))
        set_by_supervisor = await client.put(
            f"{STATS}/350605/population", json={"census_population": 5},
            headers=bearer(make_token(roles=["supervisor"], regions=["350605"])))
    assert_problem(other_county, 403, "out_of_scope")
    assert_problem(resident, 403, "role_required")
    assert_problem(bad, 422, "region_invalid")
    assert_problem(set_by_supervisor, 403, "role_required")


def test_a_region_without_its_own_census_figure_sums_the_nearest_figures_below() -> None:
    from services.identity.service.stats import _census

    census = {"350605": 228_235, "350605100": 30_000, "350623100": 40_000}
    assert _census("350600", census) == 228_235 + 40_000  # the town inside 350605 is not added
    assert _census("350605", census) == 228_235
    assert _census("350623", census) == 40_000
    assert _census("350626", census) == 0
