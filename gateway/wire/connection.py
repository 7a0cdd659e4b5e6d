"""One keep-alive connection to a service: it writes a request in one buffer (or streams its
body), parses the answer with httptools, and hands the body on as it arrives (a PooledBody),
pausing the socket past HIGH_WATER unread bytes. Split from ``gateway.wire``, which keeps
the pool."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

import httptools

from gateway.errors import UpstreamBadResponse, UpstreamBodyBroken

if TYPE_CHECKING:  # the pool hands its connections on; no import cycle at run time
    from gateway.wire import ConnectionPool

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


