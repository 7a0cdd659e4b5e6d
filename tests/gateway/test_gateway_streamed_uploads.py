"""Uploads stream through the gateway to the service under their own, larger limit, in
both modes (service over HTTP, service in-process); past the limit the client gets 413 and
the service stores nothing; every other body keeps the small limit; the slow-body
protection still cuts a stalled upload off."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from gateway import AsgiUpstream, HttpUpstream, Upstream
from shared.auth import TokenVerifier
from shared.testing.live_server import serving
from tests.gateway.gateway_assertions import assert_problem
from tests.gateway.streaming_setup import gateway_on_socket

UPLOAD = "/api/v1/events/attachments"
MAX_BODY = 1024  # every other body
UPLOAD_MAX = 256 * 1024
LIMITS = {"max_body_bytes": MAX_BODY, "upload_max_body_bytes": UPLOAD_MAX}


@dataclass
class Storage:
    """What the stand-in events service did with the uploads that reached it."""

    stored: list[int] = field(default_factory=list)  # sizes of uploads read to their end
    broken_off: asyncio.Event = field(default_factory=asyncio.Event)  # a client went away
    first_piece: asyncio.Event = field(default_factory=asyncio.Event)


def upload_service(storage: Storage) -> FastAPI:
    app = FastAPI()

    @app.post(UPLOAD)
    async def upload(request: Request) -> JSONResponse:
        size = 0
        try:
            async for piece in request.stream():
                size += len(piece)
                if piece:
                    storage.first_piece.set()
                if request.headers.get("x-refuse-after-first-piece"):
                    return JSONResponse({"code": "attachment_type_not_allowed"}, 415)
        except ClientDisconnect:
            storage.broken_off.set()
            raise
        storage.stored.append(size)
        return JSONResponse({"size": size}, 201)

    @app.post(UPLOAD + "/{anything}")
    async def elsewhere(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    return app


@asynccontextmanager
async def events_upstream(mode: str, storage: Storage) -> AsyncIterator[Upstream]:
    app = upload_service(storage)
    if mode == "asgi":
        yield AsgiUpstream("events", app, timeout=2.0)
        return
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(serving(app))
        yield HttpUpstream("events", url, timeout=2.0)


@pytest.fixture(params=["asgi", "http"])
async def uploads(
    request: pytest.FixtureRequest, verifier: TokenVerifier
) -> AsyncIterator[tuple[httpx.AsyncClient, Storage, str]]:
    storage = Storage()
    async with (
        events_upstream(request.param, storage) as upstream,
        gateway_on_socket({"events": upstream}, verifier, body_timeout=0.5, **LIMITS) as (url, _),
        httpx.AsyncClient(base_url=url, timeout=5) as client,
    ):
        yield client, storage, url


async def test_a_video_larger_than_the_body_limit_uploads_whole(
    uploads: tuple[httpx.AsyncClient, Storage, str], auth: dict[str, str]
) -> None:
    client, storage, _ = uploads
    response = await client.post(UPLOAD, content=b"v" * 200_000, headers=auth)
    assert (response.status_code, response.json()) == (201, {"size": 200_000})
    assert storage.stored == [200_000]


async def test_a_chunked_upload_streams_to_the_service_as_it_is_sent(
    uploads: tuple[httpx.AsyncClient, Storage, str], auth: dict[str, str]
) -> None:
    client, storage, _ = uploads

    async def pieces() -> AsyncIterator[bytes]:
        yield b"v" * 1000
        # The service has the first piece before the client sends the second: not buffered.
        async with asyncio.timeout(3):
            await storage.first_piece.wait()
        yield b"v" * 100_000

    response = await client.post(UPLOAD, content=pieces(), headers=auth)
    assert (response.status_code, response.json()) == (201, {"size": 101_000})


async def test_an_upload_declared_over_its_limit_is_413_before_it_reaches_the_service(
    uploads: tuple[httpx.AsyncClient, Storage, str], auth: dict[str, str]
) -> None:
    client, storage, _ = uploads
    response = await client.post(UPLOAD, content=b"v" * (UPLOAD_MAX + 1), headers=auth)
    assert_problem(response, 413, "payload_too_large")
    assert (storage.stored, storage.first_piece.is_set()) == ([], False)


async def test_a_chunked_upload_that_grows_over_its_limit_is_413_and_nothing_is_stored(
    uploads: tuple[httpx.AsyncClient, Storage, str], auth: dict[str, str]
) -> None:
    client, storage, _ = uploads

    async def pieces() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"v" * (UPLOAD_MAX // 4)

    response = await client.post(UPLOAD, content=pieces(), headers=auth)
    assert_problem(response, 413, "payload_too_large")
    assert storage.first_piece.is_set()  # it was streaming to the service ...
    async with asyncio.timeout(3):
        await storage.broken_off.wait()  # ... which saw its client go away
    assert storage.stored == []


async def test_a_service_that_refuses_an_upload_early_is_answered_at_once(
    uploads: tuple[httpx.AsyncClient, Storage, str], auth: dict[str, str]
) -> None:
    client, storage, _ = uploads
    response = await client.post(
        UPLOAD, content=b"v" * 200_000, headers={**auth, "X-Refuse-After-First-Piece": "1"}
    )
    assert response.status_code == 415
    assert storage.stored == []


async def test_other_bodies_keep_the_small_limit(
    uploads: tuple[httpx.AsyncClient, Storage, str], auth: dict[str, str]
) -> None:
    client, _, _ = uploads
    response = await client.post(UPLOAD + "/link", content=b"x" * (MAX_BODY + 1), headers=auth)
    assert_problem(response, 413, "payload_too_large")
    within = await client.post(UPLOAD + "/link", content=b"x" * MAX_BODY, headers=auth)
    assert within.json() == {"size": MAX_BODY}


async def test_a_stalled_upload_is_cut_off_and_nothing_is_stored(
    uploads: tuple[httpx.AsyncClient, Storage, str], token: str
) -> None:
    _, storage, url = uploads
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            f"POST {UPLOAD} HTTP/1.1\r\nHost: gateway.test\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: 100000\r\n\r\n".encode()
            + b"v" * 1000
        )
        await writer.drain()  # then silence, past the gateway's 0.5 s body limit
        async with asyncio.timeout(5):
            answer = await reader.read()  # until the gateway closes the connection
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer
    async with asyncio.timeout(3):
        await storage.broken_off.wait()
    assert storage.stored == []
