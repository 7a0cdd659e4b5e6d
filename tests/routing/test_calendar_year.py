"""The admin's holiday calendar of a year: the published holidays and make-up workdays, with the
overrides admins set laid over them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from services.routing.app import create_app
from services.routing.settings import Settings
from shared.testing.plugin import Migrator, running


@pytest.fixture
async def client(
    migrator: Migrator, service_settings: Callable[..., Any], token_verifier: Any
) -> AsyncIterator[httpx.AsyncClient]:
    await migrator.ensure("routing")
    app = create_app(service_settings(Settings, run_timer_scanner=False),
                     verifier=token_verifier)
    async with running(app) as client:
        yield client


async def test_a_year_lists_national_day_and_its_make_up_saturday(
    client: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    admin = {"Authorization": f"Bearer {make_token(roles=['admin'])}"}
    year = (await client.get("/api/v1/routing/calendar/2026", headers=admin)).json()
    days = {d["day"]: d for d in year["items"]}
    assert days["2026-10-01"] == {"day": "2026-10-01", "workday": False, "source": "official",
                                  "holiday": "national_day", "note": None}
    assert (days["2026-10-10"]["workday"], days["2026-10-10"]["source"]) == (True, "official")
    assert "2026-10-17" not in days  # an ordinary Saturday is not listed
    assert [d["day"] for d in year["items"]] == sorted(days)


async def test_an_override_shows_over_the_official_day_with_its_masked_note(
    client: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    admin = {"Authorization": f"Bearer {make_token(roles=['admin'])}"}
    for day, workday, note in (("2031-05-06", False, "县庆 联系13812345678"),
                               ("2031-05-10", True, None)):
        assert (await client.put(f"/api/v1/routing/calendar/overrides/{day}", headers=admin,
                                 json={"workday": workday, "note": note})).status_code == 204
    items = (await client.get("/api/v1/routing/calendar/2031", headers=admin)).json()["items"]
    days = {d["day"]: d for d in items if d["source"] == "override"}
    assert days["2031-05-06"]["workday"] is False
    assert "13812345678" not in days["2031-05-06"]["note"]
    assert days["2031-05-10"] == {"day": "2031-05-10", "workday": True, "source": "override",
                                  "holiday": None, "note": None}
    # The year before and after hold none of them.
    later = (await client.get("/api/v1/routing/calendar/2032", headers=admin)).json()["items"]
    assert not [d for d in later if d["source"] == "override" and d["day"].startswith("2031")]


async def test_only_staff_read_the_calendar_and_only_of_supported_years(
    client: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    resident = {"Authorization": f"Bearer {make_token(roles=['resident'])}"}
    refused = await client.get("/api/v1/routing/calendar/2026", headers=resident)
    assert (refused.status_code, refused.json()["code"]) == (403, "role_required")
    admin = {"Authorization": f"Bearer {make_token(roles=['admin'])}"}
    for year in ("1999", "2200"):
        bad = await client.get(f"/api/v1/routing/calendar/{year}", headers=admin)
        assert (bad.status_code, bad.json()["code"]) == (422, "day_invalid")
    assert (await client.get("/api/v1/routing/calendar/abc", headers=admin)).status_code == 422


async def test_removing_an_override_gives_the_day_back_to_the_published_schedule(
    client: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    admin = {"Authorization": f"Bearer {make_token(roles=['admin'])}"}
    assert (await client.put("/api/v1/routing/calendar/overrides/2026-10-01", headers=admin,
                             json={"workday": True, "note": "值班"})).status_code == 204
    staff = {"Authorization": f"Bearer {make_token(roles=['dept_staff'])}"}
    refused = await client.delete("/api/v1/routing/calendar/overrides/2026-10-01",
                                  headers=staff)
    assert (refused.status_code, refused.json()["code"]) == (403, "role_required")
    for _ in range(2):  # the second removal finds nothing to remove
        assert (await client.delete("/api/v1/routing/calendar/overrides/2026-10-01",
                                    headers=admin)).status_code == 204
    days = {d["day"]: d for d in (await client.get("/api/v1/routing/calendar/2026",
                                                   headers=admin)).json()["items"]}
    assert days["2026-10-01"]["source"] == "official"
    assert days["2026-10-01"]["workday"] is False
