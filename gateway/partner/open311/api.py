"""Routes of Open311 GeoReport v2 under /open311/v2/, each in JSON or XML by its extension.

GeoReport has its own error format (a list of ``code`` and ``description``), so these routes
answer refusals themselves instead of with problem+json; they are left out of the OpenAPI
document, as the spec is their reference (discovery.json points to it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response

from gateway.partner.auth import authenticate_api_key
from gateway.partner.deps import Context
from gateway.partner.open311 import domain, service
from gateway.partner.open311.formats import answer, error
from shared.i18n.zh_CN import OPEN311
from shared.problems import AppError, NotFound
from shared.web.deps import Uow

PREFIX = "/open311/v2"
router = APIRouter(prefix=PREFIX, tags=["open311"], include_in_schema=False)
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]


async def _answered(fmt: str, root: str, request: Request, ctx: Context,
                    work: Callable[[], Awaitable[Any]]) -> Response:
    """``work``'s answer in ``fmt``, or the spec's error list for a refusal."""
    if fmt not in domain.FORMATS:
        return error("json", NotFound("formats are json and xml", code="format_unknown"))
    try:
        _served(ctx, request.query_params.get("jurisdiction_id"))
        return answer(fmt, root, await work())
    except AppError as problem:
        return error(fmt, problem)


def _served(ctx: Context, jurisdiction_id: str | None) -> None:
    if jurisdiction_id and jurisdiction_id != ctx.settings.open311_jurisdiction_id:
        raise NotFound("this endpoint serves one jurisdiction", code="jurisdiction_not_found")


@router.get("/discovery.{fmt}")
async def discovery(fmt: str, request: Request, ctx: Context) -> Response:
    async def work() -> dict[str, Any]:
        return {
            "changeset": "2026-12-06T00:00:00+08:00", "contact": ctx.settings.open311_contact,
            "key_service": OPEN311["key_service"],
            "endpoints": [{
                "specification": domain.SPECIFICATION,
                "url": str(request.base_url).rstrip("/") + PREFIX,
                "changeset": "2026-12-06T00:00:00+08:00", "type": "production",
                "formats": ["text/xml", "application/json"],
            }],
        }
    return await _answered(fmt, "discovery", request, ctx, work)


@router.get("/services.{fmt}")
async def services(fmt: str, request: Request, ctx: Context) -> Response:
    return await _answered(fmt, "services", request, ctx,
                           lambda: service.services(ctx.events))


@router.get("/services/{service_code}.{fmt}")
async def service_definition(service_code: str, fmt: str, request: Request,
                             ctx: Context) -> Response:
    return await _answered(fmt, "service_definition", request, ctx,
                           lambda: service.definition(ctx.events, service_code))


@router.post("/requests.{fmt}")
async def post_request(fmt: str, request: Request, ctx: Context, uow: Uow,
                       idempotency_key: IdempotencyKey = None) -> Response:
    async def work() -> list[dict[str, Any]]:
        form = {name: value for name, value in (await request.form()).items()
                if isinstance(value, str)}
        _served(ctx, form.get("jurisdiction_id"))
        caller = await authenticate_api_key(ctx, form.get("api_key", ""))
        return await service.post_request(
            uow=uow, identity=ctx.identity, events=ctx.events, caller=caller, form=form,
            idempotency_key=idempotency_key, now=ctx.now())
    return await _answered(fmt, "service_requests", request, ctx, work)


@router.get("/requests.{fmt}")
async def requests(fmt: str, request: Request, ctx: Context) -> Response:
    return await _answered(fmt, "service_requests", request, ctx,
                           lambda: service.requests(ctx.events, request.query_params,
                                                           ctx.now()))


@router.get("/requests/{service_request_id}.{fmt}")
async def one_request(service_request_id: str, fmt: str, request: Request,
                      ctx: Context) -> Response:
    return await _answered(fmt, "service_requests", request, ctx,
                           lambda: service.request(ctx.events, service_request_id))


@router.get("/tokens/{token}.{fmt}")
async def token(token: str, fmt: str, request: Request, ctx: Context, uow: Uow) -> Response:
    return await _answered(fmt, "service_requests", request, ctx,
                           lambda: service.token(uow, token))
