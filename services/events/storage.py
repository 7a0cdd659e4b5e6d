"""Attachment storage behind an interface (local directory by default; an object store plugs
in the same way) and the upload checks: size limits per kind, and the type decided by the bytes
themselves (magic numbers), never by the client's Content-Type or file name."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

SNIFFED = {
    "image/jpeg": "image",
    "image/png": "image",
    "image/webp": "image",
    "video/mp4": "video",
    "video/quicktime": "video",
}


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


class AttachmentStorage(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes: ...


class LocalDirStorage:
    """Files under one directory, one file per key (keys are server-made uuids)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if "/" in key or key.startswith("."):
            raise ValueError("storage keys are flat names")
        return self.root / key

    async def put(self, key: str, data: bytes) -> None:
        def write() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self._path(key + ".part")
            tmp.write_bytes(data)
            tmp.replace(self._path(key))

        await asyncio.to_thread(write)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._path(key).read_bytes)
