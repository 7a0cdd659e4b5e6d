"""Keyset cursors, tested once for every list: round trips, and refusals of what we never gave."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.paging import (
    decode_moment_cursor,
    decode_number_cursor,
    moment_cursor,
    page_of,
)
from shared.problems import BadRequest


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@given(
    at=st.datetimes(timezones=st.just(UTC), min_value=datetime(1971, 1, 1)),
    item_id=st.uuids(),
)
def test_a_moment_cursor_gives_back_its_moment_and_id(at: datetime, item_id: uuid.UUID) -> None:
    assert decode_moment_cursor(moment_cursor(at, item_id)) == (at, item_id)


def test_a_cursor_with_an_offset_comes_back_in_utc() -> None:
    east = datetime(2026, 12, 6, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    item_id = uuid.uuid4()
    at, got = decode_moment_cursor(moment_cursor(east, item_id)) or (None, None)
    assert (at, got) == (datetime(2026, 12, 6, 0, 0, tzinfo=UTC), item_id)
    assert at is not None
    assert at.tzinfo is UTC


@pytest.mark.parametrize("cursor", [None, ""])
def test_no_cursor_is_the_first_page(cursor: str | None) -> None:
    assert decode_moment_cursor(cursor) is None
    assert decode_number_cursor(cursor) is None


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        "é",  # not ASCII
        _b64("2026-12-06T00:00:00+00:00"),  # no id
        _b64(f"2026-12-06T00:00:00|{uuid.uuid4()}"),  # no offset: we never issue that
        _b64(f"0001-01-01T00:00:00+08:00|{uuid.uuid4()}"),  # no UTC instant
        _b64(f"9999-12-31T23:00:00-10:00|{uuid.uuid4()}"),  # past year 9999 in UTC
        _b64("2026-12-06T00:00:00+00:00|not-a-uuid"),
        _b64("yesterday|" + str(uuid.uuid4())),
        base64.urlsafe_b64encode(b"\xff\xfe|x").decode(),  # not UTF-8
        "YWJj=",  # bad padding
    ],
)
def test_what_we_never_gave_out_is_refused_as_cursor_invalid(cursor: str) -> None:
    with pytest.raises(BadRequest) as refused:
        decode_moment_cursor(cursor)
    assert (refused.value.status, refused.value.code) == (400, "cursor_invalid")


@given(st.text(max_size=80))
def test_no_text_makes_the_moment_decoder_fail_other_than_with_cursor_invalid(text: str) -> None:
    code = None
    try:
        decode_moment_cursor(text)
    except BadRequest as refused:  # anything else (a crash) fails the test
        code = refused.code
    assert code in (None, "cursor_invalid")


@pytest.mark.parametrize("cursor", ["-1", "1.5", "١٢", "9223372036854775808", "1" * 20, "0x10"])
def test_a_number_cursor_must_be_ascii_digits_within_bigint(cursor: str) -> None:
    with pytest.raises(BadRequest) as refused:
        decode_number_cursor(cursor)
    assert refused.value.code == "cursor_invalid"


def test_the_largest_bigint_is_a_number_cursor() -> None:
    assert decode_number_cursor("9223372036854775807") == 2**63 - 1


def test_a_page_with_more_behind_it_ends_in_the_cursor_of_its_last_item() -> None:
    page, cursor = page_of([1, 2, 3, 4], 3, lambda n: f"after-{n}")
    assert (page, cursor) == ([1, 2, 3], "after-3")


@pytest.mark.parametrize("rows", [[1, 2, 3], [1], []])
def test_the_last_page_has_no_cursor(rows: list[int]) -> None:
    page, cursor = page_of(rows, 3, lambda n: f"after-{n}")
    assert (page, cursor) == (rows, None)
