"""Opaque list cursors: the sort key of the last item, base64url JSON."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import orjson

from shared.problems import BadRequest


def encode_cursor(at: datetime, item_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([at.isoformat(), str(item_id)])).decode()


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        at, item_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:  # we only issue cursors with an offset
            raise ValueError("no offset")
        # A moment without a UTC instant (year 1 east of Greenwich) would crash the query.
        return moment.astimezone(UTC), uuid.UUID(item_id)
    except (ValueError, TypeError, OverflowError):
        raise BadRequest("this cursor is not one we issued", code="invalid_cursor") from None
