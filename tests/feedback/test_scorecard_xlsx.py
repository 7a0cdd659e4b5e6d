"""Scorecards exported as Excel workbooks: the same rows and columns as the CSV, numbers as
numbers, within the caller's scope; bad periods and regions refused."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import date

from openpyxl import load_workbook

from services.feedback.app import create_app
from services.feedback.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.testing.plugin import running
from tests.feedback.conftest import C1, C3, COUNTY, TOWN_1, TOWN_2
from tests.feedback.helpers import publish, until_handled
from tests.feedback.lifecycle import Spec, Unit, build

MARCH = {"period": "month", "date": "2026-03-01"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _sheet(content: bytes) -> list[dict[str, object]]:
    rows = list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))
    header = [str(c) for c in rows[0]]
    return [dict(zip(header, r, strict=True)) for r in rows[1:]]


async def test_units_and_regions_export_as_xlsx_within_scope(
    feedback_settings: Settings, token_verifier: TokenVerifier, make_token: Callable[..., str]
) -> None:
    town_office = Unit(uuid.uuid4(), "绥安镇综治中心", TOWN_1)
    other_town = Unit(uuid.uuid4(), "旧镇镇综治中心", TOWN_2)
    cases = [
        build(Spec("a1", town_office, C1, date(2026, 3, 2), rating="S")),
        build(Spec("a2", town_office, C1, date(2026, 3, 3), accept="late")),
        build(Spec("b1", other_town, C3, date(2026, 3, 4), rating="B")),
    ]
    app = create_app(feedback_settings, verifier=token_verifier)
    async with running(app) as client:
        messages = [e for c in cases for e in c.envelopes]
        await publish(app, messages)
        await until_handled(app, len(messages))
        admin = {"Authorization": f"Bearer {make_token(roles=['admin'])}"}

        units = await client.get("/api/v1/feedback/scorecards/units.xlsx", params=MARCH,
                                 headers=admin)
        assert units.status_code == 200, units.text
        assert units.headers["content-type"] == XLSX
        assert "unit-scorecards.xlsx" in units.headers["content-disposition"]
        table = {r["unit_name"]: r for r in _sheet(units.content)}
        assert set(table) == {town_office.name, other_town.name}
        assert table[town_office.name]["cases"] == 2

        county = await client.get(
            f"/api/v1/feedback/scorecards/regions/{COUNTY}/export.xlsx", params=MARCH,
            headers=admin)
        assert [(r["region_code"], r["cases"]) for r in _sheet(county.content)] == [
            (COUNTY, 3), (TOWN_1, 2), (TOWN_2, 1)]

        town_supervisor = {"Authorization": "Bearer " + make_token(
            roles=["supervisor"], regions=[TOWN_1])}
        scoped = await client.get("/api/v1/feedback/scorecards/units.xlsx", params=MARCH,
                                  headers=town_supervisor)
        assert [r["unit_name"] for r in _sheet(scoped.content)] == [town_office.name]
        outside = await client.get(
            f"/api/v1/feedback/scorecards/regions/{TOWN_2}/export.xlsx", params=MARCH,
            headers=town_supervisor)
        assert (outside.status_code, outside.json()["code"]) == (403, "out_of_scope")


async def test_a_bad_period_or_region_is_refused_before_any_workbook(
    feedback_settings: Settings, token_verifier: TokenVerifier, make_token: Callable[..., str]
) -> None:
    app = create_app(feedback_settings, verifier=token_verifier)
    async with running(app) as client:
        admin = {"Authorization": f"Bearer {make_token(roles=['admin'])}"}
        bad_range = await client.get("/api/v1/feedback/scorecards/units.xlsx", headers=admin,
                                     params={"period": "range", "from": "2026-03-05",
                                             "to": "2026-03-01"})
        assert (bad_range.status_code, bad_range.json()["code"]) == (400, "period_invalid")
        bad_region = await client.get("/api/v1/feedback/scorecards/regions/abc/export.xlsx",
                                      headers=admin)
        assert (bad_region.status_code, bad_region.json()["code"]) == (400, "region_invalid")
        resident = await client.get(
            "/api/v1/feedback/scorecards/units.xlsx", params=MARCH,
            headers={"Authorization": f"Bearer {make_token(roles=['resident'])}"})
        assert (resident.status_code, resident.json()["code"]) == (403, "role_required")
