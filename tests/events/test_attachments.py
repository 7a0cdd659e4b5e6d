"""Attachments staff can open: access-checked reads with HTTP Range (206/416), short-lived
signed links a <video> tag loads without a token, and photo thumbnails."""

from __future__ import annotations

import asyncio
import io
import os
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from PIL import Image

from gateway.app import create_gateway_app
from gateway.settings import GatewaySettings
from gateway.upstreams import AsgiUpstream
from services.events.service.media import (
    ByteSpan,
    RangeNotSatisfiable,
    ThumbnailImpossible,
    byte_span,
    make_thumbnail,
)
from services.events.settings import Settings as EventsSettings
from services.events.storage import LocalDirStorage
from tests.events.flows import (
    COMMUNITY,
    COMMUNITY_UNIT,
    COUNTY,
    COUNTY_POLICE,
    OTHER_COMMUNITY_UNIT,
    Loop,
    MovableClock,
    bearer,
)

# An MP4's first box is `ftyp`; the rest is opaque to the server.
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + os.urandom(300_000)


async def _upload(loop: Loop, data: bytes, token: str | None = None) -> dict:
    response = await loop.events.post(
        "/api/v1/events/attachments", headers=bearer(token or loop.people.resident()),
        files={"file": ("clip.bin", data, "application/octet-stream")},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _get(loop: Loop, path: str, token: str | None, **headers: str) -> httpx.Response:
    if token is not None:
        headers = bearer(token, **headers)
    return await loop.events.get(path, headers=headers)


async def _case_with(loop: Loop, data: bytes) -> tuple[str, str]:
    """A reported case holding one upload, once it is assigned to the community."""
    upload = await _upload(loop, data)
    created = await loop.report(attachments=[upload["id"]])
    await loop.wait_assigned(created["id"], COMMUNITY_UNIT)
    return created["id"], upload["id"]


def _jpeg(size: tuple[int, int], orientation: int | None = None) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((20, 20, 220), (0, 0, size[0] // 4, size[1] // 4))
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    exif[0x010F] = "SecretCam"  # Make: stands for the camera details a thumbnail drops
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


async def test_a_video_is_served_in_the_byte_ranges_a_player_asks_for(loop: Loop) -> None:
    upload = await _upload(loop, MP4)
    assert upload["content_type"] == "video/mp4"
    path, token, total = f"/api/v1/events/attachments/{upload['id']}", None, len(MP4)
    token = loop.people.resident()

    first = await _get(loop, path, token, Range="bytes=0-1023")
    assert first.status_code == 206
    assert first.headers["content-range"] == f"bytes 0-1023/{total}"
    assert first.headers["content-length"] == "1024"
    assert first.headers["accept-ranges"] == "bytes"
    assert first.headers["content-type"] == "video/mp4"
    assert first.content == MP4[:1024]

    tail = await _get(loop, path, token, Range="bytes=-500")
    assert (tail.status_code, tail.headers["content-range"]) == (
        206, f"bytes {total - 500}-{total - 1}/{total}")
    assert tail.content == MP4[-500:]
    rest = await _get(loop, path, token, Range=f"bytes={total - 10}-")
    assert (rest.status_code, rest.content) == (206, MP4[-10:])

    whole = await _get(loop, path, token)
    assert (whole.status_code, whole.content) == (200, MP4)
    assert whole.headers["accept-ranges"] == "bytes"
    several = await _get(loop, path, token, Range="bytes=0-1,5-9")
    assert (several.status_code, several.content) == (200, MP4)
    tag = whole.headers["etag"]
    resumed = await _get(loop, path, token, Range="bytes=10-19", **{"If-Range": tag})
    assert (resumed.status_code, resumed.content) == (206, MP4[10:20])
    stale = await _get(loop, path, token, Range="bytes=10-19", **{"If-Range": '"other"'})
    assert (stale.status_code, stale.content) == (200, MP4)

    beyond = await _get(loop, path, token, Range=f"bytes={total}-")
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{total}"
    assert beyond.json()["code"] == "range_not_satisfiable"


async def test_a_signed_link_plays_without_a_token_until_it_expires(
    loop: Loop, clock: MovableClock
) -> None:
    upload = await _upload(loop, MP4)
    minted = await loop.events.post(f"/api/v1/events/attachments/{upload['id']}/link",
                                    headers=bearer(loop.people.resident()))
    assert minted.status_code == 200, minted.text
    url = minted.json()["url"]
    assert url.startswith(f"/api/v1/events/attachments/signed/{upload['id']}?")

    played = await _get(loop, url, None, Range="bytes=0-1023")
    assert (played.status_code, played.content) == (206, MP4[:1024])
    assert played.headers["content-range"] == f"bytes 0-1023/{len(MP4)}"

    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for tampered in ({**query, "expires": str(int(query["expires"]) + 3600)},
                     {**query, "variant": "thumbnail"},
                     {**query, "signature": query["signature"][:-2] + "AA"}):
        refused = await _get(loop, f"{parts.path}?{urlencode(tampered)}", None)
        assert (refused.status_code, refused.json()["code"]) == (403, "attachment_link_invalid")
    other_id = (await _upload(loop, MP4))["id"]
    borrowed = await _get(loop, f"/api/v1/events/attachments/signed/{other_id}?{parts.query}",
                          None)
    assert borrowed.status_code == 403

    clock.advance(timedelta(minutes=6))  # links live five minutes
    expired = await _get(loop, url, None)
    assert (expired.status_code, expired.json()["code"]) == (410, "attachment_link_expired")


async def test_only_the_uploader_reads_an_upload_not_yet_in_a_case(loop: Loop) -> None:
    upload = await _upload(loop, MP4)
    path = f"/api/v1/events/attachments/{upload['id']}"
    assert (await _get(loop, path, loop.people.resident())).status_code == 200
    for stranger in (loop.people.resident(uuid.uuid4()),
                     loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)):
        refused = await _get(loop, path, stranger)
        assert (refused.status_code, refused.json()["code"]) == (404, "attachment_not_found")
    link = await loop.events.post(f"{path}/link", headers=bearer(loop.people.supervisor()))
    assert link.status_code == 404
    assert (await _get(loop, path, None)).status_code == 401


async def test_a_clerk_of_another_unit_cannot_open_the_case_attachment(loop: Loop) -> None:
    _, attachment_id = await _case_with(loop, MP4)
    path = f"/api/v1/events/attachments/{attachment_id}"
    for allowed in (loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY),
                    loop.people.grid_worker(), loop.people.supervisor(),
                    loop.people.resident()):
        answer = await _get(loop, path, allowed, Range="bytes=0-9")
        assert (answer.status_code, answer.content) == (206, MP4[:10])
    outsider = loop.people.unit_staff(OTHER_COMMUNITY_UNIT, "350626106002")
    refused = await _get(loop, path, outsider)
    assert (refused.status_code, refused.json()["code"]) == (404, "attachment_not_found")
    link = await loop.events.post(f"{path}/link", headers=bearer(outsider))
    assert (link.status_code, link.json()["code"]) == (404, "attachment_not_found")
    other_county = loop.people.supervisor("350627")
    assert (await _get(loop, path, other_county)).status_code == 404



async def test_an_assisting_unit_opens_the_attachment_once_asked_to_help(loop: Loop) -> None:
    event_id, attachment_id = await _case_with(loop, MP4)
    path = f"/api/v1/events/attachments/{attachment_id}"
    police = loop.people.unit_staff(COUNTY_POLICE, COUNTY)
    assert (await _get(loop, path, police)).status_code == 404
    community = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    await loop.act(event_id, "accept", community)
    await loop.route(f"assignments/{event_id}/co-handling", community,
                     {"unit_ids": [str(COUNTY_POLICE)], "task": "协助核实视频"}, expect=201)
    await loop.wait_for(event_id, lambda c: c["open_subtasks"] == 1, token=community)
    answer = await _get(loop, path, police, Range="bytes=0-99")
    assert (answer.status_code, answer.content) == (206, MP4[:100])

async def test_a_photo_thumbnail_is_a_small_upright_jpeg_without_exif(loop: Loop) -> None:
    photo = _jpeg((1600, 1200), orientation=6)  # stored sideways: a portrait shot
    _, attachment_id = await _case_with(loop, photo)
    clerk = loop.people.unit_staff(COMMUNITY_UNIT, COMMUNITY)
    answer = await _get(loop, f"/api/v1/events/attachments/{attachment_id}/thumbnail", clerk)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/jpeg"
    assert len(answer.content) < len(photo)
    thumbnail = Image.open(io.BytesIO(answer.content))
    assert thumbnail.format == "JPEG"
    assert thumbnail.size == (240, 320)  # 1600x1200 turned upright, longer side 320
    assert not thumbnail.getexif()
    again = await _get(loop, f"/api/v1/events/attachments/{attachment_id}/thumbnail", clerk)
    assert again.content == answer.content  # made once, then served from storage

    video = await _upload(loop, MP4)
    none = await _get(loop, f"/api/v1/events/attachments/{video['id']}/thumbnail",
                      loop.people.resident())
    assert (none.status_code, none.json()["code"]) == (404, "thumbnail_not_available")


async def test_a_signed_thumbnail_link_serves_the_thumbnail(loop: Loop) -> None:
    upload = await _upload(loop, _jpeg((800, 600)))
    minted = await loop.events.post(
        f"/api/v1/events/attachments/{upload['id']}/link?variant=thumbnail",
        headers=bearer(loop.people.resident()))
    answer = await _get(loop, minted.json()["url"], None)
    assert answer.status_code == 200
    assert Image.open(io.BytesIO(answer.content)).size == (320, 240)


async def test_an_oversized_video_is_cut_off_and_nothing_is_kept(
    loop: Loop, tmp_path: Path
) -> None:
    before = set(os.listdir(tmp_path))
    too_big = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * (50 * 1024 * 1024)
    response = await loop.events.post(
        "/api/v1/events/attachments", headers=bearer(loop.people.resident()),
        files={"file": ("clip.mp4", too_big, "video/mp4")})
    assert (response.status_code, response.json()["code"]) == (413, "attachment_too_large")
    assert set(os.listdir(tmp_path)) == before


async def test_a_signed_link_plays_through_the_gateway_without_a_token(
    loop: Loop, token_verifier: Any
) -> None:
    apps = loop.apps  # type: ignore[attr-defined]
    settings = GatewaySettings()  # the default public paths include the signed route
    gateway = create_gateway_app(
        settings, verifier=token_verifier,
        upstreams={name: AsgiUpstream(name, app, settings.upstream_timeout_seconds)
                   for name, app in apps.items()},
    )
    async with gateway.lifespan(), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway), base_url="http://gateway"
    ) as client:
        upload = await _upload(loop, MP4)
        minted = await client.post(f"/api/v1/events/attachments/{upload['id']}/link",
                                   headers=bearer(loop.people.resident()))
        assert minted.status_code == 200, minted.text
        played = await client.get(minted.json()["url"], headers={"Range": "bytes=0-1023"})
        assert played.status_code == 206, played.text
        assert played.headers["content-range"] == f"bytes 0-1023/{len(MP4)}"
        assert played.content == MP4[:1024]
        # Everything else under /attachments still needs a token at the gateway.
        anonymous = await client.get(f"/api/v1/events/attachments/{upload['id']}")
        assert anonymous.status_code == 401


