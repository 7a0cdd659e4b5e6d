"""Attachments: the streamed upload, and reading one back — by its uploader, or by whoever
sees its case (``queries.can_see``, the one visibility rule) — whole or as a byte range, as
the original or an image's thumbnail, with a token or through a short-lived signed link that a
``<video>`` or ``<img>`` tag can load without one."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from services.events import store
from services.events.schemas import BaseSchema
from services.events.storage import (
    SNIFFED,
    AttachmentStorage,
    StoredObjectMissing,
    sniff_content_type,
)
from services.events.store.attachment_rows import get_attachment
from shared.auth import Principal
from shared.db import idempotency
from shared.db.uow import UnitOfWork
from shared.logs import get_logger
from shared.problems import Forbidden, Gone, NotFound, PayloadTooLarge, UnsupportedMediaType

from .media import (
    ByteSpan,
    ThumbnailImpossible,
    Variant,
    byte_span,
    link_signature,
    make_thumbnail,
    signature_matches,
)
from .queries import can_see, former_holder_only

log = get_logger(__name__)
SIGNED_PATH = "/api/v1/events/attachments/signed/"
_SNIFF_BYTES = 16


class AttachmentLink(BaseSchema):
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class AttachmentBody:
    """What a read answers: the type, the span served (206 when partial) and its bytes."""

    content_type: str
    span: ByteSpan
    chunks: AsyncIterator[bytes]


# -- upload --------------------------------------------------------------------------------------


class _Meter:
    """Counts and hashes an upload as it passes to storage, refusing it once it exceeds the
    limit of its kind (so an oversized video is cut off, not stored and then measured)."""

    def __init__(self, limit: int, kind: str) -> None:
        self.limit, self.kind, self.size = limit, kind, 0
        self.digest = hashlib.sha256()

    async def through(self, head: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        self._count(head)
        yield head
        async for chunk in rest:
            self._count(chunk)
            yield chunk

    def _count(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise PayloadTooLarge(f"this {self.kind} is larger than {self.limit} bytes",
                                  code="attachment_too_large")
        self.digest.update(chunk)


async def _head(chunks: AsyncIterator[bytes]) -> bytes:
    """At least the first bytes the type sniffing needs (fewer only if the body is shorter)."""
    head = b""
    while len(head) < _SNIFF_BYTES:
        chunk = await anext(chunks, None)
        if chunk is None:
            break
        head += chunk
    return head


async def upload_attachment(
    uow: UnitOfWork,
    *,
    principal: Principal,
    chunks: AsyncIterator[bytes],
    storage: AttachmentStorage,
    max_image_bytes: int,
    max_video_bytes: int,
    now: datetime,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Stream an upload to storage: its type proved by its first bytes, its size checked as
    it arrives. A refused upload leaves nothing stored and no row.

    With an Idempotency-Key, a retried upload (the grid app resends a queued photo when its
    answer was lost) answers the first attachment: the bytes are stored before their hash is
    known, so the retry's copy is removed again once the key is found."""
    head = await _head(chunks)
    content_type = sniff_content_type(head[:_SNIFF_BYTES])
    if content_type is None:
        raise UnsupportedMediaType(
            "attachments are JPEG, PNG or WebP photos and MP4 or QuickTime videos",
            code="attachment_type_not_allowed",
        )
    kind = SNIFFED[content_type]
    meter = _Meter(max_image_bytes if kind == "image" else max_video_bytes, kind)
    attachment_id = uuid.uuid4()
    key = attachment_id.hex
    await storage.put_stream(key, meter.through(head, chunks))
    upload = {"id": attachment_id, "content_type": content_type, "size": meter.size,
              "sha256": meter.digest.hexdigest()}
    try:
        async with uow:
            first = await _first_answer(uow, principal, idempotency_key, upload)
            if first is None:
                await _record_upload(uow, principal, upload, key, now)
                await _remember_upload(uow, principal, idempotency_key, upload)
    except Exception:
        await _discard(storage, key)  # refused (or failed): the bytes go with the row
        raise
    if first is not None:
        await _discard(storage, key)  # a retry: the first upload's object is the one kept
        return first
    return {"id": attachment_id, "content_type": content_type, "size": meter.size}


def _upload_scope(principal: Principal) -> str:
    return f"events.attachment:{principal.subject}"


def _fingerprinted(upload: dict[str, Any]) -> dict[str, Any]:
    # The same bytes again are the same upload; other bytes under the key are a mistake.
    return {"sha256": upload["sha256"], "size": upload["size"],
            "content_type": upload["content_type"]}


async def _first_answer(uow: UnitOfWork, principal: Principal, idempotency_key: str | None,
                        upload: dict[str, Any]) -> dict[str, Any] | None:
    """What the key's first upload answered (None: this is the first), in the caller's
    transaction; other bytes under the same key are refused (idempotency_key_reused)."""
    if not idempotency_key:
        return None
    replay = await idempotency.reserve(uow, scope=_upload_scope(principal),
                                       key=idempotency_key, request=_fingerprinted(upload))
    return None if replay is None else dict(replay[1])


async def _remember_upload(uow: UnitOfWork, principal: Principal, idempotency_key: str | None,
                           upload: dict[str, Any]) -> None:
    if idempotency_key:
        answer = {"id": str(upload["id"]), "content_type": upload["content_type"],
                  "size": upload["size"]}
        await idempotency.remember(uow, scope=_upload_scope(principal), key=idempotency_key,
                                   status=201, body=answer)


