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
from dataclasses import dataclass
from typing import Protocol, cast

import httptools

from gateway.errors import UpstreamBadResponse, UpstreamBodyBroken, UpstreamUnavailable

Headers = list[tuple[bytes, bytes]]

# Repeating one of these on a fresh connection cannot do anything twice that matters.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_BODY_EXPECTED = frozenset({"POST", "PUT", "PATCH"})
# Unread answer bytes held per connection before reading from the service pauses: a slow
# client slows the service's sending instead of filling the gateway's memory.
HIGH_WATER = 256 * 1024


class StreamedBody(Protocol):
    """A request body that is passed on as it arrives, not read whole first."""

    # The declared Content-Length, or None (sent on chunked).
    length: int | None

    async def read(self) -> tuple[bytes, bool]:
        """The next piece and whether more follows. Raises whatever ended the client's
        side (gone, over the limit): the exchange is then abandoned."""
        ...


@dataclass(slots=True)
class Answer:
    status: int
    headers: Headers
    body: bytes  # the whole body, when ``rest`` is None
    rest: PooledBody | None = None  # the body, when it was still arriving with the head


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
        self._head: asyncio.Future[None] | None = None
        self._waiter: asyncio.Future[None] | None = None  # body bytes, or room to write
        self._headers: Headers = []
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._status = 0
        self._error: Exception | None = None
        self._received_any = False
        self._headers_done = False
        self._message_done = False
        self._head_request = False
        self._reusable = True
        self._reading_paused = False
        self._writing_paused = False
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
            return
        # Only now, after the whole read is parsed, is the head reported: an answer whose
        # body came in the same read is then known to be complete (the fast path).
        if self._headers_done and self._head is not None and not self._head.done():
            self._head.set_result(None)
            self._wake()  # a writer waiting for room stops: the service has answered

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self._message_done:
            self._fail(_ConnectionLost(answered_nothing=not self._received_any))
        self._wake()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake()

    # -- httptools callbacks ----------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._headers, self._headers_done = [], False

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
            self._message_done = True

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._reading_paused and self._transport:
            self._reading_paused = True
            self._transport.pause_reading()
        if self._waiter is not None:  # checked here: the hot path has no one waiting
            self._wake()

    def on_message_complete(self) -> None:
        self._message_done = True
        if self._waiter is not None:
            self._wake()

    # -- use ----------------------------------------------------------------------------------
    def _fail(self, error: Exception) -> None:
        if self._error is None:
            self._error = error
        if self._head is not None and not self._head.done():
            self._head.set_exception(error)
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    @property
    def reusable(self) -> bool:
        return self._reusable and not self.closed and self._message_done

    def begin(self, *, head: bool) -> None:
        """Ready for the next exchange."""
        self._head = self._loop.create_future()
        self._chunks.clear()
        self._buffered = 0
        self._error = None
        self._received_any = self._headers_done = self._message_done = False
        self._head_request = head

    def write(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.write(data)

    async def write_streamed(self, body: StreamedBody, idle_timeout: float) -> None:
        """Send ``body`` as it arrives, Content-Length framed or chunked. Stops early when the
        service answers or hangs up before taking all of it."""
        chunked = body.length is None
        more = True
        while more:
            piece, more = await body.read()
            if self._head_arrived() or self.closed:
                self._reusable = False  # the rest of the body never went out
                return
            if piece:
                self.write(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
            while self._writing_paused and not self.closed and not self._head_arrived():
                await self._wait(idle_timeout)
        if chunked:
            self.write(b"0\r\n\r\n")

    def _head_arrived(self) -> bool:
        return self._head is not None and self._head.done()

    @property
    def head(self) -> asyncio.Future[None]:
        """Done when the answer's head is in (with whatever of the body came along)."""
        assert self._head is not None
        return self._head

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> Headers:
        return self._headers

    @property
    def body_complete(self) -> bool:
        return self._message_done and self._error is None

    def take_body(self) -> bytes:
        """Everything received of the body so far (all of it, once ``body_complete``)."""
        chunks = self._chunks
        if not chunks:
            return b""
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered = 0
        if self._reading_paused and self._transport is not None and not self.closed:
            self._reading_paused = False
            self._transport.resume_reading()
        return data

    async def next_chunk(self, idle_timeout: float) -> bytes:
        """The body's next bytes (b"" at its end). Raises what broke it off."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._message_done:
                return b""
            await self._wait(idle_timeout)
        return self.take_body()

    async def _wait(self, idle_timeout: float) -> None:
        self._waiter = self._loop.create_future()
        try:
            async with asyncio.timeout(idle_timeout):
                await self._waiter
        finally:
            self._waiter = None

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()


class PooledBody:
    """The rest of an answer's body, read from its connection as the caller takes it. It
    holds the connection and its pool slot until the body has been read to its end (then the
    connection goes back to the pool) or ``aclose`` is called (an unfinished body: the
    connection is closed, never reused mid-message)."""

    def __init__(
        self,
        pool: ConnectionPool,
        connection: _Connection,
        first: bytes,
        idle_timeout: float,
    ) -> None:
        self._pool = pool
        self._connection: _Connection | None = connection
        self._first = first
        self.idle_timeout = idle_timeout

    async def read(self) -> bytes:
        """The next bytes, b"" at the end. Raises ``UpstreamBodyBroken`` when the service
        hangs up, stalls for ``idle_timeout`` or sends garbage, or after ``aclose``."""
        if self._first:
            first, self._first = self._first, b""
            return first
        connection = self._connection
        if connection is None:
            raise UpstreamBodyBroken(self._pool.name, "aborted", "the body was closed")
        try:
            chunk = await connection.next_chunk(self.idle_timeout)
        except TimeoutError:
            self.abort()
            raise UpstreamBodyBroken(
                self._pool.name, "stalled", f"no byte for {self.idle_timeout:g} s"
            ) from None
        except (_ConnectionLost, UpstreamBadResponse) as exc:
            self.abort()
            reason = "closed" if isinstance(exc, _ConnectionLost) else "malformed"
            raise UpstreamBodyBroken(self._pool.name, reason, str(exc)) from None
        if not chunk:
            self._release()
        return chunk

    def abort(self) -> None:
        """Stop reading: the connection is closed (the service sees the client go away)."""
        if self._connection is not None:
            self._connection.close()
            self._release()

    async def aclose(self) -> None:
        self.abort()

    def _release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool.give_back(connection)


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
