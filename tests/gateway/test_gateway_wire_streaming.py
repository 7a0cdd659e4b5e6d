"""The gateway's HTTP/1.1 client (gateway/wire/) streaming: answers read as the caller
takes them, with the service held back while the caller does not; connections back in the
pool only after a body was read to its end; uploads sent as they arrive, on fresh
connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from gateway.upstreams import HttpUpstream

MB = 1024 * 1024


@dataclass
class Seen:
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)  # raw bytes of each request
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    written: int = 0  # bytes of big answers written so far


@asynccontextmanager
async def big_answers(size: int) -> AsyncIterator[tuple[HttpUpstream, Seen]]:
    """A service answering a GET with ``size`` bytes (Content-Length; 10 when its path says
    ``small``) and a POST by reading its body to the end (Content-Length or chunked) and
    answering 201."""
    seen = Seen()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if head.startswith(b"POST"):
                    seen.requests.append(head + await _read_body(reader, head))
                    writer.write(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n")
                    continue
                seen.requests.append(head)
                length = 10 if b"small" in head.split(b"\r\n")[0] else size
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % length)
                for start in range(0, length, 65536):
                    piece = min(65536, length - start)
                    writer.write(b"v" * piece)
                    await writer.drain()
                    seen.written += piece
        except (asyncio.IncompleteReadError, ConnectionError):
            seen.closed.set()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    upstream = HttpUpstream("events", f"http://127.0.0.1:{port}", timeout=2.0, pool_size=1,
                            idle_timeout=2.0)
    await upstream.start()
    try:
        yield upstream, seen
    finally:
        await upstream.close()
        server.close()
        await server.wait_closed()


async def _read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    if b"transfer-encoding: chunked" in head:
        return await reader.readuntil(b"0\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.startswith(b"content-length:"))
    return await reader.readexactly(length)


@dataclass
class Upload:
    pieces: list[bytes]
    length: int | None = None

    async def read(self) -> tuple[bytes, bool]:
        piece = self.pieces.pop(0)
        return piece, bool(self.pieces)


async def test_a_small_answer_comes_back_whole_without_a_stream() -> None:
    async with big_answers(1000) as (upstream, _):
        answer = await upstream.stream("GET", "/api/v1/events/x", [], b"")
    assert (answer.body, answer.rest) == (b"v" * 1000, None)


async def test_a_large_answer_read_to_its_end_leaves_its_connection_in_the_pool() -> None:
    async with big_answers(4 * MB) as (upstream, seen):
        answer = await upstream.stream("GET", "/api/v1/events/export.csv", [], b"")
        assert answer.rest is not None
        size = len(answer.body)
        while chunk := await answer.rest.read():
            size += len(chunk)
        again = await upstream.send("GET", "/api/v1/events/export.csv", [], b"")
    assert size == len(again.body) == 4 * MB
    assert (seen.connections, len(seen.requests)) == (1, 2)


async def test_the_service_is_held_back_while_the_body_is_not_read() -> None:
    async with big_answers(200 * MB) as (upstream, seen):
        answer = await upstream.stream("GET", "/api/v1/events/video", [], b"")
        await asyncio.sleep(0.5)  # the caller takes nothing meanwhile
        held_back_at = seen.written
        assert answer.rest is not None
        await answer.rest.aclose()
        async with asyncio.timeout(2):
            await seen.closed.wait()  # an unfinished body's connection is closed ...
        again = await upstream.send("GET", "/api/v1/events/x?small", [], b"")
    # Socket buffers and the read-ahead, not the 200 MB the service wanted to send.
    assert held_back_at < 16 * MB
    assert (again.status, again.body) == (200, b"v" * 10)
    assert seen.connections == 2  # ... and the pool slot is free


async def test_a_chunked_upload_goes_out_chunked_on_a_fresh_connection() -> None:
    async with big_answers(10) as (upstream, seen):
        await upstream.send("GET", "/api/v1/events/x", [], b"")  # one pooled connection
        answer = await upstream.stream(
            "POST", "/api/v1/events/attachments", [], Upload([b"hello ", b"world"])
        )
    assert answer.status == 201
    assert seen.connections == 2  # an upload could not be sent again: never a stale one
    head, _, body = seen.requests[1].partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.split(b"\r\n")
    assert body == b"6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"


async def test_an_upload_of_known_length_goes_out_with_its_content_length() -> None:
    async with big_answers(10) as (upstream, seen):
        answer = await upstream.stream(
            "POST", "/api/v1/events/attachments", [], Upload([b"hello ", b"world"], length=11)
        )
    head, _, body = seen.requests[0].partition(b"\r\n\r\n")
    assert answer.status == 201
    assert b"content-length: 11" in head.split(b"\r\n")
    assert body == b"hello world"
