"""What both run modes must do with large bodies through the gateway, as checks the mode's
tests call: a 20 MiB video uploads past the 10 MiB body limit and plays back whole and by
Range; an upload over the upload limit is 413 and leaves neither a row nor a file."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx

from tests.gateway.gateway_assertions import assert_problem

MB = 1024 * 1024
UPLOAD = "/api/v1/events/attachments"
UPLOAD_LIMIT = 24 * MB  # below events' own 50 MiB: a refusal past it can only be the gateway's
# An MP4's first box is `ftyp`; the rest is opaque to the server.
VIDEO = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(20 * MB - 24)


def stored_files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def export_csv(
    client: httpx.AsyncClient, token: str, **params: str
) -> tuple[int, int, bytes]:
    """Lines (less the header), bytes, and the last bytes of a CSV export, read as it comes."""
    lines = size = 0
    tail = b""
    async with client.stream("GET", "/api/v1/events/search/export.csv", params=params,
                             headers=bearer(token)) as response:
        assert response.status_code == 200, await response.aread()
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
            tail = (tail + chunk)[-200:]
    return lines - 1, size, tail


async def upload_video(client: httpx.AsyncClient, token: str) -> dict[str, str]:
    upload = await client.post(
        UPLOAD, files={"file": ("clip.mp4", VIDEO, "video/mp4")}, headers=bearer(token)
    )
    assert upload.status_code == 201, upload.text
    attachment: dict[str, str] = upload.json()
    assert (attachment["content_type"], attachment["size"]) == ("video/mp4", len(VIDEO))
    return attachment


async def video_plays_back(client: httpx.AsyncClient, token: str, attachment_id: str) -> None:
    location = f"{UPLOAD}/{attachment_id}"
    first = await client.get(location, headers={**bearer(token), "Range": "bytes=0-1023"})
    whole = await client.get(location, headers=bearer(token))
    assert first.status_code == 206
    assert first.headers["content-range"] == f"bytes 0-1023/{len(VIDEO)}"
    assert first.headers["accept-ranges"] == "bytes"
    assert first.content == VIDEO[:1024]
    assert whole.status_code == 200
    assert whole.headers["content-length"] == str(len(VIDEO))
    assert whole.headers["etag"] == first.headers["etag"]
    assert whole.content == VIDEO


async def oversized_upload_leaves_nothing(
    client: httpx.AsyncClient, token: str, owner: uuid.UUID, db: asyncpg.Connection,
    attachments: Path,
) -> None:
    """A 26 MiB video, sent chunked (the gateway learns its size only as it arrives, while
    events is already reading it): 413, and no attachment row or file for its owner."""
    boundary = uuid.uuid4().hex
    files_before = stored_files(attachments)

    async def multipart() -> AsyncIterator[bytes]:
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
               f"filename=\"long.mp4\"\r\nContent-Type: video/mp4\r\n\r\n").encode()
        yield VIDEO
        yield b"\x00" * (6 * MB)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await client.post(UPLOAD, content=multipart(), headers={
        **bearer(token), "Content-Type": f"multipart/form-data; boundary={boundary}",
    })
    assert_problem(response, 413, "payload_too_large")
    assert await db.fetchval("SELECT count(*) FROM attachments WHERE owner_id = $1", owner) == 0
    assert stored_files(attachments) == files_before
