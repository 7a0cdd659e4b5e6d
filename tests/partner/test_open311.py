"""Open311 GeoReport v2 at /open311/v2/, driven through the gateway on a real socket by a
third-party client (``georeport`` from PyPI) where it has the call, and by plain HTTP where it
has none (georeport posts nothing and reads no tokens; no Python 3 client on PyPI does both).

A request posted by a partner app enters the closed loop (events and routing over RabbitMQ)
and reads back in GeoReport terms as it moves: open, then closed, with status notes."""

from __future__ import annotations

import asyncio
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from georeport import GeoReport

from gateway.partner.signing_client import open311_api_key
from shared.testing.live_server import serving
from tests.events.flows import COMMUNITY, COMMUNITY_UNIT, GRID
from tests.partner.conftest import APP_A, Platform, StandInIdentity

JURISDICTION = "ehome.example.gov.cn"  # the partner settings' default


@dataclass
class Open311:
    root: str
    api_key: str

    def client(self, fmt: str = "json") -> GeoReport:
        return GeoReport(self.root, jurisdiction=JURISDICTION, output_format=fmt)

    def post(self, form: dict[str, str], fmt: str = "json", **headers: str
             ) -> requests.Response:
        return requests.post(f"{self.root}/requests.{fmt}", data=form, headers=headers,
                             timeout=10)

    def get(self, path: str, **params: str) -> requests.Response:
        return requests.get(f"{self.root}/{path}", params=params, timeout=10)


async def off_loop(call: Callable[[], Any]) -> Any:
    """A blocking client's call, off the event loop that serves the platform."""
    return await asyncio.to_thread(call)


@pytest.fixture
async def open311(platform: Platform, identity: StandInIdentity) -> AsyncIterator[Open311]:
    secret = identity.apps[APP_A]["secrets"][0]["secret"]
    async with serving(platform.gateway_app) as base_url:
        yield Open311(f"{base_url}/open311/v2", open311_api_key(APP_A, secret))


def a_resident(identity: StandInIdentity) -> str:
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    identity.phones[phone] = uuid.uuid4()
    return phone


async def posted_and_routed(open311: Open311, identity: StandInIdentity, platform: Platform
                            ) -> str:
    """A request posted for a resident and routed to the community: its id."""
    phone = a_resident(identity)
    posted = await off_loop(lambda: open311.post(tenancy_form(open311, phone)))
    assert posted.status_code == 200, posted.text
    request_id = str(posted.json()[0]["service_request_id"])
    platform.loop.people.resident_id = identity.phones[phone]  # reads as the reporter
    await platform.loop.wait_assigned(request_id, COMMUNITY_UNIT)
    return request_id


def tenancy_form(open311: Open311, phone: str, **extra: str) -> dict[str, str]:
    return {"api_key": open311.api_key, "jurisdiction_id": JURISDICTION,
            "service_code": "dispute_tenancy", "description": "房东不退押金，多次协商无果",
            "phone": phone, "lat": "23.712345", "long": "117.181818",
            "attribute[region_code]": GRID, "attribute[party_role]": "tenant", **extra}


async def test_a_civic_app_lists_services_and_reads_a_definition_in_json_and_xml(
    open311: Open311,
) -> None:
    for fmt in ("json", "xml"):
        client = open311.client(fmt)
        services = await off_loop(client.get_service_list)
        definition = await off_loop(lambda c=client: c.get_service_definition("dispute_tenancy"))
        codes = {s["service_code"]: s for s in services}
        assert codes["dispute_tenancy"]["service_name"] == "租赁纠纷"
        assert codes["dispute_tenancy"]["group"] == "社会矛盾"
        # Tips whose reporter stays sealed are not offered to third parties.
        assert "telecom_fraud" not in codes
        assert "political_security" not in codes
        attributes = definition["attributes"]
        if fmt == "xml":
            attributes = attributes["attribute"]
            assert codes["dispute_tenancy"]["metadata"] == "true"
        by_code = {a["code"]: a for a in attributes}
        assert by_code["region_code"]["required"] in (True, "true")
        role = by_code["party_role"]
        assert role["datatype"] == "singlevaluelist"
        values = role["values"] if fmt == "json" else role["values"]["value"]
        assert {"key": "tenant", "name": "租客"} in values


