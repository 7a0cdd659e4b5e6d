"""Keyset pagination: opaque ``cursor`` strings and the page that ends in one.

Every list answers ``{"items": [...], "next_cursor": ...}`` (docs API.md). A list sorted by a
moment and an id hands out :func:`moment_cursor`; one sorted by a bigint key hands out the
number itself. Whatever a client sends back that is not a cursor we gave out is refused with
400 ``cursor_invalid``, before any query runs."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from shared.problems import BadRequest

T = TypeVar("T")

CURSOR_INVALID = "cursor_invalid"
_BIGINT_MAX = 2**63 - 1


def _refuse() -> BadRequest:
    return BadRequest("this cursor is not one this list gave out", code=CURSOR_INVALID)


def moment_cursor(at: datetime, item_id: uuid.UUID) -> str:
    """The cursor after an item sorted by ``(at, item_id)``."""
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{item_id}".encode()).decode()


def decode_moment_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """``(at in UTC, item_id)`` of a :func:`moment_cursor`; None for the first page."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
        moment, separator, item = text.partition("|")
        at = datetime.fromisoformat(moment)
        if not separator or at.tzinfo is None:  # we only issue cursors with an offset
            raise ValueError("not a cursor of ours")
        # A moment without a UTC instant (year 1 east of Greenwich) would crash the query.
        return at.astimezone(UTC), uuid.UUID(item)
    except (ValueError, TypeError, OverflowError, binascii.Error):
        raise _refuse() from None


def decode_number_cursor(cursor: str | None) -> int | None:
    """A cursor that is a row's bigint key (a sequence number): ASCII digits within bigint,
    which the driver would refuse otherwise."""
    if not cursor:
        return None
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 19):
        raise _refuse()
    number = int(cursor)
    if number > _BIGINT_MAX:
        raise _refuse()
    return number


def page_of(
    rows: Sequence[T], limit: int, cursor_after: Callable[[T], str]
) -> tuple[list[T], str | None]:
    """Split rows fetched with ``limit + 1`` into the page and the cursor after its last item
    (None on the last page, so a client never asks for an empty one)."""
    page = list(rows[:limit])
    more = len(rows) > limit
    return page, (cursor_after(page[-1]) if more and page else None)
