"""Ways to reach a service: over HTTP (distributed mode) or in-process (embedded mode).

Both answer the same ``Upstream`` protocol and have the same failure semantics, so the proxy
never needs to know which mode it runs in: a slow service raises ``UpstreamTimeout`` (504),
an unreachable one ``UpstreamUnavailable`` (503), a broken answer ``UpstreamBadResponse`` (502).

Bodies stream. ``stream`` returns once the answer's head is in (within the upstream timeout):
a body that came with it is whole in ``body``; one still arriving is read from ``rest`` as
the client takes it, each wait for the next bytes bounded by the idle timeout, so an export
or a video is never held whole. A request body may stream too (``StreamedBody``: uploads).
``send`` is the buffered form, for the gateway's own small calls (OpenAPI, readiness).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message
from yarl import URL

from gateway.errors import (
    UpstreamBadResponse,
    UpstreamBodyBroken,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.upstreams.base import (
    DEFAULT_IDLE_TIMEOUT,
    BodyStream,
    Headers,
    Upstream,
    UpstreamResponse,
    decode_document,
    forwarded_client,
    log,
    public_locations,
    read_whole,
)
from gateway.wire import HIGH_WATER, ConnectionPool, StreamedBody

__all__ = ["DEFAULT_IDLE_TIMEOUT", "AsgiUpstream", "BodyStream", "Headers", "HttpUpstream",
           "Upstream", "UpstreamResponse", "public_locations", "read_whole"]


class HttpUpstream:
    """A service reached over HTTP through a pool of keep-alive connections (gateway/wire/).

    Not a general-purpose client: this is the hot path, where aiohttp's client cost ~170 µs
    of CPU a request and httpx's far more (ARCHITECTURE.md). An idempotent request that finds
    its pooled connection closed by the service is sent once more on a fresh one; any other
    method surfaces that as 503. A streamed upload always goes out on a fresh connection: it
    could not be sent again.
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
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        target = URL(self.base_url)
        if target.scheme != "http" or not target.host or target.path not in ("", "/"):
            raise ValueError(f"{name}: a service is reached as http://host:port, not {base_url}")
        self._host, self._port = target.host, target.port or 80
        self._timeout = timeout
        self._idle_timeout = idle_timeout
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

    async def stream(
        self, method: str, path_with_query: str, headers: Headers, body: bytes | StreamedBody
    ) -> UpstreamResponse:
        if self._pool is None:
            raise UpstreamUnavailable(self.name, "the gateway has not started this upstream")
        # The path and query go out exactly as the client sent them (no re-quoting, no
        # dot-segment normalisation).
        try:
            answer = await self._pool.request(
                method, path_with_query, headers, body,
                head_timeout=self._timeout, idle_timeout=self._idle_timeout,
            )
        except TimeoutError:
            raise UpstreamTimeout(self.name, "the service did not answer in time") from None
        headers = public_locations(answer.headers, self._host)
        return UpstreamResponse(answer.status, headers, answer.body, answer.rest)

    async def send(
        self, method: str, path_with_query: str, headers: Headers, body: bytes
    ) -> UpstreamResponse:
        return await read_whole(await self.stream(method, path_with_query, headers, body))

    async def openapi(self) -> dict[str, Any]:
        response = await self.send("GET", "/openapi.json", [(b"accept", b"application/json")], b"")
        if response.status != 200:
            raise UpstreamBadResponse(self.name, f"/openapi.json answered {response.status}")
        return decode_document(self.name, response.body)


