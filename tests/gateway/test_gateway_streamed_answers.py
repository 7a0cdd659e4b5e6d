"""Answers stream through the gateway as the service sends them, over a real socket: from a
service over HTTP and from one in-process (embedded mode); a service that dies or stalls
mid-answer cuts the client off without poisoning the pool; a client that leaves mid-answer
stops the service's side."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from gateway import AsgiUpstream
from gateway.upstreams import HIGH_WATER
from shared.auth import TokenVerifier
from tests.gateway.streaming_setup import (
    RawService,
    answer_head,
    gateway_on_socket,
    metric_value,
    path_of,
    small_json,
)

MB = 1024 * 1024
FAILURES = "gateway_upstream_body_failures_total"


async def _cut_off_after(head: bytes, writer: asyncio.StreamWriter, framing: str) -> bool:
    """A service that promises a megabyte, sends 300 KB, and hangs up."""
    if path_of(head) != b"/api/v1/events/export":
        return await small_json(head, writer)
    if framing == "length":
        writer.write(answer_head(content_type="text/csv", content_length=MB) + b"x" * 300_000)
    else:
        writer.write(answer_head(content_type="text/csv", transfer_encoding="chunked"))
        writer.write(b"%x\r\n%b\r\n" % (300_000, b"x" * 300_000))
    await writer.drain()
    return False


@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_a_service_that_hangs_up_mid_export_cuts_the_download_off(
    verifier: TokenVerifier, auth: dict[str, str], framing: str
) -> None:
    async def script(head: bytes, writer: asyncio.StreamWriter) -> bool:
        return await _cut_off_after(head, writer, framing)

    async with (
        RawService(script) as service,
        gateway_on_socket({"events": service.upstream()}, verifier) as (url, _),
        httpx.AsyncClient(base_url=url, timeout=5) as client,
    ):
        received = 0
        with pytest.raises(httpx.RemoteProtocolError):
            async with client.stream("GET", "/api/v1/events/export", headers=auth) as response:
                assert response.status_code == 200
                async for chunk in response.aiter_raw():
                    received += len(chunk)
        # The same upstream (one pooled connection) answers the next request.
        after = await client.get("/api/v1/events/next", headers=auth)
        metrics = (await client.get("/metrics")).text
    assert 0 < received <= 300_000
    assert (after.status_code, after.json()) == (200, {"ok": True})
    assert metric_value(metrics, FAILURES, upstream="events", reason="closed") == 1


async def test_a_service_that_stalls_mid_body_is_cut_off_after_the_idle_timeout(
    verifier: TokenVerifier, auth: dict[str, str]
) -> None:
    async def stalls(head: bytes, writer: asyncio.StreamWriter) -> bool:
        if path_of(head) != b"/api/v1/events/video":
            return await small_json(head, writer)
        writer.write(answer_head(content_type="video/mp4", content_length=MB) + b"v" * 1000)
        await writer.drain()
        return True  # never sends the rest: waits for a next request, or the gateway's close

    async with (
        RawService(stalls) as service,
        gateway_on_socket({"events": service.upstream(idle_timeout=0.3)}, verifier) as (url, _),
        httpx.AsyncClient(base_url=url, timeout=5) as client,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            async with client.stream("GET", "/api/v1/events/video", headers=auth) as response:
                async for _ in response.aiter_raw():
                    pass
        async with asyncio.timeout(2):
            await service.closed.wait()  # the gateway closed the stalled connection
        after = await client.get("/api/v1/events/next", headers=auth)
        metrics = (await client.get("/metrics")).text
    assert after.status_code == 200
    assert metric_value(metrics, FAILURES, upstream="events", reason="stalled") == 1


async def test_a_client_that_leaves_mid_download_closes_the_service_connection(
    verifier: TokenVerifier, auth: dict[str, str]
) -> None:
    written = 0

    async def endless_video(head: bytes, writer: asyncio.StreamWriter) -> bool:
        nonlocal written
        if path_of(head) != b"/api/v1/events/video":
            return await small_json(head, writer)
        writer.write(answer_head(content_type="video/mp4", content_length=1000 * MB))
        while written < 1000 * MB:
            writer.write(b"v" * 65536)
            await writer.drain()  # raises once the gateway has closed the connection
            written += 65536
        return True

    async with (
        RawService(endless_video) as service,
        gateway_on_socket({"events": service.upstream()}, verifier) as (url, _),
    ):
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /api/v1/events/video HTTP/1.1\r\nHost: gateway.test\r\n"
                     + f"Authorization: {auth['Authorization']}\r\n\r\n".encode())
        await reader.readexactly(100_000)  # the head and the first bytes of the video
        writer.close()
        async with asyncio.timeout(3):
            await service.closed.wait()
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            after = await client.get("/api/v1/events/next", headers=auth)
    assert written < 100 * MB  # the service stopped long before the end
    assert after.status_code == 200


async def test_the_first_bytes_reach_the_client_before_the_service_sends_the_last(
    verifier: TokenVerifier, auth: dict[str, str]
) -> None:
    release = asyncio.Event()

    async def trickles(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer_head(content_type="text/csv", transfer_encoding="chunked"))
        writer.write(b"a\r\nid,status\n\r\n")
        await writer.drain()
        await release.wait()
        writer.write(b"9\r\n1,closed\n\r\n0\r\n\r\n")
        await writer.drain()
        return True

    async with (
        RawService(trickles) as service,
        gateway_on_socket({"events": service.upstream()}, verifier) as (url, _),
        httpx.AsyncClient(base_url=url, timeout=5) as client,
        client.stream("GET", "/api/v1/events/export.csv", headers=auth) as response,
    ):
        chunks = response.aiter_raw()
        async with asyncio.timeout(3):
            first = await anext(chunks)
        release.set()
        rest = b"".join([chunk async for chunk in chunks])
    assert first == b"id,status\n"
    assert rest == b"1,closed\n"
    assert "content-length" not in response.headers  # passed on chunked, as it came


@pytest.mark.parametrize("trickled", [False, True], ids=["whole", "trickled"])
async def test_a_range_answer_passes_through_untouched(
    verifier: TokenVerifier, auth: dict[str, str], trickled: bool
) -> None:
    video = bytes(range(256)) * 4

    async def ranged(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer_head(
            "206 Partial Content", content_type="video/mp4", content_length=1024,
            content_range="bytes 0-1023/52428800", accept_ranges="bytes", etag='"v1"',
        ))
        if trickled:  # the body comes after the head, in two parts: the streamed path
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(video[:500])
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(video[500:])
        else:
            writer.write(video)
        await writer.drain()
        return True

    async with (
        RawService(ranged) as service,
        gateway_on_socket({"events": service.upstream()}, verifier) as (url, _),
        httpx.AsyncClient(base_url=url, timeout=5) as client,
    ):
        response = await client.get(
            "/api/v1/events/attachments/a", headers={**auth, "Range": "bytes=0-1023"}
        )
    assert response.status_code == 206
    assert response.headers["content-range"] == "bytes 0-1023/52428800"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"] == '"v1"'
    assert response.headers["content-length"] == "1024"
    assert response.content == video
    assert b"range: bytes=0-1023" in service.requests[0].lower()


# -- embedded mode (AsgiUpstream) ----------------------------------------------------------


class SlowExport:
    """An in-process service that sends an export's first line, then its last once
    ``release`` is set; ``ended`` says how its handler ended."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.ended: list[str] = []
        self.done = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/csv")]})
            await send({"type": "http.response.body", "body": b"id,status\n",
                        "more_body": True})
            await self.release.wait()
            await send({"type": "http.response.body", "body": b"1,closed\n"})
            self.ended.append("completed")
        except BaseException as exc:
            self.ended.append(type(exc).__name__)
            raise
        finally:
            self.done.set()


