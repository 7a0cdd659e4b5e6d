"""Request context as plain ASGI middleware (cheap on the hot path): request and correlation
ids in, echoed out, bound to every log line; one access log line and metrics per request."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.context import (
    CORRELATION_ID_HEADER,
    REQUEST_ID_HEADER,
    accept_id,
    correlation_id_var,
    request_id_var,
)
from shared.logs import bind_context, clear_context, get_logger
from shared.web.metrics import Metrics

log = get_logger("http")
_REQUEST_ID = REQUEST_ID_HEADER.lower().encode()
_CORRELATION_ID = CORRELATION_ID_HEADER.lower().encode()
_ECHOED = frozenset({_REQUEST_ID, _CORRELATION_ID})
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _route_template(scope: Scope) -> str:
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
