"""A lean HTTP/1.1 client for the gateway's hop to a service: keep-alive connections to one
host, one request at a time on each.

The gateway spends most of its CPU per request on three things: the token check, the server
side (uvicorn) and this hop. aiohttp's client, general purpose, cost ~170 µs a request here;
this one writes the request in one buffer and parses the answer with httptools (the parser
uvicorn uses), for a fraction of that. What it does not do, because a service behind the
gateway never needs it: TLS, redirects, cookies, proxies, 1xx answers, compression.

Bodies stream both ways. An answer comes back as its head plus, when its body had not all
arrived with the head, a ``PooledBody`` that reads the rest as the caller takes it (reading
from the service pauses past ``HIGH_WATER`` unread bytes), so a 100,000-row export or a
video never sits whole in the gateway. The usual small JSON answer arrives in one read and is
handed back whole, without a stream, as before. A request body can be a ``StreamedBody``
(uploads): it goes out piece by piece, with its Content-Length, or chunked.

Timeouts: ``timeout`` bounds the wait for an answer's head (for a streamed request, counted
once the body is out); ``idle_timeout`` bounds each wait for the service to take or give the
next bytes of a body. Failures before the head are the ``UpstreamError`` kinds the proxy maps
to 502/503/504; a body that breaks off afterwards raises ``UpstreamBodyBroken``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from gateway.errors import UpstreamUnavailable
from gateway.wire.connection import (
    _BODY_EXPECTED,
    HIGH_WATER,
    IDEMPOTENT,
    Answer,
    Headers,
    PooledBody,
    StreamedBody,
    _Connection,
    _ConnectionLost,
)

__all__ = ["HIGH_WATER", "IDEMPOTENT", "Answer", "ConnectionPool", "Headers", "PooledBody",
           "StreamedBody"]


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
        self.name = name
        self._host, self._port = host, port
        self._host_header = f"{host}:{port}".encode()
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(size)
        self._connect_timeout = connect_timeout
        self._keepalive = keepalive_seconds
        self._closed = False

    async def request(
        self,
        method: str,
        target: str,
        headers: Headers,
        body: bytes | StreamedBody,
        *,
        head_timeout: float,
        idle_timeout: float,
    ) -> Answer:
        """Send one request and return its answer (see ``Answer``). Raises UpstreamError
        kinds, or TimeoutError when the head did not come within ``head_timeout``."""
        if self._closed:
            raise UpstreamUnavailable(self.name, "the gateway has not started this upstream")
        head_only = method == "HEAD"
        async with asyncio.timeout(head_timeout) as deadline:
            await self._slots.acquire()
            try:
                if isinstance(body, bytes):
                    connection = await self._exchange(method, target, headers, body)
                else:
                    # A streamed upload takes as long as the client takes to send it; the
                    # head's timeout starts once it is out.
                    deadline.reschedule(None)
                    connection = await self._connect()
                    connection.begin(head=head_only)
                    await self._send_streamed(connection, method, target, headers, body,
                                              idle_timeout)
                    deadline.reschedule(asyncio.get_running_loop().time() + head_timeout)
                    await self._head_or_unavailable(connection)
            except BaseException:
                self._slots.release()
                raise
        return self._answer(connection, idle_timeout)

    async def _exchange(
        self, method: str, target: str, headers: Headers, body: bytes
    ) -> _Connection:
        """The request on a pooled connection (or a fresh one), its head awaited; once more on
        a fresh connection when a pooled one turns out closed before any answer (idempotent
        methods only)."""
        wire = self._encode(method, target, headers, body)
        head_only = method == "HEAD"
        connection, reused = self._idle_connection(), True
        if connection is None:
            connection, reused = await self._connect(), False
        try:
            connection.begin(head=head_only)
            connection.write(wire)
            await connection.head
            return connection
        except _ConnectionLost as lost:
            connection.close()
            # A pooled connection the service had just closed (its keep-alive ended):
            # nothing reached it, so an idempotent request is safe to send again.
            if not (reused and lost.answered_nothing and method in IDEMPOTENT):
                raise self._closed_mid_answer() from None
        except BaseException:
            connection.close()  # cancelled, timed out or refused mid-exchange: state unknown
            raise
        connection = await self._connect()
        connection.begin(head=head_only)
        connection.write(wire)
        await self._head_or_unavailable(connection)
        return connection

    async def _send_streamed(
        self,
        connection: _Connection,
        method: str,
        target: str,
        headers: Headers,
        body: StreamedBody,
        idle_timeout: float,
    ) -> None:
        try:
            connection.write(self._encode_head(method, target, headers, body.length))
            await connection.write_streamed(body, idle_timeout)
        except BaseException:
            # The service has part of a body: closing tells it the client went away, so
            # it writes nothing.
            connection.close()
            raise

    async def _head_or_unavailable(self, connection: _Connection) -> None:
        try:
            await connection.head
        except _ConnectionLost:
            connection.close()
            raise self._closed_mid_answer() from None
        except BaseException:
            connection.close()
            raise

    def _closed_mid_answer(self) -> UpstreamUnavailable:
        return UpstreamUnavailable(self.name, "the service closed the connection mid-answer")

    def _answer(self, connection: _Connection, idle_timeout: float) -> Answer:
        status, headers = connection.status, connection.headers
        if connection.body_complete:
            body = connection.take_body()
            self.give_back(connection)
            return Answer(status, headers, body)
        first = connection.take_body()
        return Answer(status, headers, b"", PooledBody(self, connection, first, idle_timeout))

    def give_back(self, connection: _Connection) -> None:
        """The end of an exchange: the connection is kept for the next request when its
        answer was read to the end on a keep-alive connection, else closed; the slot frees."""
        connection.idle_since = time.monotonic()
        if connection.reusable and not self._closed:
            self._idle.append(connection)
        else:
            connection.close()
        self._slots.release()

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
            raise UpstreamUnavailable(self.name, "connecting to the service timed out") from None
        except OSError as exc:
            raise UpstreamUnavailable(self.name, f"cannot reach the service ({exc})") from None
        return connection

    def _encode(self, method: str, target: str, headers: Headers, body: bytes) -> bytes:
        lines = [f"{method} {target} HTTP/1.1\r\n".encode("latin-1"), b"host: ", self._host_header]
        for name, value in headers:
            lines += (b"\r\n", name, b": ", value)
        if body or method in _BODY_EXPECTED:
            lines += (b"\r\ncontent-length: ", str(len(body)).encode())
        lines += (b"\r\n\r\n", body)
        return b"".join(lines)

    def _encode_head(
        self, method: str, target: str, headers: Headers, length: int | None
    ) -> bytes:
        if length is None:
            framing = b"transfer-encoding: chunked"
        else:
            framing = b"content-length: %d" % length
        lines = [f"{method} {target} HTTP/1.1\r\n".encode("latin-1"), b"host: ", self._host_header]
        for name, value in headers:
            lines += (b"\r\n", name, b": ", value)
        lines += (b"\r\n", framing, b"\r\n\r\n")
        return b"".join(lines)

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()
