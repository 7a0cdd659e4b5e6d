"""The gateway's own HTTP/1.1 client (gateway/wire/) against raw stand-in services that
misbehave in the ways real ones do: keep-alive connections closed under it, chunked answers,
HEAD answers, garbage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from gateway.errors import UpstreamBadResponse, UpstreamUnavailable
from gateway.upstreams import HttpUpstream

# (request head, its number on its connection) -> the answer, or None to hang up unanswered.
Answer = Callable[[bytes, int], Awaitable[bytes | None]]


@asynccontextmanager
async def raw_service(
    answer: Answer, *, close_after_answer: bool = False
) -> AsyncIterator[tuple[HttpUpstream, list[bytes]]]:
    """A service that answers each request with ``answer(head, n)``; with
    ``close_after_answer`` it closes every connection after one answer, without saying so
    (as a service whose keep-alive timer just ran out does)."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.lower().split(b"\r\n")
                        if line.startswith(b"content-length:")
                    ),
                    0,
                )
                seen.append(head + await reader.readexactly(length))
                reply = await answer(head, number)
                number += 1
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
                if close_after_answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    upstream = HttpUpstream("events", f"http://127.0.0.1:{port}", timeout=2.0)
    await upstream.start()
    try:
        yield upstream, seen
    finally:
        await upstream.close()
        server.close()
        await server.wait_closed()


def ok(body: bytes = b'{"ok":true}') -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )


async def _ok(_: bytes, __: int) -> bytes:
    return ok()


async def test_a_keep_alive_connection_is_reused_for_the_next_request() -> None:
    async with raw_service(_ok) as (upstream, seen):
        for _ in range(3):
            answer = await upstream.send("GET", "/api/v1/events/x", [], b"")
            assert answer.status == 200
    assert len(seen) == 3


async def test_a_pooled_connection_the_service_closed_is_not_used() -> None:
    async with raw_service(_ok, close_after_answer=True) as (upstream, seen):
        first = await upstream.send("POST", "/api/v1/events", [], b"{}")
        await asyncio.sleep(0.05)  # the service has closed the pooled connection by now
        second = await upstream.send("POST", "/api/v1/events", [], b"{}")
    assert (first.status, second.status) == (200, 200)
    assert len(seen) == 2


async def _hang_up_on_the_second_request(_: bytes, number: int) -> bytes | None:
    """A keep-alive connection that dies just as the next request arrives."""
    return ok() if number == 0 else None


async def test_a_get_that_dies_unanswered_on_a_reused_connection_is_sent_again() -> None:
    async with raw_service(_hang_up_on_the_second_request) as (upstream, seen):
        await upstream.send("GET", "/api/v1/events/a", [], b"")
        again = await upstream.send("GET", "/api/v1/events/b", [], b"")
    assert again.status == 200
    # b: once on the connection that died, once more on a fresh one
    assert [s.split(b" ")[1] for s in seen] == [b"/api/v1/events/a", *[b"/api/v1/events/b"] * 2]


async def test_a_post_that_dies_unanswered_is_never_sent_twice() -> None:
    async with raw_service(_hang_up_on_the_second_request) as (upstream, seen):
        await upstream.send("POST", "/api/v1/events", [], b"{}")
        with pytest.raises(UpstreamUnavailable):
            await upstream.send("POST", "/api/v1/events", [], b'{"n":2}')
    assert len(seen) == 2  # the second report reached the service once, and was not resent


async def test_a_chunked_answer_arrives_whole() -> None:
    async def chunked(_: bytes, __: int) -> bytes:
        return (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )

    async with raw_service(chunked) as (upstream, _):
        answer = await upstream.send("GET", "/api/v1/events/x", [], b"")
        again = await upstream.send("GET", "/api/v1/events/x", [], b"")
    assert answer.body == again.body == b"hello world"


async def test_a_head_answer_ends_at_its_headers() -> None:
    async def head(_: bytes, __: int) -> bytes:
        return b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n"

    async with raw_service(head) as (upstream, _):
        answer = await asyncio.wait_for(upstream.send("HEAD", "/api/v1/events/x", [], b""), 1)
    assert (answer.status, answer.body) == (200, b"")
    assert (b"content-length", b"1234") in answer.headers


async def test_garbage_from_the_service_is_a_bad_response() -> None:
    async def garbage(_: bytes, __: int) -> bytes:
        return b"SMTP ready\r\n\r\n"

    async with raw_service(garbage) as (upstream, _):
        with pytest.raises(UpstreamBadResponse):
            await upstream.send("GET", "/api/v1/events/x", [], b"")


async def test_a_service_that_hangs_up_without_answering_is_unavailable() -> None:
    async def hang_up(_: bytes, __: int) -> None:
        return None

    async with raw_service(hang_up) as (upstream, _):
        with pytest.raises(UpstreamUnavailable):
            await upstream.send("POST", "/api/v1/events", [], b"{}")


async def test_the_request_goes_out_as_given_with_host_and_length() -> None:
    async with raw_service(_ok) as (upstream, seen):
        await upstream.send(
            "POST", "/api/v1/events/a%2Fb?x=1", [(b"x-request-id", b"r1")], b'{"a":1}'
        )
    head, _, body = seen[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /api/v1/events/a%2Fb?x=1 HTTP/1.1"
    assert b"x-request-id: r1" in lines
    assert b"content-length: 7" in lines
    assert any(line.startswith(b"host: 127.0.0.1:") for line in lines)
    assert body == b'{"a":1}'
