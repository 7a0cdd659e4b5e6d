"""Use cases of the Open311 door: services from the category tree, requests from the closed
loop's public cases, and posted requests submitted as the partner app's (partner.service)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from gateway.partner import service as partner
from gateway.partner import store
from gateway.partner.auth import PartnerCaller
from gateway.partner.clients import EventsClient, IdentityClient
from gateway.partner.domain import Scope
from gateway.partner.open311 import domain
from gateway.partner.schemas import Location, PartnerEventCreate
from shared.db.uow import UnitOfWork
from shared.i18n.zh_CN import OPEN311
from shared.logs import get_logger
from shared.problems import BadRequest, NotFound

log = get_logger(__name__)
TOKEN_PREFIX = "o311-"


async def services(events: EventsClient) -> list[dict[str, Any]]:
    return [domain.service_summary(c) for c in domain.leaf_services(await events.categories())]


async def _service(events: EventsClient, code: str) -> dict[str, Any]:
    found = next((c for c in domain.leaf_services(await events.categories())
                  if c["code"] == code), None)
    if found is None:
        raise NotFound("no service has this service_code", code="service_not_found")
    return found


async def definition(events: EventsClient, code: str) -> dict[str, Any]:
    return domain.service_definition(await _service(events, code))


def token_for(app_key: str, idempotency_key: str | None) -> str:
    """The request's token, also its request id in the partner index: one per (app, key)
    when the caller sent an Idempotency-Key (a retry answers the same request), else new."""
    if idempotency_key is None:
        return TOKEN_PREFIX + uuid.uuid4().hex
    digest = hashlib.sha256(f"{app_key}\x00{idempotency_key}".encode()).hexdigest()
    return TOKEN_PREFIX + digest[:32]


def _submission(posted: domain.PostedRequest, token: str) -> PartnerEventCreate:
    location = None if posted.lat is None else {"lat": posted.lat, "lng": posted.lng}
    try:
        return PartnerEventCreate(
            request_id=token, phone=posted.phone, category_code=posted.service_code,
            description=posted.description, region_code=posted.region_code,
            address=posted.address, fields=posted.fields,
            location=Location.model_validate(location) if location else None)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "request"
        raise BadRequest(f"{where} is not acceptable", code="request_invalid") from None


async def post_request(
    *, uow: UnitOfWork, identity: IdentityClient, events: EventsClient, caller: PartnerCaller,
    form: Mapping[str, str], idempotency_key: str | None, now: datetime,
) -> list[dict[str, Any]]:
    """File a request into the closed loop for the person named by ``phone``."""
    caller.require_scope(Scope.EVENTS_SUBMIT)
    category = await _service(events, form.get("service_code", ""))
    posted = domain.parse_posted(form, category)
    token = token_for(caller.app_key, idempotency_key)
    created = await partner.submit_event(
        uow=uow, identity=identity, events=events, app_key=caller.app_key,
        allowed_regions=caller.credentials.allowed_regions,
        cmd=_submission(posted, token), now=now)
    log.info("open311_request_posted", app_key=caller.app_key, event_id=str(created.event_id))
    notice = OPEN311["service_notice"].format(case_no=created.case_no)
    return [{"service_request_id": str(created.event_id), "token": token,
             "service_notice": notice, "account_id": None}]


async def requests(events: EventsClient, query: Mapping[str, str], now: datetime
                   ) -> list[dict[str, Any]]:
    """GET requests: by ``service_request_id`` (comma separated; overrides the rest), else
    by ``service_code``, ``status`` and ``start_date``/``end_date`` (90 days at most)."""
    params: list[tuple[str, str]] = []
    ids = _listed(query.get("service_request_id"))
    if ids:
        params += [("ids", _event_id(i)) for i in ids[:100]]
    else:
        params += [("category", c) for c in _listed(query.get("service_code"))]
        params += [("status", s) for s in domain.statuses_for(_listed(query.get("status")))]
        start, end = domain.date_range(query.get("start_date"), query.get("end_date"), now)
        params += [("start", start.isoformat()), ("end", end.isoformat())]
    return await _public(events, params)


async def request(events: EventsClient, service_request_id: str) -> list[dict[str, Any]]:
    found = await _public(events, [("ids", _event_id(service_request_id))])
    if not found:
        raise NotFound("no public request has this id", code="request_not_found")
    return found


async def token(uow: UnitOfWork, value: str) -> list[dict[str, Any]]:
    async with uow:
        row = await store.find_by_token(uow, value) if value.startswith(TOKEN_PREFIX) else None
    if row is None:
        raise NotFound("no request has this token", code="token_not_found")
    return [{"service_request_id": str(row["event_id"]), "token": row["request_id"]}]


async def _public(events: EventsClient, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    cases = await events.public_cases(params)
    names = {c["code"]: c["name"] for c in domain.leaf_services(await events.categories())}
    return [domain.public_request(case, names) for case in cases]


def _listed(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _event_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound("no public request has this id", code="request_not_found") from None
