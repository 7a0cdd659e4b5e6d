"""Building blocks the gateway tests share: test settings and upstream maps per mode."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from fastapi import FastAPI
from starlette.types import ASGIApp, Message

from gateway import AsgiUpstream, GatewaySettings, HttpUpstream, Upstream

ISSUER, AUDIENCE = "ehome-identity", "ehome"
UPSTREAM_TIMEOUT = 0.5
MAX_BODY = 1024


def gateway_settings(**overrides: Any) -> GatewaySettings:
    """Test settings: generous rate limit (some tests lower it), small body limit, short
    upstream timeout."""
    values: dict[str, Any] = {
        "environment": "test",
        "log_json": True,
        "log_level": "WARNING",
        "max_body_bytes": MAX_BODY,
        "upstream_timeout_seconds": UPSTREAM_TIMEOUT,
        "readiness_timeout_seconds": 1.0,
        "rate_limit_per_second": 10_000.0,
        "rate_limit_burst": 10_000,
        "upstream_urls": {},
    }
    values.update(overrides)
    return GatewaySettings(**values)


def http_upstreams(urls: dict[str, str], timeout: float = UPSTREAM_TIMEOUT) -> dict[str, Upstream]:
    return {name: HttpUpstream(name, url, timeout) for name, url in urls.items()}


def asgi_upstreams(
    apps: dict[str, FastAPI], timeout: float = UPSTREAM_TIMEOUT
) -> dict[str, Upstream]:
    return {name: AsgiUpstream(name, app, timeout) for name, app in apps.items()}


@dataclass
class RawAnswer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def call_raw(
    app: ASGIApp, method: str, raw_path: str, headers: list[tuple[bytes, bytes]]
) -> RawAnswer:
    """Call an ASGI app with a path exactly as given. httpx normalises dot segments before
    sending, so it cannot show what a hostile client's path does."""
    path, _, query = raw_path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("203.0.113.7", 50000),
        "server": ("gateway.test", 80),
    }
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = messages[0]
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return RawAnswer(start["status"], list(start["headers"]), body)