async def test_a_posted_request_is_routed_closed_and_read_back_by_token_and_by_id(
    open311: Open311, platform: Platform, identity: StandInIdentity,
) -> None:
    phone = a_resident(identity)
    posted = await off_loop(lambda: open311.post(tenancy_form(open311, phone)))
    assert posted.status_code == 200, posted.text
    [answer] = posted.json()
    request_id, token = answer["service_request_id"], answer["token"]
    by_token = await off_loop(lambda: open311.get(f"tokens/{token}.json"))
    assert by_token.json() == [{"service_request_id": request_id, "token": token}]

    loop = platform.loop
    loop.people.resident_id = identity.phones[phone]
    await loop.wait_assigned(request_id, COMMUNITY_UNIT)
    client = open311.client()
    routed = await off_loop(lambda: client.get_service_request(request_id))
    assert (routed["status"], routed["status_notes"]) == ("open", "已派单")
    assert routed["service_code"] == "dispute_tenancy"
    assert (routed["lat"], routed["long"]) == (23.712, 117.182)  # about 100 m, not a door
    for private in (phone, "房东不退押金"):  # no reporter, no resident's words
        assert private not in str(routed)

    await loop.handle_to_close(request_id, COMMUNITY_UNIT, COMMUNITY)
    closed = await off_loop(lambda: client.get_service_request(request_id))
    assert (closed["status"], closed["status_notes"]) == ("closed", "已办结")
    assert closed["updated_datetime"] >= routed["updated_datetime"]
    as_xml = await off_loop(lambda: open311.client("xml").get_service_request(request_id))
    assert (as_xml["service_request_id"], as_xml["status"]) == (request_id, "closed")


async def test_requests_are_filtered_by_status_service_and_dates(
    open311: Open311, identity: StandInIdentity, platform: Platform,
) -> None:
    request_id = await posted_and_routed(open311, identity, platform)
    client = open311.client()

    def ids(**filters: str) -> set[str]:
        return {r["service_request_id"] for r in client.get_service_requests(**filters)}

    assert request_id in await off_loop(lambda: ids(status="open"))
    assert request_id not in await off_loop(lambda: ids(status="closed"))
    assert request_id in await off_loop(lambda: ids(service_code="dispute_tenancy,dispute_debt"))
    assert request_id not in await off_loop(lambda: ids(service_code="dispute_debt"))
    # The case was reported at the services' clock (2026-11-25 09:00 Shanghai).
    assert request_id in await off_loop(lambda: ids(start_date="2026-11-24T00:00:00Z",
                                                    end_date="2026-11-26T00:00:00Z"))
    assert request_id not in await off_loop(lambda: ids(start_date="2026-11-26T00:00:00Z"))
    assert await off_loop(lambda: ids(service_request_id=request_id)) == {request_id}
    listed = await off_loop(lambda: open311.client("xml").get_service_requests(
        service_request_id=request_id))
    assert listed["service_request_id"] == request_id  # one request: xmltodict gives a dict


async def test_xml_answers_have_the_specs_elements(
    open311: Open311, identity: StandInIdentity,
) -> None:
    posted = await off_loop(lambda: open311.post(tenancy_form(open311, a_resident(identity)),
                                                 fmt="xml"))
    assert posted.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(posted.content)
    assert root.tag == "service_requests"
    assert [child.tag for child in root] == ["request"]
    assert {child.tag for child in root[0]} == {"service_request_id", "token", "service_notice",
                                                "account_id"}
    discovery = ET.fromstring((await off_loop(lambda: open311.get("discovery.xml"))).content)
    assert discovery.tag == "discovery"
    [endpoint] = discovery.find("endpoints") or []
    assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert [f.text for f in endpoint.find("formats") or []] == ["text/xml", "application/json"]
    definition = ET.fromstring(
        (await off_loop(lambda: open311.get("services/dispute_tenancy.xml"))).content)
    attribute = definition.find("attributes/attribute")
    assert attribute is not None
    assert {c.tag for c in attribute} >= {"variable", "code", "datatype", "required",
                                          "datatype_description", "order", "description"}


