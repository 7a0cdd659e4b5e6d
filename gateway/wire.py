"""A lean HTTP/1.1 client for the gateway's hop to a service: keep-alive connections to one
host, one request at a time on each, responses buffered whole.

The gateway spends most of its CPU per request on three things: the token check, the server
side (uvicorn) and this hop. aiohttp's client, general purpose, cost ~170 µs a request here;
this one writes the request in one buffer and parses the answer with httptools (the parser
uvicorn uses), for a fraction of that. What it does not do, because a service behind the
gateway never needs it: TLS, redirects, cookies, proxies, 1xx answers, compression.

Failures are reported as the ``UpstreamError`` kinds the proxy maps to 502/503/504.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import cast

import httptools

from gateway.errors import UpstreamBadResponse, UpstreamUnavailable

Headers = list[tuple[bytes, bytes]]

# Repeating one of these on a fresh connection cannot do anything twice that matters.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_BODY_EXPECTED = frozenset({"POST", "PUT", "PATCH"})


class _ConnectionLost(Exception):
    """The service closed the connection before a whole answer came back."""

    def __init__(self, answered_nothing: bool) -> None:
        super().__init__("connection closed before the answer was complete")
        self.answered_nothing = answered_nothing


class _Connection(asyncio.Protocol):
    """One keep-alive connection; the pool hands it to one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[tuple[int, Headers, bytes]] | None = None
        self._headers: Headers = []
        self._body: list[bytes] = []
        self._status = 0
        self._received_any = False
        self._headers_done = False
        self._head_request = False
        self._reusable = True
        self.closed = False
        self.idle_since = time.monotonic()

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # loop.create_connection hands a protocol a stream (read/write) transport.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._received_any = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamBadResponse("-", f"malformed answer ({exc})"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(_ConnectionLost(answered_nothing=not self._received_any))

    # -- httptools callbacks ----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._headers, self._body, self._headers_done = [], [], False

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        self._headers_done = True
        self._reusable = self._parser.should_keep_alive()
        if self._head_request:
            # The parser cannot know a HEAD answer has no body; take the head, and never
            # reuse a connection whose parser state we cut short.
            self._reusable = False
            self._complete()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if not self._head_request:
            self._complete()

    # -- use ----------------------------------------------------------------------------------
    def _complete(self) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result((self._status, self._headers, b"".join(self._body)))

    def _fail(self, error: Exception) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)

    @property
    def reusable(self) -> bool:
        return self._reusable and not self.closed

    async def exchange(self, request: bytes, *, head: bool) -> tuple[int, Headers, bytes]:
        assert self._transport is not None
        self._answer = self._loop.create_future()
        self._received_any = False
        self._head_request = head
        self._transport.write(request)
        try:
            return await self._answer
        finally:
            self._answer = None
            self.idle_since = time.monotonic()

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


class ConnectionPool:
    """Keep-alive connections to one ``host:port``, at most ``size`` open at once."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        *,
        size: int,
        connect_timeout: float,
        keepalive_seconds: float,
    ) -> None:
        self._name = name
        self._host, self._port = host, port
        self._host_header = f"{host}:{port}".encode()
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(size)
        self._connect_timeout = connect_timeout
        self._keepalive = keepalive_seconds
        self._closed = False

    async def request(
        self, method: str, target: str, headers: Headers, body: bytes
    ) -> tuple[int, Headers, bytes]:
        """Send one request and return (status, headers, body). Raises UpstreamError kinds;
        a timeout is the caller's (``asyncio.timeout`` around this call)."""
        if self._closed:
            raise UpstreamUnavailable(self._name, "the gateway has not started this upstream")
        wire = self._encode(method, target, headers, body)
        async with self._slots:
            connection, reused = self._idle_connection(), True
            if connection is None:
                connection, reused = await self._connect(), False
            try:
                answer = await connection.exchange(wire, head=method == "HEAD")
            except _ConnectionLost as lost:
                connection.close()
                # A pooled connection the service had just closed (its keep-alive ended):
                # nothing reached it, so an idempotent request is safe to send again.
                if not (reused and lost.answered_nothing and method in IDEMPOTENT):
                    raise UpstreamUnavailable(
                        self._name, "the service closed the connection mid-answer"
                    ) from None
                connection = await self._connect()
                try:
                    answer = await connection.exchange(wire, head=method == "HEAD")
                except _ConnectionLost:
                    connection.close()
                    raise UpstreamUnavailable(
                        self._name, "the service closed the connection mid-answer"
                    ) from None
            except BaseException:
                connection.close()  # cancelled or timed out mid-exchange: state unknown
                raise
            if connection.reusable and not self._closed:
                self._idle.append(connection)
            else:
                connection.close()
            return answer

    def _idle_connection(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()  # the most recently used: the least likely stale
            if connection.closed:
                continue
            if now - connection.idle_since > self._keepalive:
                connection.close()
                continue
            return connection
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(lambda: _Connection(loop), self._host, self._port),
                self._connect_timeout,
            )
        except TimeoutError:
            raise UpstreamUnavailable(self._name, "connecting to the service timed out") from None
        except OSError as exc:
            raise UpstreamUnavailable(self._name, f"cannot reach the service ({exc})") from None
        return connection

    def _encode(self, method: str, target: str, headers: Headers, body: bytes) -> bytes:
        lines = [f"{method} {target} HTTP/1.1\r\n".encode("latin-1"), b"host: ", self._host_header]
        for name, value in headers:
            lines += (b"\r\n", name, b": ", value)
        if body or method in _BODY_EXPECTED:
            lines += (b"\r\ncontent-length: ", str(len(body)).encode())
        lines += (b"\r\n\r\n", body)
        return b"".join(lines)

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()
