"""Ways to reach a service: over HTTP (distributed mode) or in-process (embedded mode).

Both answer the same ``Upstream`` protocol and have the same failure semantics, so the proxy
never needs to know which mode it runs in: a slow service raises ``UpstreamTimeout`` (504),
an unreachable one ``UpstreamUnavailable`` (503), a broken answer ``UpstreamBadResponse`` (502).
Responses are buffered whole: the public API is JSON, and every body is bounded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit, urlunsplit

import orjson
from starlette.types import ASGIApp, Message
from yarl import URL

from gateway.errors import (
    UpstreamBadResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.wire import ConnectionPool
from shared.logs import get_logger

log = get_logger(__name__)

Headers = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: Headers  # as the service sent them, hop-by-hop headers included
    body: bytes


@runtime_checkable
class Upstream(Protocol):
    name: str

    async def send(
        self, method: str, path_with_query: str, headers: Headers, body: bytes
    ) -> UpstreamResponse: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def openapi(self) -> dict[str, Any]: ...


class HttpUpstream:
    """A service reached over HTTP through a pool of keep-alive connections (gateway/wire.py).

    Not a general-purpose client: this is the hot path, where aiohttp's client cost ~170 µs
    of CPU a request and httpx's far more (ARCHITECTURE.md). An idempotent request that finds
    its pooled connection closed by the service is sent once more on a fresh one; any other
    method surfaces that as 503.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        timeout: float = 10.0,
        *,
        connect_timeout: float = 2.0,
        pool_size: int = 256,
        keepalive_seconds: float = 4.0,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        target = URL(self.base_url)
        if target.scheme != "http" or not target.host or target.path not in ("", "/"):
            raise ValueError(f"{name}: a service is reached as http://host:port, not {base_url}")
        self._host, self._port = target.host, target.port or 80
        self._timeout = timeout
        self._connect_timeout = min(connect_timeout, timeout)
        self._pool_size = pool_size
        self._keepalive_seconds = keepalive_seconds
        self._pool: ConnectionPool | None = None

    async def start(self) -> None:
        if self._pool is None:
            self._pool = ConnectionPool(
                self.name,
                self._host,
                self._port,
                size=self._pool_size,
                connect_timeout=self._connect_timeout,
                keepalive_seconds=self._keepalive_seconds,
            )

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def send(
        self, method: str, path_with_query: str, headers: Headers, body: bytes
    ) -> UpstreamResponse:
        if self._pool is None:
            raise UpstreamUnavailable(self.name, "the gateway has not started this upstream")
        # The path and query go out exactly as the client sent them (no re-quoting, no
        # dot-segment normalisation).
        try:
            async with asyncio.timeout(self._timeout):
                status, answer_headers, payload = await self._pool.request(
                    method, path_with_query, headers, body
                )
        except TimeoutError:
            raise UpstreamTimeout(self.name, "the service did not answer in time") from None
        return UpstreamResponse(status, public_locations(answer_headers, self._host), payload)

    async def openapi(self) -> dict[str, Any]:
        response = await self.send("GET", "/openapi.json", [(b"accept", b"application/json")], b"")
        if response.status != 200:
            raise UpstreamBadResponse(self.name, f"/openapi.json answered {response.status}")
        return _decode_document(self.name, response.body)


