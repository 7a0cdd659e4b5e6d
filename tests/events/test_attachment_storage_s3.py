"""The S3-compatible attachment store, through the real boto3 client code, against a local
stand-in S3 server (moto's server mode on a free loopback port)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from services.events.app import create_app
from services.events.context import storage_from
from services.events.settings import Settings
from services.events.storage import S3Storage, StoredObjectMissing
from shared.testing.plugin import Migrator, running

BUCKET = "ehome-test-attachments"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing",
                 ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str) -> S3Storage:
    settings = Settings(storage="s3", s3_endpoint_url=s3_endpoint, s3_bucket=BUCKET,
                        s3_access_key_id="testing", s3_secret_access_key="testing",
                        s3_prefix="attachments-")
    storage = storage_from(settings)  # the settings pick the backend
    assert isinstance(storage, S3Storage)
    return storage


async def _chunks(data: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at:at + size]


async def _read(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def test_s3_storage_streams_in_reads_a_range_and_knows_a_missing_key(s3: S3Storage
                                                                          ) -> None:
    video = os.urandom(9 * 1024 * 1024)  # past the managed transfer's multipart threshold
    await s3.put_stream("clip", _chunks(video))
    assert await _read(await s3.open_range("clip", 0, 1023)) == video[:1024]
    assert await _read(await s3.open_range("clip", 5_000_000, len(video) - 1)) == \
        video[5_000_000:]
    assert await s3.get("clip") == video

    await s3.put("clip.thumb", b"small")
    assert await s3.get("clip.thumb") == b"small"

    with pytest.raises(StoredObjectMissing):
        await s3.get("nothing-here")
    with pytest.raises(StoredObjectMissing):
        await s3.open_range("nothing-here", 0, 9)


async def test_a_refused_upload_leaves_nothing_in_the_bucket(s3: S3Storage) -> None:
    async def cut_off() -> AsyncIterator[bytes]:
        yield b"first part"
        raise ValueError("too large")

    with pytest.raises(ValueError, match="too large"):
        await s3.put_stream("refused", cut_off())
    with pytest.raises(StoredObjectMissing):
        await s3.get("refused")


def test_local_directory_stays_the_default(tmp_path: object) -> None:
    assert type(storage_from(Settings(attachment_dir=str(tmp_path)))).__name__ == \
        "LocalDirStorage"


async def test_the_events_app_serves_an_upload_from_the_bucket(
    s3_endpoint: str, migrator: Migrator, run_prefix: str,
    service_settings: Callable[..., Any], token_verifier: Any, make_token: Callable[..., str],
) -> None:
    """EHOME_EVENTS_STORAGE=s3 end to end: the upload streams into the bucket and a byte
    range comes back out of it."""
    prefix = f"{run_prefix}{uuid.uuid4().hex[:6]}"
    await migrator.ensure("events", prefix=prefix)
    settings = service_settings(
        Settings, schema_prefix=prefix, amqp_prefix=prefix, storage="s3",
        s3_endpoint_url=s3_endpoint, s3_bucket=BUCKET, s3_access_key_id="testing",
        s3_secret_access_key="testing", s3_prefix=f"{prefix}-",
    )
    video = b"\x00\x00\x00\x18ftypmp42" + os.urandom(200_000)
    token = {"Authorization": f"Bearer {make_token(roles=['resident'])}"}
    async with running(create_app(settings, verifier=token_verifier)) as events:
        uploaded = await events.post("/api/v1/events/attachments", headers=token,
                                     files={"file": ("clip.mp4", video, "video/mp4")})
        assert uploaded.status_code == 201, uploaded.text
        attachment_id = uploaded.json()["id"]
        ranged = await events.get(f"/api/v1/events/attachments/{attachment_id}",
                                  headers={**token, "Range": "bytes=100-1123"})
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes 100-1123/{len(video)}"
    assert ranged.content == video[100:1124]
    in_bucket = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ).get_object(Bucket=BUCKET, Key=f"{prefix}-{uuid.UUID(attachment_id).hex}")
    assert in_bucket["Body"].read() == video
