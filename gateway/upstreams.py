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
from urllib.parse import unquote

import aiohttp
import orjson
from starlette.types import ASGIApp, Message
from yarl import URL

from shared.logs import get_logger

log = get_logger(__name__)

Headers = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: Headers  # as the service sent them, hop-by-hop headers included
    body: bytes


class UpstreamError(Exception):
    """Base of the failures the proxy turns into a gateway problem response.

    ``detail`` is for logs (it may name internal hosts and ports); callers are told only
    ``public_detail``."""

    status = 502
    code = "bad_gateway"
    public_detail = "gave an invalid answer"

    def __init__(self, upstream: str, detail: str) -> None:
        super().__init__(f"{upstream}: {detail}")
        self.upstream = upstream
        self.detail = detail


class UpstreamTimeout(UpstreamError):
    status, code = 504, "upstream_timeout"
    public_detail = "did not answer in time"


class UpstreamUnavailable(UpstreamError):
    status, code = 503, "upstream_unavailable"
    public_detail = "is unavailable; retry later"


class UpstreamBadResponse(UpstreamError):
    status, code = 502, "bad_gateway"
    public_detail = "gave an invalid answer"


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
    """A service reached over HTTP through one pooled aiohttp session.

    aiohttp rather than httpx because this is the hot path: measured as a proxy client on two
    cores, httpx.AsyncClient managed ~470 req/s where aiohttp managed ~8,000 (ARCHITECTURE.md).
    aiohttp itself retries an idempotent request once when a pooled keep-alive connection
    turns out to have been closed by the service; other methods surface that as 503.
    """

    # aiohttp adds these when the caller did not send them. A proxy must not invent headers
    # (a default Content-Type of application/octet-stream would change what the service sees).
    _SKIP_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")

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
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(connect_timeout, timeout))
        self._pool_size = pool_size
        self._keepalive_seconds = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(
            limit=self._pool_size,
            limit_per_host=self._pool_size,
            keepalive_timeout=self._keepalive_seconds,
            ttl_dns_cache=30,  # Kubernetes Service names resolve to a stable ClusterIP
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            # Never keep cookies: one session serves every caller, so a stored cookie from
            # one resident's response would be sent with the next resident's request.
            cookie_jar=aiohttp.DummyCookieJar(),
            # Bodies pass through byte for byte, Content-Encoding and all.
            auto_decompress=False,
            skip_auto_headers=self._SKIP_AUTO_HEADERS,
        )

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise UpstreamUnavailable(self.name, "the gateway has not started this upstream")
        return self._session

    async def send(
        self, method: str, path_with_query: str, headers: Headers, body: bytes
    ) -> UpstreamResponse:
        session = self._require_session()
        # encoded=True: the path and query go out exactly as the client sent them (no
        # re-quoting, no dot-segment normalisation).
        url = URL(self.base_url + path_with_query, encoded=True)
        request_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]
        try:
            async with session.request(
                method,
                url,
                headers=request_headers,
                data=body or None,
                allow_redirects=False,
            ) as response:
                payload = await response.read()
                return UpstreamResponse(response.status, list(response.raw_headers), payload)
        except aiohttp.ConnectionTimeoutError as exc:
            # Before TimeoutError: it is one, but a connect that hangs means the host is gone.
            raise UpstreamUnavailable(self.name, "connecting to the service timed out") from exc
        except TimeoutError as exc:
            raise UpstreamTimeout(self.name, "the service did not answer in time") from exc
        except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
            # Refused, reset, or closed mid-answer: the service is down or going down.
            raise UpstreamUnavailable(self.name, f"cannot reach the service ({exc})") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamBadResponse(self.name, f"malformed answer ({exc})") from exc

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
        raw_path, _, query = path_with_query.partition("?")
        scope: dict[str, Any] = {
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
            "server": (self.name, 80),
            "state": {},
        }
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
        return UpstreamResponse(status, response_headers, b"".join(chunks))

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