# -- the pieces without I/O ------------------------------------------------------------------


def test_range_headers_map_to_spans_as_rfc_9110_says() -> None:
    assert byte_span(None, 100) == ByteSpan(0, 99, 100, partial=False)
    assert byte_span("bytes=0-9", 100) == ByteSpan(0, 9, 100, partial=True)
    assert byte_span("bytes=90-200", 100) == ByteSpan(90, 99, 100, partial=True)
    assert byte_span("bytes=-200", 100) == ByteSpan(0, 99, 100, partial=True)
    for ignored in ("items=0-9", "bytes=9-0", "bytes=0-1,4-5", "bytes=x-1", "bytes=-"):
        assert byte_span(ignored, 100).partial is False, ignored
    for refused in ("bytes=100-", "bytes=-0"):
        with pytest.raises(RangeNotSatisfiable) as caught:
            byte_span(refused, 100)
        assert caught.value.headers == {"Content-Range": "bytes */100"}


def test_a_decompression_bomb_gets_no_thumbnail() -> None:
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")  # 81 megapixels in a few kilobytes
    assert len(out.getvalue()) < 100_000
    with pytest.raises(ThumbnailImpossible):
        make_thumbnail(out.getvalue())
    with pytest.raises(ThumbnailImpossible):
        make_thumbnail(b"\xff\xd8\xff" + b"\x00" * 100)  # a JPEG in name only


def test_the_link_key_is_a_real_secret_in_prod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHOME_ENV", "prod")
    real = {"internal_api_key": "k" * 32, "pii_keys": "p1:" + "p" * 32,
            "pii_index_key": "i" * 32, "reporter_seal_keys": "s1:" + "s" * 32}
    derived = EventsSettings(**real)
    assert derived.attachment_link_key() not in ("", real["internal_api_key"])
    assert EventsSettings(**real, attachment_url_key="u" * 32).attachment_link_key() == "u" * 32
    with pytest.raises(ValueError, match="EHOME_EVENTS_ATTACHMENT_URL_KEY"):
        EventsSettings(**real, attachment_url_key="dev-only-link-key")


async def test_concurrent_writes_of_one_key_leave_one_whole_file(tmp_path: Path) -> None:
    storage = LocalDirStorage(tmp_path)
    await asyncio.gather(*(storage.put("photo.thumb", bytes([n]) * 200_000) for n in range(8)))
    stored = await storage.get("photo.thumb")
    assert len(stored) == 200_000
    assert len(set(stored)) == 1
    assert os.listdir(tmp_path) == ["photo.thumb"]