async def test_an_embedded_service_streams_its_answer_chunk_by_chunk(
    verifier: TokenVerifier, auth: dict[str, str]
) -> None:
    service = SlowExport()
    upstream = AsgiUpstream("events", service, timeout=1.0)
    async with (
        gateway_on_socket({"events": upstream}, verifier) as (url, _),
        httpx.AsyncClient(base_url=url, timeout=5) as client,
        client.stream("GET", "/api/v1/events/export.csv", headers=auth) as response,
    ):
        chunks = response.aiter_raw()
        async with asyncio.timeout(3):
            first = await anext(chunks)
        assert service.ended == []  # the service has not produced its last chunk yet
        service.release.set()
        rest = b"".join([chunk async for chunk in chunks])
    assert (first, rest) == (b"id,status\n", b"1,closed\n")
    assert service.ended == ["completed"]


async def test_an_embedded_answer_larger_than_the_buffer_in_one_piece_arrives_whole(
    verifier: TokenVerifier, auth: dict[str, str]
) -> None:
    # A plain JSON response sends its whole body in one message: the service has finished,
    # so nothing is gained by making it wait for the client (and waiting deadlocked).
    body = b"[" + b",".join(b'{"id": %d}' % n for n in range(100_000)) + b"]"
    assert len(body) > 4 * HIGH_WATER

    async def one_piece(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    upstream = AsgiUpstream("events", one_piece, timeout=1.0)
    async with (
        gateway_on_socket({"events": upstream}, verifier) as (url, _),
        httpx.AsyncClient(base_url=url, timeout=5) as client,
    ):
        response = await client.get("/api/v1/events/points", headers=auth)
    assert response.status_code == 200
    assert response.content == body


async def test_an_embedded_service_is_stopped_when_the_client_leaves(
    verifier: TokenVerifier, auth: dict[str, str]
) -> None:
    service = SlowExport()
    # A head timeout far beyond the wait below: only the client's leaving can stop it.
    upstream = AsgiUpstream("events", service, timeout=30.0)
    async with gateway_on_socket({"events": upstream}, verifier) as (url, _):
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /api/v1/events/export.csv HTTP/1.1\r\nHost: gateway.test\r\n"
                     + f"Authorization: {auth['Authorization']}\r\n\r\n".encode())
        async with asyncio.timeout(3):
            await reader.readuntil(b"id,status\n")
        writer.close()
        async with asyncio.timeout(3):
            await service.done.wait()
    assert service.ended == ["CancelledError"]


