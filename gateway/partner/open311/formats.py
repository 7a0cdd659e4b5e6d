"""GeoReport v2's two formats: the same answers as JSON and as XML (the spec's element names),
and its error list (``[{"code": 400, "description": "..."}]``, ``<errors><error>...``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from fastapi import Response

from shared.problems import AppError

# A list's element, by the name of the element around it.
_ITEMS = {"services": "service", "attributes": "attribute", "values": "value",
          "endpoints": "endpoint", "formats": "format", "service_requests": "request",
          "errors": "error"}
MEDIA_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return "" if value is None else str(value)


def _fill(element: Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(SubElement(element, key), child)
    elif isinstance(value, list):
        item = _ITEMS[element.tag]
        for child in value:
            _fill(SubElement(element, item), child)
    else:
        element.text = _text(value)


def to_xml(root: str, value: Any) -> bytes:
    element = Element(root)
    _fill(element, value)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(element, encoding="utf-8",
                                                                   xml_declaration=False)


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    raise TypeError(type(value).__name__)


def answer(fmt: str, root: str, value: Any, status: int = 200) -> Response:
    """``value`` as the format asks: JSON as it is, XML under ``root``."""
    if fmt == "xml":
        body = to_xml(root, value)
    else:
        body = json.dumps(value, ensure_ascii=False, default=_json_default).encode()
    return Response(body, status_code=status, media_type=MEDIA_TYPES[fmt])


def error(fmt: str, problem: AppError) -> Response:
    """The spec's error list, with our stable code beside the HTTP status in the
    description's first words, so a partner can tell refusals apart."""
    errors = [{"code": problem.status, "description": f"{problem.code}: {problem.detail}"}]
    return answer(fmt, "errors", errors, status=problem.status)