async def test_the_same_idempotency_key_answers_the_same_request(
    open311: Open311, identity: StandInIdentity,
) -> None:
    form = tenancy_form(open311, a_resident(identity))
    key = f"retry-{uuid.uuid4().hex[:8]}"
    first = await off_loop(lambda: open311.post(form, **{"Idempotency-Key": key}))
    again = await off_loop(lambda: open311.post(form, **{"Idempotency-Key": key}))
    fresh = await off_loop(lambda: open311.post(form))
    assert first.json() == again.json()
    assert fresh.json()[0]["service_request_id"] != first.json()[0]["service_request_id"]


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"api_key": "pk_app_a.0000"}, 403, "api_key_invalid"),
    ({"api_key": ""}, 403, "api_key_invalid"),
    ({"service_code": "telecom_fraud"}, 404, "service_not_found"),
    ({"attribute[region_code]": "3506"}, 400, "region_invalid"),
    ({"phone": ""}, 400, "phone_required"),
    ({"description": " "}, 400, "description_required"),
    ({"lat": "north", "long": "117.1"}, 400, "location_invalid"),
    ({"lat": "", "long": ""}, 400, "location_required"),
    ({"attribute[party_role]": "landlord_and_tenant"}, 422, "template_field_invalid"),
    ({"attribute[colour]": "red"}, 422, "template_field_unknown"),
    ({"attribute[region_code]": "350203001001001"}, 403, "region_denied"),
    ({"jurisdiction_id": "elsewhere.example"}, 404, "jurisdiction_not_found"),
])
async def test_a_refused_post_answers_the_specs_error_list_and_files_nothing(
    open311: Open311, identity: StandInIdentity, platform: Platform,
    change: dict[str, str], status: int, code: str,
) -> None:
    before = await _public_count(open311)
    for fmt in ("json", "xml"):
        refused = await off_loop(lambda f=fmt: open311.post(
            {**tenancy_form(open311, a_resident(identity)), **change}, fmt=f))
        assert refused.status_code == status, refused.text
        if fmt == "json":
            [error] = refused.json()
            assert error["code"] == status
            assert error["description"].startswith(f"{code}: ")
        else:
            root = ET.fromstring(refused.content)
            assert root.tag == "errors"
            assert root.findtext("error/code") == str(status)
            assert (root.findtext("error/description") or "").startswith(f"{code}: ")
    assert await _public_count(open311) == before


@pytest.mark.parametrize(("path", "params", "status", "code"), [
    ("services/no_such_thing.json", {}, 404, "service_not_found"),
    ("requests/not-an-id.json", {}, 404, "request_not_found"),
    (f"requests/{uuid.uuid4()}.json", {}, 404, "request_not_found"),
    ("tokens/o311-unknown.json", {}, 404, "token_not_found"),
    ("requests.json", {"status": "pending"}, 400, "status_invalid"),
    ("requests.json", {"start_date": "yesterday"}, 400, "date_invalid"),
    ("requests.json", {"start_date": "2026-01-01T00:00:00Z",
                       "end_date": "2026-06-01T00:00:00Z"}, 400, "date_range_invalid"),
    ("services.yaml", {}, 404, "format_unknown"),
])
async def test_a_refused_read_answers_the_specs_error_list(
    open311: Open311, path: str, params: dict[str, str], status: int, code: str,
) -> None:
    refused = await off_loop(lambda: open311.get(path, **params))
    assert refused.status_code == status, refused.text
    [error] = refused.json()
    assert (error["code"], error["description"].split(":")[0]) == (status, code)


async def test_an_app_without_the_submit_scope_cannot_post(
    open311: Open311, identity: StandInIdentity,
) -> None:
    identity.apps[APP_A]["scopes"] = ["events:read"]
    refused = await off_loop(lambda: open311.post(tenancy_form(open311, a_resident(identity))))
    assert refused.status_code == 403
    assert refused.json()[0]["description"].startswith("scope_denied: ")


async def _public_count(open311: Open311) -> int:
    listed = await off_loop(lambda: open311.get("requests.json"))
    assert listed.status_code == 200, listed.text
    return len(listed.json())