class AsgiUpstream:
    """A service app called in-process (embedded mode), with the same timeout semantics.

    Each call runs in its own task, which gives the service a copy of the gateway's context:
    what the service's middleware binds to contextvars (structlog's ``service`` and the like)
    cannot leak back into the gateway. On timeout, or when the client goes away mid-answer,
    the service's handler is cancelled.
    """

    def __init__(
        self,
        name: str,
        app: ASGIApp,
        timeout: float = 10.0,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        self.name = name
        self.app = app
        self._timeout = timeout
        self._idle_timeout = idle_timeout

    async def start(self) -> None:
        """Nothing to open: the service app's own lifespan is run by the gateway's."""

    async def close(self) -> None:
        """Nothing to close (see ``start``)."""

    async def stream(
        self, method: str, path_with_query: str, headers: Headers, body: bytes | StreamedBody
    ) -> UpstreamResponse:
        if not isinstance(body, bytes):
            framing = (
                (b"transfer-encoding", b"chunked") if body.length is None
                else (b"content-length", str(body.length).encode())
            )
            headers = [*headers, framing]
        call = _AsgiCall(self.app, _http_scope(method, path_with_query, headers, server=self.name),
                         body)
        task = asyncio.create_task(call.run())
        try:
            await call.request_taken(self._idle_timeout)
            if call.body_error is None:
                async with asyncio.timeout(self._timeout):
                    await call.answered()
                    if call.complete:
                        await task  # the service's call returns (background tasks run) first
        except TimeoutError as exc:
            task.cancel()
            raise UpstreamTimeout(self.name, "the service did not answer in time") from exc
        except BaseException:
            task.cancel()
            raise
        if call.body_error is not None:
            # The client's side ended the request (gone, or over its limit): the service
            # saw a disconnect; whatever it answers, nobody takes it.
            task.cancel()
            raise call.body_error
        return self._response(call, task)

    def _response(self, call: _AsgiCall, task: asyncio.Task[None]) -> UpstreamResponse:
        if call.status is None:
            if call.error is not None:
                log.error("embedded_service_failed", upstream=self.name, exc_info=call.error)
                raise UpstreamBadResponse(self.name, f"the service failed ({call.error!r})")
            raise UpstreamBadResponse(self.name, "the service returned without answering")
        headers = public_locations(call.headers, self.name)
        if call.complete:
            if call.error is not None:
                # Starlette answers 500 before re-raising; that answer is the service's.
                log.warning("embedded_service_raised_after_answering", upstream=self.name)
            return UpstreamResponse(call.status, headers, call.take())
        return UpstreamResponse(
            call.status, headers, b"", _AsgiBody(self.name, call, task, self._idle_timeout)
        )

    async def send(
        self, method: str, path_with_query: str, headers: Headers, body: bytes
    ) -> UpstreamResponse:
        return await read_whole(await self.stream(method, path_with_query, headers, body))

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
        return decode_document(self.name, response.body)


class _AsgiCall:
    """One in-process call of a service app: its request fed to it (whole, or as the client
    sends it) and its answer collected as it sends it, at most ``HIGH_WATER`` bytes ahead of
    the client (the service's ``send`` waits beyond that)."""

    def __init__(self, app: ASGIApp, scope: dict[str, Any], body: bytes | StreamedBody) -> None:
        self._app = app
        self._scope = scope
        self._body: bytes | StreamedBody | None = body
        self._in_receive = False
        self.body_error: Exception | None = None  # what ended the client's request body
        self.error: Exception | None = None  # what the service raised
        self.status: int | None = None
        self.headers: Headers = []
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self.complete = self.returned = self.aborted = False
        self._changed = asyncio.Event()  # anything the gateway's side waits for happened
        self._room = asyncio.Event()  # the client took what was buffered
        self._finished = asyncio.Event()  # answered, or the client went away

    async def run(self) -> None:
        try:
            await self._app(self._scope, self._receive, self._send)
        except Exception as exc:
            self.error = exc
        finally:
            self.returned = True
            self._finished.set()
            self._changed.set()

    async def _receive(self) -> Message:
        body = self._body
        if isinstance(body, bytes):
            self._body = None
            return {"type": "http.request", "body": body, "more_body": False}
        if body is not None:
            return await self._receive_streamed(body)
        # Only after the answer is complete does the "client" go away; answering
        # http.disconnect earlier would make streaming responses stop themselves.
        await self._finished.wait()
        return {"type": "http.disconnect"}

    async def _receive_streamed(self, body: StreamedBody) -> Message:
        self._in_receive = True
        try:
            piece, more = await body.read()
        except Exception as exc:  # the client went away, or sent too much: a disconnect
            self.body_error, self._body = exc, None
            self._finished.set()
            return {"type": "http.disconnect"}
        finally:
            self._in_receive = False
            self._changed.set()
        if not more:
            self._body = None
        return {"type": "http.request", "body": piece, "more_body": more}

    async def _send(self, message: Message) -> None:
        if self.aborted:
            raise OSError("the client went away")
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
            self._changed.set()
            return
        if message["type"] != "http.response.body":
            return
        chunk = message.get("body", b"")
        if chunk:
            self._chunks.append(chunk)
            self._buffered += len(chunk)
        if not message.get("more_body", False):
            self.complete = True
            self._finished.set()
        self._changed.set()
        # The last piece is never held back: the service has produced the whole answer, and
        # the gateway takes a complete answer only once the service's call has returned.
        while self._buffered > HIGH_WATER and not self.aborted and not self.complete:
            self._room.clear()
            await self._room.wait()

    async def request_taken(self, idle_timeout: float) -> None:
        """Until the service has read the whole request body (or answered, or returned).
        The service taking no more of it for ``idle_timeout`` is a timeout; the client being
        slow is not (the server's body timeout is for that)."""
        if isinstance(self._body, bytes):
            return  # a whole body is there to take
        while self._body is not None and self.status is None and not self.returned:
            self._changed.clear()
            try:
                async with asyncio.timeout(idle_timeout):
                    await self._changed.wait()
            except TimeoutError:
                if not self._in_receive:
                    raise

    async def answered(self) -> None:
        """Until the answer's head (or the service's return). A body sent right after it,
        as a plain response does, is there by the time the caller looks."""
        while not (self.status is not None or self.returned):
            self._changed.clear()
            await self._changed.wait()

    async def next_change(self, idle_timeout: float) -> None:
        self._changed.clear()
        async with asyncio.timeout(idle_timeout):
            await self._changed.wait()

    @property
    def has_chunks(self) -> bool:
        return bool(self._chunks)

    def take(self) -> bytes:
        chunks = self._chunks
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered = 0
        self._room.set()
        return data

    def abort(self) -> None:
        self.aborted = True
        self._finished.set()
        self._room.set()


class _AsgiBody:
    """The rest of an in-process answer, as the service sends it."""

    def __init__(
        self, name: str, call: _AsgiCall, task: asyncio.Task[None], idle_timeout: float
    ) -> None:
        self._name = name
        self._call = call
        self._task = task
        self.idle_timeout = idle_timeout

    async def read(self) -> bytes:
        call = self._call
        while not call.has_chunks:
            if call.complete:
                await self._service_returns()
                return b""
            if call.returned or call.aborted:
                if call.error is not None:
                    log.error("embedded_service_failed", upstream=self._name,
                              exc_info=call.error)
                reason = "aborted" if call.aborted else "failed"
                raise UpstreamBodyBroken(self._name, reason, self._why())
            try:
                await call.next_change(self.idle_timeout)
            except TimeoutError:
                self.abort()
                raise UpstreamBodyBroken(
                    self._name, "stalled", f"no byte for {self.idle_timeout:g} s"
                ) from None
        return call.take()

    def _why(self) -> str:
        error = self._call.error
        return f"the service failed mid-answer ({error!r})" if error else "the answer ended early"

    async def _service_returns(self) -> None:
        """As on the buffered path, the call ends when the service's does (its background
        tasks included), but a complete answer is never held back for long."""
        done, _ = await asyncio.wait({self._task}, timeout=self.idle_timeout)
        if not done:
            self._task.cancel()

    def abort(self) -> None:
        if not self._task.done():
            self._call.abort()
            self._task.cancel()

    async def aclose(self) -> None:
        if not self._task.done():
            self.abort()
            # Let the cancelled handler unwind (its database connection goes back).
            await asyncio.wait({self._task}, timeout=1.0)


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
        "client": (forwarded_client(headers), 0),
        "server": (server, 80),
        "state": {},
    }
