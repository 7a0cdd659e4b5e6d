"""What serving an attachment needs, without I/O: the byte range a Range header asks for
(RFC 9110 §14), the signature of a short-lived link, and image thumbnails (Pillow)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, ImageOps

from shared.problems import AppError

THUMBNAIL_EDGE = 320
# Refused before decoding: a tiny file can claim a gigapixel canvas (a decompression bomb).
# Pillow's own MAX_IMAGE_PIXELS guard stays on as well; this one is stricter and explicit.
MAX_SOURCE_PIXELS = 60_000_000
_BYTES_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.IGNORECASE)


class Variant(StrEnum):
    ORIGINAL = "original"
    THUMBNAIL = "thumbnail"


class RangeNotSatisfiable(AppError):
    status, default_code = 416, "range_not_satisfiable"


class ThumbnailImpossible(ValueError):
    """The bytes are no image Pillow can safely shrink."""


@dataclass(frozen=True)
class ByteSpan:
    """Bytes ``start``..``end`` (inclusive) of ``total``; ``partial``: answered as 206."""

    start: int
    end: int
    total: int
    partial: bool

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.total}"


def byte_span(header: str | None, total: int) -> ByteSpan:
    """The span a ``Range`` header asks for. A header we do not serve as a range (another
    unit, several ranges, a malformed one) is ignored, as RFC 9110 §14.2 lets a server do:
    the whole body is the answer. A range starting past the end is refused (416)."""
    whole = ByteSpan(0, total - 1, total, partial=False)
    match = _BYTES_RANGE.fullmatch(header.strip()) if header else None
    if match is None:
        return whole
    first, last = match.groups()
    if not first and not last:
        return whole
    if not first:  # the last ``last`` bytes
        suffix = int(last)
        if suffix == 0 or total == 0:
            raise _unsatisfiable(total)
        return ByteSpan(max(total - suffix, 0), total - 1, total, partial=True)
    start = int(first)
    end = int(last) if last else total - 1
    if last and end < start:
        return whole  # invalid, so ignored
    if start >= total:
        raise _unsatisfiable(total)
    return ByteSpan(start, min(end, total - 1), total, partial=True)



def entity_tag(attachment_id: uuid.UUID, variant: Variant) -> str:
    """A strong validator: an attachment's bytes never change under its id (nor its
    thumbnail's, made once and kept), so the id and variant identify them."""
    return f'"{attachment_id.hex}-{variant.value}"'


def range_to_serve(range_header: str | None, if_range: str | None, tag: str) -> str | None:
    """The Range header to honour: dropped when an If-Range names another validator (RFC
    9110 §13.1.5: the client's partial copy is stale, it gets the whole body)."""
    if if_range is not None and if_range.strip() != tag:
        return None
    return range_header

def _unsatisfiable(total: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        "the range starts beyond the end of the attachment", code="range_not_satisfiable",
        headers={"Content-Range": f"bytes */{total}"},
    )


def link_signature(key: str, attachment_id: uuid.UUID, variant: Variant, expires: int) -> str:
    """HMAC-SHA256 over what the link grants: which attachment, which variant, until when."""
    message = f"{attachment_id}|{variant.value}|{expires}".encode()
    digest = hmac.new(key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signature_matches(key: str, attachment_id: uuid.UUID, variant: Variant, expires: int,
                      signature: str) -> bool:
    expected = link_signature(key, attachment_id, variant, expires)
    # Constant time, so the answer's timing does not reveal how much of a guess was right.
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def make_thumbnail(data: bytes, edge: int = THUMBNAIL_EDGE) -> bytes:
    """A JPEG at most ``edge`` pixels on its longer side, upright (EXIF orientation applied)
    and without EXIF (no camera serial or GPS position travels on). CPU-bound: callers run it
    in a worker thread."""
    try:
        with Image.open(io.BytesIO(data)) as source:
            if source.width * source.height > MAX_SOURCE_PIXELS:
                raise ThumbnailImpossible("the image is too large to decode safely")
            source.draft("RGB", (edge, edge))  # JPEG: decode at a reduced scale, cheaply
            image = ImageOps.exif_transpose(source)
            image.thumbnail((edge, edge))
            if image.mode != "RGB":
                image = image.convert("RGB")
            out = io.BytesIO()
            image.save(out, "JPEG", quality=82, optimize=True)  # no exif=: none is written
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        if isinstance(exc, ThumbnailImpossible):
            raise
        raise ThumbnailImpossible(str(exc)) from exc
    return out.getvalue()
