"""Scorecards over HTTP: staff see only their scope; CSV export; bad periods refused."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from datetime import date

from services.feedback.app import create_app
from services.feedback.settings import Settings
from shared.auth.tokens import TokenVerifier
from shared.testing.plugin import running
from tests.feedback.conftest import C1, C3, COUNTY, TOWN_1, TOWN_2
from tests.feedback.helpers import publish, until_handled
from tests.feedback.lifecycle import Spec, Unit, build

MARCH = {"period": "month", "date": "2026-03-01"}


async def test_staff_see_scorecards_only_within_their_scope_and_can_export_csv(
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

        def auth(**claims: object) -> dict[str, str]:
            return {"Authorization": f"Bearer {make_token(**claims)}"}

        town_dispatcher = auth(roles=["dispatcher"], regions=[TOWN_1])
        units = await client.get("/api/v1/feedback/scorecards/units", params=MARCH,
                                 headers=town_dispatcher)
        assert units.status_code == 200, units.text
        assert [i["unit_id"] for i in units.json()["items"]] == [str(town_office.unit_id)]
        assert units.json()["min_sample_size"] == feedback_settings.ranking_min_sample
        own = await client.get(f"/api/v1/feedback/scorecards/regions/{TOWN_1}", params=MARCH,
                               headers=town_dispatcher)
        assert own.status_code == 200
        assert own.json()["region"]["cases"] == 2
        assert own.json()["region"]["response_rate"] == 0.5
        for outside in (TOWN_2, COUNTY):
            refused = await client.get(f"/api/v1/feedback/scorecards/regions/{outside}",
                                       params=MARCH, headers=town_dispatcher)
            assert (refused.status_code, refused.json()["code"]) == (403, "out_of_scope")

        department = auth(roles=["dept_staff"], departments=[str(other_town.unit_id)])
        mine = await client.get("/api/v1/feedback/scorecards/units", params=MARCH,
                                headers=department)
        assert [i["unit_id"] for i in mine.json()["items"]] == [str(other_town.unit_id)]
        region = await client.get(f"/api/v1/feedback/scorecards/regions/{TOWN_2}",
                                  params=MARCH, headers=department)
        assert (region.status_code, region.json()["code"]) == (403, "out_of_scope")

        resident = await client.get("/api/v1/feedback/scorecards/units", params=MARCH,
                                    headers=auth())
        assert (resident.status_code, resident.json()["code"]) == (403, "role_required")

        admin = auth(roles=["admin"])
        exported = await client.get("/api/v1/feedback/scorecards/units.csv", params=MARCH,
                                    headers=admin)
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert sorted(r["unit_name"] for r in table) == sorted([town_office.name,
                                                               other_town.name])
        assert {r["cases"] for r in table} == {"2", "1"}
        county_csv = await client.get(f"/api/v1/feedback/scorecards/regions/{COUNTY}/export.csv",
                                      params=MARCH, headers=admin)
        rows = list(csv.DictReader(io.StringIO(county_csv.text.lstrip("\ufeff"))))
        assert [(r["region_code"], r["cases"]) for r in rows] == [
            (COUNTY, "3"), (TOWN_1, "2"), (TOWN_2, "1")]

        bad_range = await client.get("/api/v1/feedback/scorecards/units", headers=admin,
                                     params={"period": "range", "from": "2026-03-05",
                                             "to": "2026-03-01"})
        assert (bad_range.status_code, bad_range.json()["code"]) == (400, "period_invalid")
        bad_region = await client.get("/api/v1/feedback/scorecards/regions/abc", headers=admin)
        assert (bad_region.status_code, bad_region.json()["code"]) == (400, "region_invalid")
        ranged = await client.get(f"/api/v1/feedback/scorecards/regions/{COUNTY}", headers=admin,
                                  params={"period": "range", "from": "2026-03-03",
                                          "to": "2026-03-04"})
        assert ranged.json()["region"]["cases"] == 2


async def test_a_period_at_the_edge_of_the_calendar_is_refused_not_a_crash(
    feedback_settings: Settings, token_verifier: TokenVerifier, make_token: Callable[..., str]
) -> None:
    """A day at the very end (or start) of the calendar has no following day (or no UTC
    instant): 400 ``period_invalid``, never a 500."""
    app = create_app(feedback_settings, verifier=token_verifier)
    async with running(app) as client:
        admin = {"Authorization": f"Bearer {make_token(roles=['admin'])}"}
        edges = [
            {"period": "day", "date": "9999-12-31"},
            {"period": "week", "date": "9999-12-31"},
            {"period": "month", "date": "9999-12-15"},
            {"period": "day", "date": "0001-01-01"},
            {"period": "range", "from": "0001-01-01", "to": "0001-01-02"},
            {"period": "range", "from": "9999-12-30", "to": "9999-12-31"},
        ]
        paths = ["/api/v1/feedback/scorecards/units",
                 f"/api/v1/feedback/scorecards/regions/{COUNTY}",
                 f"/api/v1/feedback/command-centre/{COUNTY}/counts",
                 f"/api/v1/feedback/command-centre/{COUNTY}/trend"]
        for path in paths:
            for params in edges:
                answer = await client.get(path, params=params, headers=admin)
                assert (answer.status_code, answer.json()["code"]) == (400, "period_invalid"), (
                    path, params, answer.text)
