"""Grid workers' monthly figures and scorecards (#19): what the bus says they did in an
Asia/Shanghai month, counted once however often it is delivered, scored with the weights an
admin sets, exported as a workbook; a manager sees the region in their scope, a worker only
their own row."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from openpyxl import load_workbook

from services.feedback.app import create_app
from services.feedback.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.testing.plugin import running
from tests.feedback.conftest import C1, TOWN_1, TOWN_2
from tests.feedback.grid_work_fixture import (
    EXPECTED_W1,
    EXPECTED_W2,
    G1,
    G2,
    G3,
    W1,
    W2,
    W3,
    left,
    march_grid_work,
    republished_visit,
)
from tests.feedback.helpers import publish, until_handled

CARDS = "/api/v1/feedback/grid-scorecards"
MARCH = {"month": "2026-03", "region": TOWN_1}
ONLY_REPORTS = {"reports": 1, "visits": 0, "patrol_hours": 0, "patrol_km": 0,
                "residents_entered": 0, "verifications_on_time_rate": 0,
                "tasks_on_time_rate": 0, "residents_verified_rate": 0}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def march_app(
    feedback_settings: Settings, token_verifier: TokenVerifier
) -> AsyncIterator[tuple[FastAPI, AsyncClient]]:
    """The app after March's grid work, every message delivered twice and one visit
    republished under a new message id."""
    app = create_app(feedback_settings, verifier=token_verifier)
    messages = march_grid_work()
    async with running(app) as client:
        await publish(app, messages + messages + [republished_visit()])
        await until_handled(app, 2 * len(messages) + 1)
        yield app, client


async def card(client: AsyncClient, token: str, **params: str) -> dict[str, Any]:
    answer = await client.get(CARDS, params={**MARCH, **params}, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def figures_of(rows: list[dict[str, Any]], key: str, value: Any) -> dict[str, Any]:
    row = next(r for r in rows if r[key] == str(value))
    return dict(row["figures"])


def raw(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in figures.items() if not k.endswith("_rate")}


async def test_each_workers_month_counts_what_they_did_once(
    march_app: tuple[FastAPI, AsyncClient], make_token: Callable[..., str]
) -> None:
    _, client = march_app
    town = await card(client, make_token(roles=["dispatcher"], regions=[TOWN_1]))
    assert town["month"] == "2026-03"
    assert town["region_code"] == TOWN_1
    assert {w["worker_id"] for w in town["workers"]} == {str(W1), str(W2)}
    w1 = figures_of(town["workers"], "worker_id", W1)
    assert raw(w1) == pytest.approx(EXPECTED_W1)
    assert raw(figures_of(town["workers"], "worker_id", W2)) == pytest.approx(EXPECTED_W2)
    assert w1["verifications_on_time_rate"] == 0.5
    assert w1["tasks_on_time_rate"] == 1.0
    assert w1["residents_verified_rate"] == pytest.approx(2 / 3)
    named = {w["worker_id"]: (w["display_name"], w["grid_codes"], w["status"])
             for w in town["workers"]}
    assert named[str(W1)] == ("张网格", [G1], "active")


async def test_each_grid_counts_the_work_done_in_it(
    march_app: tuple[FastAPI, AsyncClient], make_token: Callable[..., str]
) -> None:
    _, client = march_app
    town = await card(client, make_token(roles=["supervisor"], regions=[TOWN_1]))
    assert {g["grid_code"] for g in town["grids"]} == {G1, G2}
    g1 = raw(figures_of(town["grids"], "grid_code", G1))
    # The report filed against the community, not a grid, is W1's but no grid's.
    assert g1 == pytest.approx({**EXPECTED_W1, "reports": 2})
    assert raw(figures_of(town["grids"], "grid_code", G2)) == pytest.approx(EXPECTED_W2)


async def test_april_holds_only_the_visit_made_after_midnight_in_shanghai(
    march_app: tuple[FastAPI, AsyncClient], make_token: Callable[..., str]
) -> None:
    _, client = march_app
    april = await card(client, make_token(roles=["admin"]), month="2026-04")
    w1 = figures_of(april["workers"], "worker_id", W1)
    assert w1["visits"] == 1
    assert w1["reports"] == 0
    assert figures_of(april["workers"], "worker_id", W2)["visits"] == 0


async def test_weights_an_admin_sets_change_the_score(
    march_app: tuple[FastAPI, AsyncClient], make_token: Callable[..., str]
) -> None:
    _, client = march_app
    admin = make_token(roles=["admin"])
    dispatcher = make_token(roles=["dispatcher"], regions=[TOWN_1])

    def scores(table: dict[str, Any]) -> dict[str, Any]:
        return {w["worker_id"]: w["score"] for w in table["workers"]}

    default = await client.get(f"{CARDS}/weights", headers=bearer(dispatcher))
    assert default.json()["reports"] == 20
    assert sum(default.json().values()) == 100
    before = scores(await card(client, dispatcher))

    put = await client.put(f"{CARDS}/weights", json=ONLY_REPORTS, headers=bearer(admin))
    assert put.status_code == 200, put.text
    by_reports = await card(client, dispatcher)
    assert scores(by_reports) == {str(W1): 100.0, str(W2): pytest.approx(33.3)}
    assert [w["worker_id"] for w in by_reports["workers"]] == [str(W1), str(W2)]
    assert by_reports["weights"] == ONLY_REPORTS
    assert scores(by_reports) != before

    on_time = {**{k: 0 for k in ONLY_REPORTS}, "tasks_on_time_rate": 2}
    await client.put(f"{CARDS}/weights", json=on_time, headers=bearer(admin))
    assert scores(await card(client, dispatcher)) == {str(W1): 100.0, str(W2): 0.0}

    # Only verifications: W2 did none, so nothing applies to them (no score, listed last).
    only = {**{k: 0 for k in ONLY_REPORTS}, "verifications_on_time_rate": 1}
    await client.put(f"{CARDS}/weights", json=only, headers=bearer(admin))
    table = await card(client, dispatcher)
    assert scores(table) == {str(W1): 50.0, str(W2): None}
    assert table["workers"][-1]["worker_id"] == str(W2)


async def test_weights_are_refused_unless_an_admin_sets_valid_ones(
    march_app: tuple[FastAPI, AsyncClient], make_token: Callable[..., str]
) -> None:
    _, client = march_app
    admin = bearer(make_token(roles=["admin"]))
    supervisor = bearer(make_token(roles=["supervisor"], regions=[TOWN_1]))
    zero = {k: 0 for k in ONLY_REPORTS}
    cases = [
        (supervisor, ONLY_REPORTS, 403, "role_required"),
        (admin, zero, 422, "weights_all_zero"),
        (admin, {**ONLY_REPORTS, "visits": -1}, 422, "validation_error"),
        (admin, {**ONLY_REPORTS, "smiles": 1}, 422, "validation_error"),
        (admin, {"reports": 1}, 422, "validation_error"),
    ]
    for who, body, status, code in cases:
        answer = await client.put(f"{CARDS}/weights", json=body, headers=who)
        assert (answer.status_code, answer.json()["code"]) == (status, code), body
    kept = await client.get(f"{CARDS}/weights", headers=admin)
    assert kept.json()["reports"] == 20  # the defaults, untouched


async def test_a_manager_reads_only_regions_in_their_scope(
    march_app: tuple[FastAPI, AsyncClient], make_token: Callable[..., str]
) -> None:
    _, client = march_app
    other_town = make_token(roles=["dispatcher"], regions=[TOWN_2])
    for path in ("", "/export.xlsx"):
        refused = await client.get(f"{CARDS}{path}", params=MARCH, headers=bearer(other_town))
        assert refused.status_code == 403
        assert refused.json()["code"] == "out_of_scope"
    theirs = await card(client, other_town, region=TOWN_2)
    assert [w["worker_id"] for w in theirs["workers"]] == [str(W3)]
    assert [g["grid_code"] for g in theirs["grids"]] == [G3]
    for role in (["grid_worker"], ["dept_staff"], ["resident"]):
        token = make_token(roles=role, regions=[G1])
        refused = await client.get(CARDS, params=MARCH, headers=bearer(token))
        assert refused.status_code == 403, role
        assert refused.json()["code"] == "role_required"
    bad = make_token(roles=["admin"])
    for params, code in (({"month": "2026-13"}, "month_invalid"),
                         ({"region": "abcdef"}, "region_invalid")):
        answer = await client.get(CARDS, params={**MARCH, **params}, headers=bearer(bad))
        assert (answer.status_code, answer.json()["code"]) == (400, code)


async def test_a_worker_sees_their_own_figures_and_nobody_elses(
    march_app: tuple[FastAPI, AsyncClient], make_token: Callable[..., str]
) -> None:
    _, client = march_app
    w2 = make_token(subject=W2, roles=["grid_worker"], regions=[G2])
    mine = await client.get(f"{CARDS}/me", params={"month": "2026-03"}, headers=bearer(w2))
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["worker"]["worker_id"] == str(W2)
    assert raw(body["worker"]["figures"]) == pytest.approx(EXPECTED_W2)
    assert str(W1) not in mine.text
    assert str(W3) not in mine.text
    assert body["weights"]["reports"] == 20
    # Scored against the community's best (W1 reported three times, W2 once).
    assert body["worker"]["score"] is not None
    assert body["worker"]["score"] < 100

    stranger = make_token(roles=["grid_worker"], regions=[G1])
    empty = await client.get(f"{CARDS}/me", params={"month": "2026-03"},
                             headers=bearer(stranger))
    assert empty.status_code == 200
    assert set(raw(empty.json()["worker"]["figures"]).values()) == {0}
    assert str(W1) not in empty.text

    manager = make_token(roles=["admin"])
    refused = await client.get(f"{CARDS}/me", headers=bearer(manager))
    assert (refused.status_code, refused.json()["code"]) == (403, "role_required")


async def test_the_scorecard_exports_as_a_workbook_of_workers_and_grids(
    march_app: tuple[FastAPI, AsyncClient], make_token: Callable[..., str]
) -> None:
    _, client = march_app
    token = make_token(roles=["supervisor"], regions=[C1])
    answer = await client.get(f"{CARDS}/export.xlsx", params={**MARCH, "region": C1},
                              headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert f"grid-scorecards-{C1}-2026-03.xlsx" in answer.headers["content-disposition"]
    book = load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["workers", "grids"]
    workers = sheet(book["workers"])
    assert {r["worker_id"] for r in workers} == {str(W1), str(W2)}
    w1 = next(r for r in workers if r["worker_id"] == str(W1))
    assert (w1["display_name"], w1["grid_codes"], w1["reports"], w1["patrol_km"]) == (
        "张网格", G1, 3, 3.0)
    assert isinstance(w1["score"], float)
    assert sorted(r["grid_code"] for r in sheet(book["grids"])) == [G1, G2]


def sheet(page: Any) -> list[dict[str, Any]]:
    rows = list(page.iter_rows(values_only=True))
    header = [str(c) for c in rows[0]]
    return [dict(zip(header, r, strict=True)) for r in rows[1:]]


async def test_a_worker_who_left_in_april_keeps_their_march_row(
    march_app: tuple[FastAPI, AsyncClient], make_token: Callable[..., str]
) -> None:
    app, client = march_app
    await publish(app, [left(W2, G2, W1, on=date(2026, 4, 2))])
    await until_handled(app, 2 * len(march_grid_work()) + 2)
    admin = make_token(roles=["admin"])
    march = await card(client, admin)
    row = next(w for w in march["workers"] if w["worker_id"] == str(W2))
    assert row["status"] == "left"
    assert raw(row["figures"]) == pytest.approx(EXPECTED_W2)
    # Gone from the months after they left; their successor stays.
    may = await card(client, admin, month="2026-05")
    assert [w["worker_id"] for w in may["workers"]] == [str(W1)]
    assert [g["grid_code"] for g in may["grids"]] == [G1]
