"""Staff case search (GET /api/v1/events/search) and its CSV export, over real PostgreSQL: each
filter, the caller's scope, refusals, and the plan of a keyword query."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.events.app import create_app
from services.events.settings import Settings
from services.events.store.search import CaseFilter, SearchScope, search_query
from shared.db.migrate import schema_name
from shared.messaging.memory import MemoryBroker
from shared.testing.plugin import Migrator, running

UNIT_A, UNIT_B, UNIT_C = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
TOWN_A, TOWN_B = "350626106", "350626107"  # 铜陵镇 and a neighbouring town of 东山县
NOW = datetime.now(UTC)

_INSERT = """
INSERT INTO cases (id, case_no, category_code, major_risk, urgency, sensitive, description,
                   region_code, address, fields, attachment_ids, reporter_id, channel, on_behalf,
                   status, assignee_unit_id, assign_seq, dispatch_trail, result_recorded,
                   open_subtasks, closed_subtasks, co_units, handling_unit_ids,
                   escalation_count, return_count, rework_count, reported_at, updated_at,
                   resolve_by, closed_at, rating)
VALUES (:id, :case_no, :category, 'x', :urgency, false, :description, :region, :address, '{}',
        '{}', gen_random_uuid(), :channel, false, :status, :unit, 0, false, false, '{}', '{}',
        CAST(:co_units AS uuid[]), '{}', 0, 0, 0, :reported_at, :reported_at, :resolve_by,
        :closed_at, :rating)
