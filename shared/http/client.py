"""The one way to build an httpx client: bounded timeouts, pooled connections, and the
current request and correlation ids forwarded so a trace can be followed across services."""

from __future__ import annotations

import httpx

from shared.context import (
    CORRELATION_ID_HEADER,
    REQUEST_ID_HEADER,
    current_correlation_id,
    current_request_id,
)


async def _propagate_ids(request: httpx.Request) -> None:
    request_id = current_request_id()
    if request_id and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = request_id
    correlation_id = current_correlation_id()
    if correlation_id and CORRELATION_ID_HEADER not in request.headers:
        request.headers[CORRELATION_ID_HEADER] = correlation_id


def connection_limits(max_connections: int = 100) -> httpx.Limits:
    """The pool bounds of every client (a transport built outside ``create_http_client``
    takes them too)."""
    return httpx.Limits(max_connections=max_connections, max_keepalive_connections=20)


def create_http_client(
    *,
    base_url: str = "",
    timeout: float = 5.0,
    connect_timeout: float = 2.0,
    max_connections: int = 100,
    transport: httpx.AsyncBaseTransport | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        limits=connection_limits(max_connections),
        transport=transport,
        headers=headers,
        event_hooks={"request": [_propagate_ids]},
    )