async def test_an_embedded_service_that_fails_mid_answer_cuts_the_client_off(
    verifier: TokenVerifier, auth: dict[str, str]
) -> None:
    async def fails(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/csv"), (b"content-length", b"1000")]})
        await send({"type": "http.response.body", "body": b"id,status\n", "more_body": True})
        await asyncio.sleep(0.05)
        raise RuntimeError("the database went away")

    upstream = AsgiUpstream("events", fails, timeout=1.0)
    async with (
        gateway_on_socket({"events": upstream}, verifier) as (url, _),
        httpx.AsyncClient(base_url=url, timeout=5) as client,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            async with client.stream("GET", "/api/v1/events/export.csv", headers=auth) as r:
                async for _ in r.aiter_raw():
                    pass
        metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, FAILURES, upstream="events", reason="failed") == 1


# -- an answer whose head comes at once and whose body takes longer than the head timeout ---
# (an XLSX export: the workbook is written whole before its first byte goes out)


async def test_an_export_whose_first_byte_comes_after_the_head_timeout_arrives(
    verifier: TokenVerifier, auth: dict[str, str]
) -> None:
    async def workbook_later(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/vnd.ms-excel")]})
        await asyncio.sleep(0.6)  # beyond the 0.2 s head timeout, within the idle one
        await send({"type": "http.response.body", "body": b"PK\x03\x04 workbook"})

    async def workbook_over_http(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer_head(content_type="application/vnd.ms-excel", content_length=13))
        await writer.drain()
        await asyncio.sleep(0.6)
        writer.write(b"PK\x03\x04 workbook")
        await writer.drain()
        return True

    async with RawService(workbook_over_http) as service:
        for upstream in (
            AsgiUpstream("events", workbook_later, timeout=0.2, idle_timeout=2.0),
            service.upstream(timeout=0.2, idle_timeout=2.0),
        ):
            async with (
                gateway_on_socket({"events": upstream}, verifier) as (url, _),
                httpx.AsyncClient(base_url=url, timeout=5) as client,
            ):
                response = await client.get("/api/v1/events/export.xlsx", headers=auth)
            assert response.status_code == 200, (upstream, response.text)
            assert response.content == b"PK\x03\x04 workbook"


async def test_a_client_that_stops_reading_is_let_go_after_the_idle_timeout(
    verifier: TokenVerifier, auth: dict[str, str]
) -> None:
    async def endless_video(head: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer_head(content_type="video/mp4", content_length=1000 * MB))
        for _ in range(16000):
            writer.write(b"v" * 65536)
            await writer.drain()  # raises once the gateway has closed the connection
        return True

    async with (
        RawService(endless_video) as service,
        gateway_on_socket({"events": service.upstream(idle_timeout=0.3)}, verifier) as (url, _),
    ):
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /api/v1/events/video HTTP/1.1\r\nHost: gateway.test\r\n"
                     + f"Authorization: {auth['Authorization']}\r\n\r\n".encode())
        await reader.readuntil(b"\r\n\r\n")  # then reads nothing more: a paused player
        try:
            async with asyncio.timeout(5):
                await service.closed.wait()  # the gateway let go of the service's side
        finally:
            writer.close()
