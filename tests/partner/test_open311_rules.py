"""The Open311 door's pure rules: GeoReport's statuses, date ranges, services and forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.partner.open311 import domain
from shared.i18n.zh_CN import STATUS_LABELS
from shared.problems import BadRequest

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
TREE = [
    {"code": "social_conflict", "name": "社会矛盾", "sensitive": False, "children": [
        {"code": "dispute_tenancy", "name": "租赁纠纷", "sensitive": False, "children": [],
         "major_risk": "social_conflict", "template": [
             {"key": "deposit", "label": "押金（元）", "type": "number"},
             {"key": "party_role", "label": "身份", "type": "choice",
              "options": [{"code": "tenant", "label": "租客"}]}]}]},
    {"code": "political_security", "name": "政治安全", "sensitive": True, "children": [],
     "major_risk": "political_security", "template": []},
]


def test_open_and_closed_cover_every_status_of_the_closed_loop_once() -> None:
    assert domain.statuses_for(["open"]) == sorted(domain.OPEN_STATUSES)
    assert set(domain.statuses_for(["open", "closed"])) == set(STATUS_LABELS)
    assert not domain.OPEN_STATUSES & domain.CLOSED_STATUSES
    assert domain.open_or_closed("rated") == "closed"
    assert domain.open_or_closed("returned") == "open"
    with pytest.raises(BadRequest):
        domain.statuses_for(["pending"])


def test_dates_default_to_the_last_ninety_days_and_never_span_more() -> None:
    assert domain.date_range(None, None, NOW) == (NOW - timedelta(days=90), NOW)
    start, end = domain.date_range("2026-12-01T00:00:00+08:00", None, NOW)
    assert (start.isoformat(), end) == ("2026-12-01T00:00:00+08:00", NOW)
    with pytest.raises(BadRequest, match="90 days"):
        domain.date_range("2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z", NOW)
    with pytest.raises(BadRequest, match="time zone"):
        domain.date_range("2026-12-01T00:00:00", None, NOW)


def test_services_are_the_leaves_without_sensitive_ones_grouped_by_major_risk() -> None:
    services = domain.leaf_services(TREE)
    assert [(s["code"], s["group"]) for s in services] == [("dispute_tenancy", "社会矛盾")]


def test_a_posted_form_becomes_a_submission_with_numbers_as_numbers() -> None:
    [category] = domain.leaf_services(TREE)
    posted = domain.parse_posted({
        "description": " 押金不退 ", "phone": "13900000000", "address_string": "东门社区",
        "attribute[region_code]": "350626106001001", "attribute[deposit]": "3000",
        "attribute[party_role]": "tenant", "attribute[Bad Name]": "ignored"}, category)
    assert posted.fields == {"deposit": 3000, "party_role": "tenant"}
    assert (posted.description, posted.lat, posted.address) == ("押金不退", None, "东门社区")


def test_a_number_attribute_that_is_not_a_number_is_refused() -> None:
    [category] = domain.leaf_services(TREE)
    with pytest.raises(BadRequest, match="deposit"):
        domain.parse_posted({"description": "x", "phone": "1", "lat": "23.7", "long": "117.4",
                             "attribute[region_code]": "350626106001",
                             "attribute[deposit]": "three thousand"}, category)
