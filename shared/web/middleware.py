"""Plain ASGI middleware every service app gets (cheap on the hot path): request and correlation
ids in, echoed out, bound to every log line; one access log line and metrics per request; and
the one guard that keeps NUL characters, which PostgreSQL cannot store, out of every service."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth.revocations import FEED_PATH as REVOCATIONS_FEED
from shared.context import (
    CORRELATION_ID_HEADER,
    REQUEST_ID_HEADER,
    accept_id,
    correlation_id_var,
    request_id_var,
)
from shared.logs import bind_context, clear_context, get_logger
from shared.web.metrics import Metrics
from shared.web.problems import problem_response

log = get_logger("http")
_REQUEST_ID = REQUEST_ID_HEADER.lower().encode()
_CORRELATION_ID = CORRELATION_ID_HEADER.lower().encode()
_ECHOED = frozenset({_REQUEST_ID, _CORRELATION_ID})
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics", REVOCATIONS_FEED})


def _route_template(scope: Scope) -> str:
    """The matched route's whole template. FastAPI (0.165) matches a route of an included
    router through an effective-route context and leaves ``scope["route"]`` the route as
    declared, without its routers' prefixes (``/{event_id}``, alike in every service); the
    context's ``path_format`` has the whole path."""
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    template = getattr(effective, "path_format", None)
    if isinstance(template, str) and template:
        return template
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, service: str) -> None:
        self.app = app
        self.metrics = metrics
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = accept_id(headers.get(_REQUEST_ID, b"").decode("latin-1") or None)
        correlation = headers.get(_CORRELATION_ID, b"").decode("latin-1")
        correlation_id = accept_id(correlation) if correlation else request_id
        rid_token = request_id_var.set(request_id)
        cid_token = correlation_id_var.set(correlation_id)
        bind_context(request_id=request_id, correlation_id=correlation_id, service=self.service)
        started = time.perf_counter()
        status = 500
        echo = [(_REQUEST_ID, request_id.encode()), (_CORRELATION_ID, correlation_id.encode())]

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *(h for h in message.get("headers", []) if h[0].lower() not in _ECHOED),
                    *echo,
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            self.metrics.observe(scope["method"], route, status, elapsed)
            if scope["path"] not in _QUIET_PATHS:
                log.info(
                    "request",
                    method=scope["method"],
                    route=route,
                    status=status,
                    ms=round(elapsed * 1000, 2),
                )
            request_id_var.reset(rid_token)
            correlation_id_var.reset(cid_token)
            clear_context("request_id", "correlation_id")


# -- NUL characters ------------------------------------------------------------------------------

NUL_REFUSED = "text may not contain NUL characters (U+0000)"
_JSON_NUL = b"\\u0000"  # JSON carries NUL only escaped: the six bytes \u0000
_QUERY_NUL = b"%00"  # and a query string only percent-encoded
_RAW_NUL = b"\x00"  # in a body: UTF-16 or UTF-32 JSON (json.loads reads those too), or not JSON
_CONTENT_TYPE = b"content-type"


def _is_json(content_type: bytes | None) -> bool:
    """The bodies FastAPI parses as JSON: no content type, application/json, ``+json``."""
    if not content_type:
        return True
    media = content_type.partition(b";")[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


def nul_location(value: Any) -> list[str | int] | None:
    """Where the first NUL sits in parsed JSON (key or string value), or None. Iterative:
    nesting as deep as the parser allows costs no recursion."""
    stack: list[tuple[list[str | int], Any]] = [([], value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    return [*where, key]
                stack.append(([*where, key], child))
        elif isinstance(item, list):
            stack.extend(([*where, index], child) for index, child in enumerate(item))
    return None


class RefuseNulMiddleware:
    """PostgreSQL text and jsonb cannot hold NUL (U+0000): a statement carrying one fails with
    "invalid byte sequence", a 500. Rather than typing every field of every service to refuse
    it, this refuses it at the door, for every route: a 422 ``validation_error`` shaped like
    FastAPI's own (the answer ``shared.validation.StorableText`` gives), before any handler
    runs, so nothing is written.

    Checked: the path (decoded), the query string (``%00``) and JSON bodies. The body is only
    parsed when its raw bytes hold the escape ``\\u0000`` (the only way JSON carries a NUL);
    the parse then tells a real NUL from an escaped backslash followed by ``u0000`` (or holds
    a raw NUL byte: UTF-16 JSON, whose escapes the byte search would miss). Other
    bodies (multipart uploads, binary files) stream through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"]:
            await _refuse(["path"], scope, receive, send)
            return
        if _QUERY_NUL in scope.get("query_string", b""):
            await _refuse(["query"], scope, receive, send)
            return
        content_type = dict(scope["headers"]).get(_CONTENT_TYPE)
        if scope["method"] in ("GET", "HEAD", "OPTIONS") or not _is_json(content_type):
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        if _JSON_NUL in body or _RAW_NUL in body:
            where = _nul_in_json(body)
            if where is not None:
                await _refuse(["body", *where], scope, receive, send)
                return
        await self.app(scope, _replay(messages, receive), send)


async def _read_body(receive: Receive) -> tuple[list[Message], bytes]:
    """Every message up to the body's end (or a disconnect), and the body they carry."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    chunks = [m.get("body", b"") for m in messages if m["type"] == "http.request"]
    return messages, chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands out the buffered messages, then the client's own."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _nul_in_json(body: bytes) -> list[str | int] | None:
    try:
        value = json.loads(body)  # the parser FastAPI uses, so both read the same document
    except (ValueError, RecursionError):
        return None  # not JSON: the route answers that itself
    return nul_location(value)


async def _refuse(where: list[str | int], scope: Scope, receive: Receive, send: Send) -> None:
    # The input itself is left out of the answer, as in every validation error: it may be PII.
    response = problem_response(
        422,
        "validation_error",
        NUL_REFUSED,
        extra={"errors": [{"loc": where, "msg": NUL_REFUSED, "type": "nul_character"}]},
    )
    await response(scope, receive, send)
