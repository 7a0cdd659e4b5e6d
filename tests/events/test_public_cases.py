"""What the public may see of cases (Open311 reads it over /internal/events/public-cases):
kind, rough place, times and status; never a sensitive tip, a reporter or their words."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.auth.internal import internal_headers
from tests.events.conftest import START
from tests.events.flows import Loop

PATH = "/internal/events/public-cases"
PARTNER = internal_headers("dev-only-internal-key", "partner")  # the settings' default
DONGMEN = {"lat": 23.701149, "lng": 117.430551}


async def _read(loop: Loop, **params: Any) -> Any:
    return await loop.events.get(PATH, params=params, headers=PARTNER)


async def test_a_case_is_public_roughly_placed_and_without_its_reporter(loop: Loop) -> None:
    case = await loop.report(location=DONGMEN, description="房东不退押金，电话13800138000")

    response = await _read(loop, ids=case["id"])

    assert response.status_code == 200, response.text
    [public] = response.json()["items"]
    assert (public["lat"], public["lng"]) == (23.701, 117.431)
    assert public["category_code"] == "dispute_tenancy"
    assert not {"description", "reporter_id", "address", "fields"} & set(public)


async def test_a_sensitive_tip_is_never_public(loop: Loop) -> None:
    tip = await loop.report(
        category_code="telecom_fraud", description="冒充客服要求转账", location=DONGMEN,
        fields={"channel": "phone", "loss_amount": 5000, "suspect_phone": "13800138000"})

    by_id = (await _read(loop, ids=tip["id"])).json()["items"]
    listed = (await _read(loop, category="telecom_fraud")).json()["items"]

    assert by_id == []
    assert listed == []


async def test_cases_are_filtered_by_time_category_and_status(loop: Loop) -> None:
    case = await loop.report(location=DONGMEN)
    day = timedelta(days=1)

    def ids(response: Any) -> set[str]:
        return {c["id"] for c in response.json()["items"]}

    inside = await _read(loop, start=(START - day).isoformat(), end=(START + day).isoformat())
    later = await _read(loop, start=(START + day).isoformat(), end=(START + 2 * day).isoformat())
    other_kind = await _read(loop, category="dispute_debt", start=(START - day).isoformat(),
                             end=(START + day).isoformat())
    other_status = await _read(loop, status="closed", start=(START - day).isoformat(),
                               end=(START + day).isoformat())

    assert case["id"] in ids(inside)
    assert case["id"] not in ids(later) | ids(other_kind) | ids(other_status)


async def test_more_than_ninety_days_or_a_naive_time_is_refused(loop: Loop) -> None:
    too_long = await _read(loop, start=(START - timedelta(days=91)).isoformat(),
                           end=START.isoformat())
    naive = await _read(loop, start="2026-11-01T00:00:00", end="2026-11-02T00:00:00")

    assert (too_long.status_code, too_long.json()["code"]) == (400, "date_range_invalid")
    assert (naive.status_code, naive.json()["code"]) == (400, "date_invalid")


async def test_only_platform_services_may_read_it(loop: Loop) -> None:
    anyone = await loop.events.get(PATH)
    wrong = await loop.events.get(PATH, headers=internal_headers("guess", "partner"))

    assert (anyone.status_code, anyone.json()["code"]) == (401, "internal_key_invalid")
    assert wrong.status_code == 401
