"""Pure rules of the Open311 door: what our categories and cases look like in GeoReport v2
terms, and what a posted request must carry."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.i18n.zh_CN import OPEN311, STATUS_LABELS
from shared.problems import BadRequest

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ("json", "xml")
LONGEST_SPAN = timedelta(days=90)
# The closed loop's statuses where nothing more will happen to the case.
CLOSED_STATUSES = frozenset({"closed", "rated", "rejected"})
OPEN_STATUSES = frozenset({"reported", "dispatched", "accepted", "in_progress",
                           "result_submitted", "verified", "returned"})
# Every service's one attribute of our own: the community or grid the request is in (the
# closed loop routes by region; GeoReport has no field for it).
REGION_ATTRIBUTE = "region_code"
_DATATYPES = {"text": "string", "number": "number", "choice": "singlevaluelist",
              "date": "datetime", "phone": "string"}
_ATTRIBUTE_NAME = re.compile(r"^attribute\[([a-z][a-z0-9_]{0,39})\]$")


def open_or_closed(status: str) -> str:
    return "closed" if status in CLOSED_STATUSES else "open"


def statuses_for(wanted: Iterable[str]) -> list[str]:
    """Our statuses behind GeoReport's ``status=open,closed`` filter."""
    picked: set[str] = set()
    for status in wanted:
        if status == "open":
            picked |= OPEN_STATUSES
        elif status == "closed":
            picked |= CLOSED_STATUSES
        else:
            raise BadRequest("status is open or closed", code="status_invalid")
    return sorted(picked)


