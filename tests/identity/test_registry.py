"""Population registry: entry by grid workers in their grid, CSV/XLSX import through the API
and the CLI, re-import updates, links to verified accounts."""

from __future__ import annotations

import io
import random
import uuid
from typing import Any

import pytest
from openpyxl import Workbook

from services.identity.cli import import_registry
from shared.testing.plugin import running, wait_until
from tests.identity.conftest import assert_problem, bearer, login, unique_id_number

PEOPLE = "/api/v1/identity/registry/people"
IMPORTS = "/api/v1/identity/registry/imports"


def new_grid() -> str:
    """A grid code of 铜陵镇 (350626106) no other test uses."""
    return f"350626106{random.randint(100, 999)}{random.randint(100, 999)}"


def grid_worker(make_token: Any, grid: str) -> dict[str, str]:
    return bearer(make_token(roles=["grid_worker"], regions=[grid]))


async def finished(client: Any, headers: dict[str, str], import_id: str, *,
                   within: float = 30.0) -> dict[str, Any]:
    """Poll an import until it has succeeded or failed; its last state."""
    job: dict[str, Any] = {}

    async def done() -> bool:
        nonlocal job
        answer = await client.get(f"{IMPORTS}/{import_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        job = answer.json()
        return job["status"] in ("succeeded", "failed")

    await wait_until(done, within=within, interval=0.05)
    return job


async def import_file(client: Any, headers: dict[str, str], filename: str, content: bytes,
                      content_type: str = "text/csv") -> dict[str, Any]:
    """Upload a file and wait for its import to end; the finished job."""
    answer = await client.post(IMPORTS, headers=headers,
                               files={"file": (filename, content, content_type)})
    assert answer.status_code == 202, answer.text
    assert answer.headers["location"] == f"{IMPORTS}/{answer.json()['id']}"
    return await finished(client, headers, answer.json()["id"])


async def _count(identity_sql: Any, grid: str) -> int:
    rows = await identity_sql("SELECT count(*) AS n FROM registry_people WHERE region_code = :g",
                              g=grid)
    return int(rows[0]["n"])


async def test_a_grid_worker_enters_a_resident_and_re_entry_updates(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    grid = new_grid()
    id_number = unique_id_number()
    body = {"id_number": id_number, "name": "林一", "region_code": grid,
            "household_id": "H001", "tags": ["独居老人"], "address": "铜陵镇一路1号"}
    async with running(identity_app()) as client:
        first = await client.post(PEOPLE, json=body, headers=grid_worker(make_token, grid))
        again = await client.post(PEOPLE, json={**body, "tags": ["低保户"]},
                                  headers=grid_worker(make_token, grid))
    assert first.status_code == 200, first.text
    assert first.json()["created"] is True
    assert again.json()["created"] is False
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["tags"] == ["低保户"]
    assert first.json()["id_number"] == id_number[:6] + "********" + id_number[-4:]
    assert id_number not in first.text
    assert await _count(identity_sql, grid) == 1
    events = await identity_sql(
        "SELECT envelope FROM outbox WHERE event_type = 'identity.resident_entered' "
        "AND envelope->'payload'->>'region_code' = :g ORDER BY id", g=grid)
    assert [e["envelope"]["payload"]["created"] for e in events] == [True, False]


async def test_entry_outside_the_workers_grid_is_refused_and_writes_nothing(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    mine, theirs = new_grid(), new_grid()
    body = {"id_number": unique_id_number(), "name": "林二", "region_code": theirs}
    async with running(identity_app()) as client:
        answer = await client.post(PEOPLE, json=body, headers=grid_worker(make_token, mine))
        resident = await login(client)
        by_resident = await client.post(PEOPLE, json=body,
                                        headers=bearer(resident["access_token"]))
    assert_problem(answer, 403, "out_of_scope")
    assert_problem(by_resident, 403, "role_required")
    assert await _count(identity_sql, theirs) == 0


async def test_a_grid_worker_cannot_overwrite_or_move_a_resident_of_another_grid(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    mine, theirs = new_grid(), new_grid()
    id_number = unique_id_number()
    original = {"id_number": id_number, "name": "林四", "region_code": theirs,
                "address": "铜陵镇二路2号", "household_id": "H7"}
    async with running(identity_app()) as client:
        entered = await client.post(PEOPLE, json=original,
                                    headers=grid_worker(make_token, theirs))
        assert entered.status_code == 200, entered.text
        overwrite = await client.post(PEOPLE, headers=grid_worker(make_token, mine), json={
            "id_number": id_number, "name": "冒名", "region_code": mine, "household_id": "H8"})
        imported = await import_file(
            client, grid_worker(make_token, mine), "people.csv",
            _csv([[id_number, "冒名", "", "H8", mine, ""],
                  [unique_id_number(), "郑五", "", "H8", mine, ""]]))
    assert_problem(overwrite, 403, "out_of_scope")
    assert imported["status"] == "succeeded"
    assert [(e["row"], e["code"]) for e in imported["errors"]] == [(2, "out_of_scope")]
    assert imported["created"] == 1
    assert imported["updated"] == 0
    rows = await identity_sql("SELECT region_code, household_id FROM registry_people "
                              "WHERE id = :i", i=uuid.UUID(entered.json()["id"]))
    assert dict(rows[0]) == {"region_code": theirs, "household_id": "H7"}
    assert await _count(identity_sql, mine) == 1
    tallies = await identity_sql("SELECT region_code, entered FROM region_tallies "
                                 "WHERE region_code IN (:a, :b)", a=mine, b=theirs)
    assert {r["region_code"]: r["entered"] for r in tallies} == {theirs: 1, mine: 1}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"id_number": "350626"}, "id_number_malformed"),
        ({"region_code": "350626"}, "region_invalid"),
        ({"gender": "女"}, "gender_mismatch"),
        ({"tags": ["bad tag!"]}, "tag_invalid"),
    ],
)
async def test_bad_registry_fields_are_refused(
    identity_app: Any, make_token: Any, identity_sql: Any, change: dict[str, Any], code: str
) -> None:
    grid = new_grid()
    body = {"id_number": unique_id_number(male=True), "name": "林三", "region_code": grid,
            **change}
    async with running(identity_app()) as client:
        answer = await client.post(PEOPLE, json=body,
                                   headers=grid_worker(make_token, "350626106"))
    assert_problem(answer, 422, code)
    assert await _count(identity_sql, grid) == 0