"""


@dataclass
class World:
    client: httpx.AsyncClient
    engine: AsyncEngine
    schema: str
    make_token: Callable[..., str]

    async def sql(self, statement: str, **params: Any) -> Any:
        async with self.engine.begin() as conn:
            await conn.execute(text(f'SET LOCAL search_path TO "{self.schema}"'))
            return await conn.execute(text(statement), params)

    async def case(self, case_no: str, **values: Any) -> None:
        row = {"id": uuid.uuid4(), "case_no": case_no, "category": "dispute_neighbour",
               "urgency": "normal", "description": "楼上噪音扰民", "region": TOWN_A + "001001",
               "address": "铜陵镇东门社区", "channel": "resident", "status": "dispatched",
               "unit": UNIT_A, "co_units": [], "reported_at": NOW - timedelta(days=1),
               "resolve_by": NOW + timedelta(days=5), "closed_at": None, "rating": None}
        row.update(values)
        await self.sql(_INSERT, **row)

    def token(self, roles: list[str], **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.make_token(roles=roles, **claims)}"}

    async def find(self, headers: dict[str, str] | None = None, **params: Any) -> list[str]:
        response = await self.client.get("/api/v1/events/search", params=params,
                                         headers=headers or self.token(["admin"]))
        assert response.status_code == 200, response.text
        return sorted(item["case_no"] for item in response.json()["items"])


@pytest.fixture
async def world(migrator: Migrator, database_url: str, run_prefix: str,
                service_settings: Callable[..., Any], token_verifier: Any,
                make_token: Callable[..., str], tmp_path: Any) -> AsyncIterator[World]:
    prefix = f"{run_prefix}{uuid.uuid4().hex[:6]}"
    await migrator.ensure("events", prefix=prefix)
    app = create_app(
        service_settings(Settings, attachment_dir=str(tmp_path), schema_prefix=prefix,
                         amqp_prefix=prefix, broker="memory"),
        verifier=token_verifier, broker=MemoryBroker(),
    )
    engine = create_async_engine(database_url)
    try:
        async with running(app) as client:
            yield World(client, engine, schema_name("events", prefix), make_token)
    finally:
        await engine.dispose()


async def test_staff_find_cases_by_each_filter(world: World) -> None:
    await world.case("C-NOISE")
    await world.case("C-TENANCY", category="dispute_tenancy", description="房东不退押金",
                     address="铜陵镇桂花社区", urgency="urgent", channel="grid_worker")
    await world.case("C-FIRE", category="safety_fire", region=TOWN_B + "001",
                     description="消防通道被堵", unit=UNIT_B, co_units=[UNIT_A],
                     resolve_by=NOW - timedelta(hours=2), channel="partner")
    await world.case("C-OLD", status="rated", rating="satisfied",
                     reported_at=NOW - timedelta(days=400), closed_at=NOW - timedelta(days=390),
                     resolve_by=NOW - timedelta(days=395))

    assert await world.find(case_no="C-FIRE") == ["C-FIRE"]
    assert await world.find(q="押金") == ["C-TENANCY"]  # two characters, inside the text
    assert await world.find(q="桂花社区") == ["C-TENANCY"]  # in the address
    assert await world.find(q="噪音扰") == ["C-NOISE", "C-OLD"]
    assert await world.find(q="100%") == []  # % is a character, not a wildcard
    assert await world.find(category="social_conflict") == ["C-NOISE", "C-OLD", "C-TENANCY"]
    assert await world.find(category="dispute_tenancy") == ["C-TENANCY"]
    assert await world.find(region="350626") == ["C-FIRE", "C-NOISE", "C-OLD", "C-TENANCY"]
    assert await world.find(region=TOWN_B) == ["C-FIRE"]
    assert await world.find(unit=str(UNIT_B)) == ["C-FIRE"]
    assert await world.find(assisting_unit=str(UNIT_A)) == ["C-FIRE"]
    assert await world.find(status=["rated", "closed"]) == ["C-OLD"]
    assert await world.find(overdue="true") == ["C-FIRE"]
    assert await world.find(overdue="false") == ["C-NOISE", "C-OLD", "C-TENANCY"]
    assert await world.find(urgency="urgent") == ["C-TENANCY"]
    assert await world.find(rating="satisfied") == ["C-OLD"]
    assert await world.find(source=["grid_worker", "partner"]) == ["C-FIRE", "C-TENANCY"]
    since = (NOW - timedelta(days=30)).isoformat()
    assert await world.find(reported_from=since, q="噪音") == ["C-NOISE"]
    assert await world.find(closed_to=(NOW - timedelta(days=100)).isoformat()) == ["C-OLD"]


async def test_pages_follow_the_chosen_order_without_gaps(world: World) -> None:
    for n in range(5):
        await world.case(f"C-{n}", reported_at=NOW - timedelta(hours=n),
                         resolve_by=NOW + timedelta(hours=10 - n))
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"sort": "deadline", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await world.client.get("/api/v1/events/search", params=params,
                                       headers=world.token(["admin"]))).json()
        seen += [item["case_no"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == ["C-4", "C-3", "C-2", "C-1", "C-0"]  # soonest deadline first
    newest = (await world.client.get("/api/v1/events/search", params={"limit": 1},
                                     headers=world.token(["admin"]))).json()
    assert [i["case_no"] for i in newest["items"]] == ["C-0"]


async def test_keyword_pages_are_the_newest_matches_however_they_are_read(
    world: World,
) -> None:
    # Full pages come from the newest cases read in order, the last one from the index.
    for n in range(5):
        await world.case(f"C-{n}", reported_at=NOW - timedelta(hours=n))
        await world.case(f"X-{n}", description="路灯损坏", reported_at=NOW - timedelta(hours=n))
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"q": "噪音", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await world.client.get("/api/v1/events/search", params=params,
                                       headers=world.token(["admin"]))).json()
        seen += [item["case_no"] for item in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == ["C-0", "C-1", "C-2", "C-3", "C-4"]


async def test_a_clerk_finds_only_cases_their_unit_holds_or_assists(world: World) -> None:
    await world.case("C-MINE", unit=UNIT_A)
    await world.case("C-ASSISTED", unit=UNIT_B, co_units=[UNIT_A])
    await world.case("C-OTHER", unit=UNIT_C)
    clerk = world.token(["dept_staff"], departments=[str(UNIT_A)], regions=[TOWN_A])
    assert await world.find(clerk) == ["C-ASSISTED", "C-MINE"]
    assert await world.find(clerk, unit=str(UNIT_C)) == []
    assert await world.find(clerk, case_no="C-OTHER") == []


async def test_a_town_dispatcher_cannot_find_another_towns_cases(world: World) -> None:
    await world.case("C-HERE", region=TOWN_A + "001")
    await world.case("C-THERE", region=TOWN_B + "001")
    dispatcher = world.token(["dispatcher"], regions=[TOWN_A])
    assert await world.find(dispatcher) == ["C-HERE"]
    assert await world.find(dispatcher, region=TOWN_B) == []
    assert await world.find(dispatcher, case_no="C-THERE") == []


@pytest.mark.parametrize(("params", "status", "code"), [
    ({"q": " 押 "}, 422, "keyword_too_short"),
    ({"q": "押"}, 422, "validation_error"),
    ({"region": "35062"}, 422, "validation_error"),
    ({"region": "000000"}, 422, "region_invalid"),
    ({"status": "lost"}, 422, "validation_error"),
    ({"limit": 0}, 422, "validation_error"),
    ({"sort": "name"}, 422, "validation_error"),
    ({"unknown": "1"}, 422, "validation_error"),
    ({"reported_from": "2026-01-02T00:00:00+08:00", "reported_to": "2026-01-01T00:00:00+08:00"},
     422, "date_range_invalid"),
    ({"reported_from": "2026-01-02T00:00:00"}, 422, "validation_error"),  # no offset
    ({"closed_to": "0001-01-01T00:00:00+14:00"}, 422, "date_range_invalid"),
    ({"cursor": "bm90IGEgY3Vyc29y"}, 400, "cursor_invalid"),
])
async def test_bad_search_input_is_refused(world: World, params: dict[str, Any], status: int,
                                           code: str) -> None:
    response = await world.client.get("/api/v1/events/search", params=params,
                                      headers=world.token(["admin"]))
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


async def test_residents_cannot_search_or_export(world: World) -> None:
    await world.case("C-1")
    resident = world.token(["resident"])
    for path in ("/api/v1/events/search", "/api/v1/events/search/export.csv"):
        response = await world.client.get(path, headers=resident)
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "role_required"
    assert (await world.client.get("/api/v1/events/search")).status_code == 401


async def test_export_streams_the_filtered_cases_as_csv_with_a_header(world: World) -> None:
    await world.case("C-1", description="=HYPERLINK(\"x\") 押金")
    await world.case("C-2", description="押金不退", region=TOWN_B + "001")
    await world.case("C-3", description="噪音")
    dispatcher = world.token(["dispatcher"], regions=[TOWN_A])
    async with world.client.stream("GET", "/api/v1/events/search/export.csv",
                                   params={"q": "押金"}, headers=dispatcher) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        body = b"".join([chunk async for chunk in response.aiter_bytes()]).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [row["case_no"] for row in rows] == ["C-1"]  # C-2 is another town's
    assert rows[0]["description"].startswith("'=")  # a formula stays text in a spreadsheet


async def test_export_as_xlsx_has_the_header_and_the_scoped_rows(world: World) -> None:
    await world.case("C-1")
    await world.case("C-2", region=TOWN_B + "001")
    dispatcher = world.token(["dispatcher"], regions=[TOWN_A])
    response = await world.client.get("/api/v1/events/search/export.xlsx", headers=dispatcher)
    assert response.status_code == 200, response.text
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0][:2] == ["case_no", "status"]
    assert [row[0] for row in rows[1:]] == ["C-1"]


async def test_a_keyword_query_reads_the_bigram_index(world: World) -> None:
    await world.sql(
        "INSERT INTO cases (id, case_no, category_code, major_risk, urgency, sensitive, "
        "description, region_code, fields, attachment_ids, reporter_id, channel, on_behalf, "
        "status, assign_seq, dispatch_trail, result_recorded, open_subtasks, closed_subtasks, "
        "co_units, handling_unit_ids, escalation_count, return_count, rework_count, "
        "reported_at, updated_at) "
        "SELECT gen_random_uuid(), 'P-' || n, 'dispute_neighbour', 'x', 'normal', false, "
        "'噪音扰民 第' || n || '号', '350626106001', '{}', '{}', gen_random_uuid(), "
        "'resident', false, 'reported', 0, false, false, '{}', '{}', '{}', '{}', 0, 0, 0, "
        "now() - make_interval(secs => n), now() FROM generate_series(1, 20000) AS n")
    await world.sql("ANALYZE cases")
    query = search_query(scope=SearchScope(region_prefixes=["350626"]),
                         search=CaseFilter(keyword="押金"), now=NOW, sort="reported", limit=21)
    compiled = query.compile(dialect=postgresql.dialect(),
                             compile_kwargs={"literal_binds": True})
    plan = (await world.sql(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar_one()
    document = json.loads(plan) if isinstance(plan, str) else plan
    assert "ix_cases_text_grams" in json.dumps(document), document


async def test_the_keyword_index_follows_a_case_whose_texts_change(world: World) -> None:
    await world.case("T-1")  # 楼上噪音扰民, at 铜陵镇东门社区
    # As the text backfill rewrites a text; then a status change, which leaves them as they are.
    await world.sql("UPDATE cases SET description = '小区押金纠纷' WHERE case_no = 'T-1'")
    await world.sql("UPDATE cases SET status = 'accepted' WHERE case_no = 'T-1'")

    async def found(keyword: str) -> list[str]:
        query = search_query(scope=SearchScope(region_prefixes=["350626"]),
                             search=CaseFilter(keyword=keyword), now=NOW, sort="reported",
                             limit=21)
        compiled = query.compile(dialect=postgresql.dialect(),
                                 compile_kwargs={"literal_binds": True})
        return [row.case_no for row in await world.sql(str(compiled))]

    assert await found("押金") == ["T-1"]
    assert await found("东门") == ["T-1"]
    assert await found("噪音") == []
