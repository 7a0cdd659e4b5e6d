"""Attachment storage behind one interface — a local directory (the default for `make run`) or
an S3-compatible object store (Kubernetes), chosen by settings — and the upload checks: size
limits per kind, and the type decided by the bytes themselves (magic numbers), never by the
client's Content-Type or file name.

Bodies move in chunks both ways: an upload is written as it arrives and a read streams a byte
range, so a 50 MB video is never held in memory whole."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any, Protocol

SNIFFED = {
    "image/jpeg": "image",
    "image/png": "image",
    "image/webp": "image",
    "video/mp4": "video",
    "video/quicktime": "video",
}
CHUNK_BYTES = 64 * 1024
# An S3 upload is spooled in memory up to this size, on disk beyond it.
_SPOOL_BYTES = 1024 * 1024


def sniff_content_type(head: bytes) -> str | None:
    """The media type the first bytes prove, or None when they prove none we accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    return None


class StoredObjectMissing(LookupError):
    """No object under this key."""


class AttachmentStorage(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        """Store what ``chunks`` yields; if it raises, nothing is left under ``key``."""
        ...

    async def get(self, key: str) -> bytes: ...

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes ``start``..``end`` (inclusive) as chunks; raises StoredObjectMissing before
        the first chunk when there is no such object."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object under ``key``; no object there is not an error."""
        ...


def _check_key(key: str) -> str:
    if not key or "/" in key or key.startswith("."):
        raise ValueError("storage keys are flat names")
    return key


class LocalDirStorage:
    """Files under one directory, one file per key (keys are server-made uuids)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    async def put(self, key: str, data: bytes) -> None:
        async def once() -> AsyncIterator[bytes]:
            yield data

        await self.put_stream(key, once())

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        final = self._path(key)
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        # A name of its own per write: two first requests for one thumbnail may race.
        tmp = self._path(f"{key}.{uuid.uuid4().hex}.part")
        handle = await asyncio.to_thread(tmp.open, "wb")
        try:
            async for chunk in chunks:
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(tmp.replace, final)  # readers never see half a file
        except BaseException:
            handle.close()
            tmp.unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            raise StoredObjectMissing(key) from None

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        try:
            handle = await asyncio.to_thread(self._path(key).open, "rb")
        except FileNotFoundError:
            raise StoredObjectMissing(key) from None
        await asyncio.to_thread(handle.seek, start)
        return _read_chunks(handle, end - start + 1)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


async def _read_chunks(handle: IO[bytes] | Any, remaining: int) -> AsyncIterator[bytes]:
    """Up to ``remaining`` bytes of ``handle`` in chunks, each read off the event loop; closes
    the handle when done or abandoned (the client went away)."""
    try:
        while remaining > 0:
            chunk = await asyncio.to_thread(handle.read, min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        with contextlib.suppress(Exception):
            handle.close()


class S3Storage:
    """Objects in one bucket of an S3-compatible store, through boto3. boto3 blocks, so every
    call runs in a worker thread; uploads are spooled (memory, then disk) and sent with the
    managed transfer, which splits large bodies into multipart uploads."""

    def __init__(self, client: Any, bucket: str, *, prefix: str = "") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    @classmethod
    def connect(cls, *, endpoint_url: str | None, bucket: str, region: str,
                access_key_id: str | None, secret_access_key: str | None,
                prefix: str = "") -> S3Storage:
        import boto3  # only deployments with an object store pay for importing it
        from botocore.config import Config

        client = boto3.client(
            "s3", endpoint_url=endpoint_url or None, region_name=region,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=Config(retries={"max_attempts": 3, "mode": "standard"},
                          s3={"addressing_style": "path"}),
        )
        return cls(client, bucket, prefix=prefix)

    def _key(self, key: str) -> str:
        return self._prefix + _check_key(key)

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._client.put_object, Bucket=self._bucket,
                                Key=self._key(key), Body=data)

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes]) -> None:
        object_key = self._key(key)
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            async for chunk in chunks:  # a refusal raised here stores nothing
                await asyncio.to_thread(spool.write, chunk)
            await asyncio.to_thread(spool.seek, 0)
            await asyncio.to_thread(self._client.upload_fileobj, spool, self._bucket,
                                    object_key)

    async def get(self, key: str) -> bytes:
        body = await self._get_object(key)
        try:
            return bytes(await asyncio.to_thread(body.read))
        finally:
            body.close()

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        body = await self._get_object(key, Range=f"bytes={start}-{end}")
        return _read_chunks(body, end - start + 1)

    async def delete(self, key: str) -> None:
        # S3 answers a delete of a missing key with success, as the protocol asks.
        await asyncio.to_thread(self._client.delete_object, Bucket=self._bucket,
                                Key=self._key(key))

    async def _get_object(self, key: str, **extra: str) -> Any:
        from botocore.exceptions import ClientError

        try:
            answer = await asyncio.to_thread(self._client.get_object, Bucket=self._bucket,
                                             Key=self._key(key), **extra)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise StoredObjectMissing(key) from None
            raise
        return answer["Body"]