async def test_verification_links_the_account_to_the_registry_record_either_way(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    grid = new_grid()
    entered_first, verified_first = unique_id_number(), unique_id_number()
    worker = grid_worker(make_token, grid)
    async with running(identity_app()) as client:
        person = (await client.post(PEOPLE, headers=worker, json={
            "id_number": entered_first, "name": "黄一", "region_code": grid,
            "household_id": "H9"})).json()
        one = await login(client)
        await client.post("/api/v1/identity/me/verification",
                          json={"name": "黄一", "id_number": entered_first},
                          headers=bearer(one["access_token"]))
        two = await login(client)
        await client.post("/api/v1/identity/me/verification",
                          json={"name": "黄二", "id_number": verified_first},
                          headers=bearer(two["access_token"]))
        later = (await client.post(PEOPLE, headers=worker, json={
            "id_number": verified_first, "name": "黄二", "region_code": grid})).json()
        me_one = (await client.get("/api/v1/identity/me",
                                   headers=bearer(one["access_token"]))).json()
        me_two = (await client.get("/api/v1/identity/me",
                                   headers=bearer(two["access_token"]))).json()
    assert me_one["registry_person_id"] == person["id"]
    assert me_one["region_code"] == grid
    assert me_two["registry_person_id"] == later["id"]
    assert later["linked_user_id"] == two["user"]["id"]
    verified = await identity_sql(
        "SELECT envelope FROM outbox WHERE event_type = 'identity.user_verified' "
        "AND envelope->'payload'->>'user_id' = :u", u=one["user"]["id"])
    payload = verified[0]["envelope"]["payload"]
    assert payload["registry_person_id"] == person["id"]
    assert payload["household_id"] == "H9"
    tally = await identity_sql("SELECT entered, verified FROM region_tallies "
                               "WHERE region_code = :g", g=grid)
    assert dict(tally[0]) == {"entered": 2, "verified": 2}


def _csv(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    lines = ["身份证号,姓名,性别,户号,区划代码,标签"] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode(encoding)


async def test_a_csv_import_loads_good_rows_and_numbers_the_bad_ones(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    grid, elsewhere = new_grid(), new_grid()
    good = [unique_id_number() for _ in range(3)]
    rows = [
        [good[0], "郑一", "男", "H1", grid, "低保户;独居老人"],
        ["35062619900101", "郑二", "男", "H1", grid, ""],
        [good[1], "郑三", "", "H2", grid, ""],
        [good[2], "郑四", "", "H2", elsewhere, ""],
        [unique_id_number(), "", "", "H3", grid, ""],
    ]
    worker = grid_worker(make_token, grid)
    async with running(identity_app()) as client:
        body = await import_file(client, worker, "people.csv", _csv(rows, "gb18030"))
        again = await import_file(client, worker, "people.csv", _csv(rows[:1]))
    assert body["status"] == "succeeded"
    assert body["total_rows"] == 5
    assert body["rows_done"] == 5
    assert body["created"] == 2
    assert [(e["row"], e["code"]) for e in body["errors"]] == [
        (3, "id_number_malformed"), (5, "out_of_scope"), (6, "name_required")]
    assert again["updated"] == 1
    assert again["created"] == 0
    assert await _count(identity_sql, grid) == 2
    tags = await identity_sql("SELECT tags FROM registry_people WHERE region_code = :g "
                              "AND household_id = 'H1'", g=grid)
    assert tags[0]["tags"] == ["低保户", "独居老人"]


async def test_an_xlsx_import_loads_through_the_api(
    identity_app: Any, make_token: Any, identity_sql: Any
) -> None:
    grid = new_grid()
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["id_number", "name", "region_code", "household_id", "tags"])
    for n in range(4):
        sheet.append([unique_id_number(), f"许{n}", grid, f"H{n}", "独居老人"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    async with running(identity_app()) as client:
        report = await import_file(client, grid_worker(make_token, grid), "people.xlsx",
                                   buffer.getvalue(), "application/octet-stream")
    assert report["status"] == "succeeded"
    assert report["created"] == 4
    assert report["errors"] == []
    assert await _count(identity_sql, grid) == 4


@pytest.mark.parametrize(
    ("filename", "content", "status", "code"),
    [
        ("people.xlsx", b"PK\x03\x04 this is not a workbook", 422, "spreadsheet_unreadable"),
        ("people.csv", b"name,region_code\n\xe9\x83\x91,350626106001001\n", 422,
         "spreadsheet_columns_missing"),
        ("people.csv", b"", 422, "spreadsheet_empty"),
        ("people.txt", b"hello", 415, "unsupported_file_type"),
        ("people.csv", b"id_number,name,region_code\n" + b"x" * 3000, 413, "upload_too_large"),
    ],
)
async def test_bad_spreadsheets_are_refused_whole(
    identity_app: Any, make_token: Any, filename: str, content: bytes, status: int, code: str,
    identity_sql: Any,
) -> None:
    grid = new_grid()
    async with running(identity_app(max_upload_bytes=2048)) as client:
        answer = await client.post(IMPORTS, headers=grid_worker(make_token, grid),
                                   files={"file": (filename, content, "text/csv")})
    assert_problem(answer, status, code)
    assert await _count(identity_sql, grid) == 0


async def test_the_cli_imports_a_file_with_a_progress_bar(
    identity_settings: Any, identity_sql: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = new_grid()
    data = _csv([[unique_id_number(), f"蔡{n}", "", "H1", grid, ""] for n in range(7)]
                + [["123", "坏", "", "", grid, ""]])
    code = await import_registry("people.csv", data, region="350626", batch_size=3,
                                 settings=identity_settings())
    out = capsys.readouterr()
    assert code == 1  # one row refused
    assert "7 created, 0 updated, 1 refused" in out.out
    assert "row 9: id_number_malformed" in out.err
    assert "8/8" in out.err  # tqdm's bar reached the end
    assert await _count(identity_sql, grid) == 7