async def _record_upload(uow: UnitOfWork, principal: Principal, upload: dict[str, Any],
                         key: str, now: datetime) -> None:
    await store.insert_attachment(
        uow,
        {
            "id": upload["id"], "owner_id": principal.subject, "event_id": None,
            "content_type": upload["content_type"], "size": upload["size"],
            "sha256": upload["sha256"], "storage_key": key, "created_at": now,
            "owner_unit_ids": list(principal.departments) or None,
        },
    )


async def _discard(storage: AttachmentStorage, key: str) -> None:
    """Remove an object no row points to; failing that, it is an orphan no one can read."""
    try:
        await storage.delete(key)
    except Exception:
        log.warning("attachment_discard_failed", storage_key=key)


# -- reads ---------------------------------------------------------------------------------------


def _not_found() -> NotFound:
    # One answer for "no such attachment" and "not yours to see": whether it exists is itself
    # not disclosed, as for cases.
    return NotFound("no such attachment", code="attachment_not_found")


async def _readable_row(uow: UnitOfWork, principal: Principal, attachment_id: uuid.UUID) -> Any:
    """The attachment row if ``principal`` may read it: its uploader, or, once it belongs to
    a case, whoever sees that case (units it has left: unless it is a sensitive tip)."""
    async with uow:
        row = await get_attachment(uow, attachment_id)
        if row is None:
            raise _not_found()
        if row["owner_id"] == principal.subject:
            return row
        case = await store.get_case(uow, row["event_id"]) if row["event_id"] else None
    if case is None or not can_see(principal, case):
        raise _not_found()
    if case["sensitive"] and former_holder_only(principal, case):
        raise _not_found()  # a sensitive tip's evidence stays with the units working it
    return row


async def read_attachment(
    uow: UnitOfWork,
    *,
    principal: Principal,
    attachment_id: uuid.UUID,
    variant: Variant,
    range_header: str | None,
    storage: AttachmentStorage,
) -> AttachmentBody:
    row = await _readable_row(uow, principal, attachment_id)
    return await _body(row, variant, range_header, storage)


async def _body(row: Any, variant: Variant, range_header: str | None,
                storage: AttachmentStorage) -> AttachmentBody:
    if variant is Variant.THUMBNAIL:
        data = await _thumbnail(row, storage)
        span = byte_span(range_header, len(data))
        return AttachmentBody("image/jpeg", span, _once(data[span.start:span.end + 1]))
    span = byte_span(range_header, int(row["size"]))
    try:
        chunks = await storage.open_range(row["storage_key"], span.start, span.end)
    except StoredObjectMissing:
        log.error("attachment_object_missing", attachment_id=str(row["id"]))
        raise _not_found() from None
    return AttachmentBody(str(row["content_type"]), span, chunks)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _thumbnail(row: Any, storage: AttachmentStorage) -> bytes:
    """The image's thumbnail, made on first request and kept in the same storage."""
    if SNIFFED.get(str(row["content_type"])) != "image":
        raise NotFound("only photos have thumbnails", code="thumbnail_not_available")
    key = f"{row['storage_key']}.thumb"
    try:
        return await storage.get(key)
    except StoredObjectMissing:
        pass
    try:
        original = await storage.get(row["storage_key"])  # photos are small (a few MB)
        thumbnail = await asyncio.to_thread(make_thumbnail, original)
    except (StoredObjectMissing, ThumbnailImpossible) as exc:
        log.warning("thumbnail_failed", attachment_id=str(row["id"]), reason=type(exc).__name__)
        raise NotFound("this photo has no thumbnail", code="thumbnail_not_available") from None
    await storage.put(key, thumbnail)  # two concurrent first requests write the same bytes
    return thumbnail


# -- signed links --------------------------------------------------------------------------------


async def sign_link(
    uow: UnitOfWork,
    *,
    principal: Principal,
    attachment_id: uuid.UUID,
    variant: Variant,
    key: str,
    now: datetime,
    lifetime: timedelta,
) -> AttachmentLink:
    """A link to the attachment that works without a token until it expires; only someone
    who may read the attachment gets one."""
    await _readable_row(uow, principal, attachment_id)
    expires = int((now + lifetime).timestamp())
    query = urlencode({"variant": variant.value, "expires": expires,
                       "signature": link_signature(key, attachment_id, variant, expires)})
    return AttachmentLink(url=f"{SIGNED_PATH}{attachment_id}?{query}",
                          expires_at=datetime.fromtimestamp(expires, UTC))


async def read_signed(
    uow: UnitOfWork,
    *,
    attachment_id: uuid.UUID,
    variant: Variant,
    expires: int,
    signature: str,
    key: str,
    now: datetime,
    range_header: str | None,
    storage: AttachmentStorage,
) -> AttachmentBody:
    """Serve a signed link: the signature first (a changed id, variant or expiry breaks it),
    then its expiry; the link itself is the permission."""
    if not signature_matches(key, attachment_id, variant, expires, signature):
        raise Forbidden("this attachment link is not valid", code="attachment_link_invalid")
    if now.timestamp() >= expires:
        raise Gone("this attachment link has expired", code="attachment_link_expired")
    async with uow:
        row = await get_attachment(uow, attachment_id)
    if row is None:
        raise _not_found()
    return await _body(row, variant, range_header, storage)