class AsgiUpstream:
    """A service app called in-process (embedded mode), with the same timeout semantics.

    Each call runs in its own task, which gives the service a copy of the gateway's context:
    what the service's middleware binds to contextvars (structlog's ``service`` and the like)
    cannot leak back into the gateway. On timeout the service's handler is cancelled, as if
    the client had gone away.
    """

    def __init__(self, name: str, app: ASGIApp, timeout: float = 10.0) -> None:
        self.name = name
        self.app = app
        self._timeout = timeout

    async def start(self) -> None:
        """Nothing to open: the service app's own lifespan is run by the gateway's."""

    async def close(self) -> None:
        """Nothing to close (see ``start``)."""

    async def send(
        self, method: str, path_with_query: str, headers: Headers, body: bytes
    ) -> UpstreamResponse:
        call = asyncio.create_task(self._call(method, path_with_query, headers, body))
        try:
            return await asyncio.wait_for(call, self._timeout)
        except TimeoutError as exc:
            raise UpstreamTimeout(self.name, "the service did not answer in time") from exc

    async def _call(
        self, method: str, path_with_query: str, headers: Headers, body: bytes
    ) -> UpstreamResponse:
        scope = _http_scope(method, path_with_query, headers, server=self.name)
        request_sent = False
        response_finished = asyncio.Event()
        status: int | None = None
        response_headers: Headers = []
        chunks: list[bytes] = []

        async def receive() -> Message:
            nonlocal request_sent
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            # Only after the answer is complete does the "client" go away; answering
            # http.disconnect earlier would make streaming responses stop themselves.
            await response_finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    response_finished.set()

        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            # Starlette answers 500 before re-raising; that answer is the service's to give.
            if status is not None and response_finished.is_set():
                log.warning("embedded_service_raised_after_answering", upstream=self.name)
                return UpstreamResponse(status, response_headers, b"".join(chunks))
            log.exception("embedded_service_failed", upstream=self.name)
            raise UpstreamBadResponse(self.name, f"the service failed ({exc!r})") from exc
        finally:
            response_finished.set()
        if status is None:
            raise UpstreamBadResponse(self.name, "the service returned without answering")
        return UpstreamResponse(
            status, public_locations(response_headers, self.name), b"".join(chunks)
        )

    async def openapi(self) -> dict[str, Any]:
        build = getattr(self.app, "openapi", None)
        if callable(build):  # a FastAPI app: no need to go through HTTP at all
            try:
                document = build()
            except Exception as exc:
                # A service whose schema cannot be generated must not take the whole merged
                # document down with it; the aggregator reports it as missing.
                log.exception("embedded_openapi_failed", upstream=self.name)
                raise UpstreamBadResponse(self.name, "its OpenAPI document failed") from exc
            if isinstance(document, dict):
                return document
        response = await self.send("GET", "/openapi.json", [(b"accept", b"application/json")], b"")
        if response.status != 200:
            raise UpstreamBadResponse(self.name, f"/openapi.json answered {response.status}")
        return _decode_document(self.name, response.body)


def _http_scope(
    method: str, path_with_query: str, headers: Headers, *, server: str
) -> dict[str, Any]:
    """The ASGI scope of a request as a server would pass it, the path exactly as sent."""
    raw_path, _, query = path_with_query.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": headers,
        "client": (_forwarded_client(headers), 0),
        "server": (server, 80),
        "state": {},
    }


def public_locations(headers: Headers, internal_host: str) -> Headers:
    """``headers`` with every Location that names the service's own (internal) host made
    relative: ``http://events/api/v1/events`` becomes ``/api/v1/events``, which the client
    resolves against the public address it called (RFC 9110 §10.2.2). A service knows only
    the address it was reached at, so an absolute URL it builds would name that."""
    for index, (name, value) in enumerate(headers):
        if name.lower() == b"location" and b"//" in value:
            url = urlsplit(value.decode("latin-1"))
            if url.hostname and url.hostname.lower() == internal_host.lower():
                # One leading slash: "//x" would be read as a URL naming the host "x".
                path = "/" + url.path.lstrip("/")
                relative = urlunsplit(("", "", path, url.query, url.fragment))
                headers = list(headers)
                headers[index] = (name, relative.encode("latin-1"))
    return headers


def _forwarded_client(headers: Headers) -> str:
    """The caller's address as the gateway recorded it (the last X-Forwarded-For entry), so
    an embedded service sees what it would see behind uvicorn's --proxy-headers."""
    for name, value in headers:
        if name == b"x-forwarded-for":
            return value.rsplit(b",", 1)[-1].strip().decode("latin-1")
    return "127.0.0.1"


def _decode_document(upstream: str, body: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UpstreamBadResponse(upstream, "/openapi.json is not JSON") from exc
    if not isinstance(document, dict):
        raise UpstreamBadResponse(upstream, "/openapi.json is not a JSON object")
    return document