def leaf_services(tree: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The categories a request can be filed under (the leaves of the tree), not sensitive
    ones (tips whose reporter must stay sealed come through the real-name channels), each
    with its group (the major risk above it)."""
    found: list[dict[str, Any]] = []

    def walk(nodes: Iterable[Mapping[str, Any]], group: str) -> None:
        for node in nodes:
            children = node.get("children") or []
            if children:
                walk(children, group or node["name"])
            elif not node["sensitive"]:
                found.append({**node, "group": group or node["name"]})

    walk(tree, "")
    return found


def service_summary(category: Mapping[str, Any]) -> dict[str, Any]:
    return {"service_code": category["code"], "service_name": category["name"],
            "description": category["name"], "metadata": True, "type": "realtime",
            "keywords": category["major_risk"], "group": category["group"]}


def service_definition(category: Mapping[str, Any]) -> dict[str, Any]:
    """The category's template as GeoReport attributes, after the region attribute."""
    attributes = [{
        "variable": True, "code": REGION_ATTRIBUTE, "datatype": "string", "required": True,
        "datatype_description": OPEN311["region_datatype"], "order": 1,
        "description": OPEN311["region_description"],
    }]
    for order, field in enumerate(category["template"], start=2):
        attribute: dict[str, Any] = {
            "variable": True, "code": field["key"], "datatype": _DATATYPES[field["type"]],
            "required": bool(field.get("required")), "datatype_description": "",
            "order": order, "description": field["label"],
        }
        if field["type"] == "choice":
            attribute["values"] = [{"key": o["code"], "name": o["label"]}
                                   for o in field.get("options", [])]
        attributes.append(attribute)
    return {"service_code": category["code"], "attributes": attributes}


@dataclass(frozen=True)
class PostedRequest:
    """A request as posted (form fields), checked against the service's definition."""

    service_code: str
    description: str
    phone: str
    region_code: str
    fields: dict[str, Any]
    lat: float | None
    lng: float | None
    address: str | None


def attributes_of(form: Mapping[str, str]) -> dict[str, str]:
    """``attribute[code]=value`` pairs of a posted form."""
    found = {}
    for name, value in form.items():
        matched = _ATTRIBUTE_NAME.match(name)
        if matched:
            found[matched.group(1)] = value
    return found


def parse_posted(form: Mapping[str, str], category: Mapping[str, Any]) -> PostedRequest:
    attributes = attributes_of(form)
    region_code = attributes.pop(REGION_ATTRIBUTE, "").strip()
    if not re.fullmatch(r"[0-9]{12}|[0-9]{15}", region_code):
        raise BadRequest(f"attribute[{REGION_ATTRIBUTE}] is the community's or grid's "
                         "12- or 15-digit region code", code="region_invalid")
    description = (form.get("description") or "").strip()
    if not description:
        raise BadRequest("description is required", code="description_required")
    phone = (form.get("phone") or "").strip()
    if not phone:
        raise BadRequest("phone is required: the platform reports back to the person who "
                         "asked, and asks them to rate the result", code="phone_required")
    lat, lng = _location(form)
    address = (form.get("address_string") or "").strip() or None
    if lat is None and address is None:
        raise BadRequest("give lat and long, or address_string", code="location_required")
    return PostedRequest(service_code=category["code"], description=description[:2000],
                         phone=phone, region_code=region_code,
                         fields=_fields(attributes, category["template"]),
                         lat=lat, lng=lng, address=address[:200] if address else None)


def _location(form: Mapping[str, str]) -> tuple[float | None, float | None]:
    lat_text, lng_text = form.get("lat"), form.get("long")
    if not lat_text and not lng_text:
        return None, None
    try:
        lat, lng = float(lat_text or ""), float(lng_text or "")
    except ValueError:
        raise BadRequest("lat and long are decimal degrees", code="location_invalid") from None
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise BadRequest("lat and long are decimal degrees", code="location_invalid")
    return lat, lng


def _fields(attributes: Mapping[str, str], template: Iterable[Mapping[str, Any]]
            ) -> dict[str, Any]:
    """Template fields from the attributes, numbers as numbers (a form carries text). The
    events service checks them against the template, unknown codes included."""
    kinds = {field["key"]: field["type"] for field in template}
    fields: dict[str, Any] = {}
    for code, value in attributes.items():
        if kinds.get(code) == "number":
            try:
                fields[code] = float(value) if "." in value else int(value)
            except ValueError:
                raise BadRequest(f"attribute[{code}] is a number",
                                 code="attribute_invalid") from None
        else:
            fields[code] = value
    return fields


def _w3c_text(value: str) -> str:
    """GeoReport's datetimes: W3C format to the second, with the offset."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.isoformat(timespec="seconds")


def date_range(start_text: str | None, end_text: str | None, now: datetime
               ) -> tuple[datetime, datetime]:
    """GeoReport's ``start_date``/``end_date``: by default the 90 days up to now (or up to
    ``end_date``, or from ``start_date``); never more than 90 days."""
    start, end = parse_w3c(start_text, "start_date"), parse_w3c(end_text, "end_date")
    if end is None:
        end = now if start is None else min(now, start + LONGEST_SPAN)
    if start is None:
        start = end - LONGEST_SPAN
    if start > end or end - start > LONGEST_SPAN:
        raise BadRequest("start_date to end_date spans 0 to 90 days",
                         code="date_range_invalid")
    return start, end


def parse_w3c(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name} is a W3C datetime, e.g. 2026-12-01T00:00:00Z",
                         code="date_invalid") from None
    if moment.tzinfo is None:
        raise BadRequest(f"{name} needs a time zone (Z or +08:00)", code="date_invalid")
    return moment


def public_request(case: Mapping[str, Any], service_names: Mapping[str, str]
                   ) -> dict[str, Any]:
    """A case as GeoReport shows it to anyone: no reporter, words or address; located to
    about 100 m (the events service rounds)."""
    return {
        "service_request_id": str(case["id"]),
        "status": open_or_closed(case["status"]),
        "status_notes": STATUS_LABELS.get(case["status"], case["status"]),
        "service_name": service_names.get(case["category_code"], case["category_code"]),
        "service_code": case["category_code"],
        "description": None,
        "agency_responsible": case.get("assignee_unit_name"),
        "service_notice": None,
        "requested_datetime": _w3c_text(case["reported_at"]),
        "updated_datetime": _w3c_text(case["updated_at"]),
        "expected_datetime": None,
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": case["lat"],
        "long": case["lng"],
        "media_url": None,
    }
