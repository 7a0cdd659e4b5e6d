"""A retried upload is answered with the first attachment: the grid app resends a queued photo
with the same Idempotency-Key when the answer was lost, and the platform keeps one row and one
stored object for it."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.events.storage import LocalDirStorage, S3Storage, StoredObjectMissing
from tests.events.flows import Loop, bearer
from tests.events.test_attachment_storage_s3 import s3, s3_endpoint  # noqa: F401 (fixtures)

JPEG = b"\xff\xd8\xff\xe0" + os.urandom(2_000)
OTHER_JPEG = b"\xff\xd8\xff\xe0" + os.urandom(2_000)


def _key() -> str:
    return f"photo-{uuid.uuid4().hex}"


async def _upload(loop: Loop, token: str, data: bytes, key: str | None) -> httpx.Response:
    headers = bearer(token, **({"Idempotency-Key": key} if key else {}))
    return await loop.events.post("/api/v1/events/attachments", headers=headers,
                                  files={"file": ("site.jpg", data, "image/jpeg")})


async def _rows(loop: Loop) -> int:
    assert loop.sql is not None
    return int(await loop.sql("events", "SELECT count(*) FROM attachments"))


def _stored(root: Path) -> list[Path]:
    """The objects the local storage holds (the loop's attachment_dir is tmp_path)."""
    return [p for p in root.iterdir() if p.is_file() and len(p.name) == 32]


async def test_an_upload_retried_with_its_key_gives_the_same_attachment_once(
    loop: Loop, tmp_path: Path,
) -> None:
    worker, key = loop.people.grid_worker(), _key()
    first = await _upload(loop, worker, JPEG, key)
    assert first.status_code == 201, first.text
    again = await _upload(loop, worker, JPEG, key)
    assert (again.status_code, again.json()) == (201, first.json())
    assert await _rows(loop) == 1
    assert [p.name for p in _stored(tmp_path)] == [uuid.UUID(first.json()["id"]).hex]
    read = await loop.events.get(f"/api/v1/events/attachments/{first.json()['id']}",
                                 headers=bearer(worker))
    assert (read.status_code, read.content) == (200, JPEG)


async def test_other_bytes_under_the_same_key_are_refused_and_not_kept(
    loop: Loop, tmp_path: Path,
) -> None:
    worker, key = loop.people.grid_worker(), _key()
    first = await _upload(loop, worker, JPEG, key)
    assert first.status_code == 201, first.text
    reused = await _upload(loop, worker, OTHER_JPEG, key)
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert await _rows(loop) == 1
    assert len(_stored(tmp_path)) == 1


async def test_without_a_key_each_upload_is_its_own_attachment(
    loop: Loop, tmp_path: Path,
) -> None:
    worker = loop.people.grid_worker()
    answers: list[Any] = [await _upload(loop, worker, JPEG, None) for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["id"] != answers[1].json()["id"]
    assert await _rows(loop) == 2
    assert len(_stored(tmp_path)) == 2


async def test_someone_elses_upload_under_the_same_key_is_their_own(
    loop: Loop, tmp_path: Path,
) -> None:
    key = _key()
    mine = await _upload(loop, loop.people.grid_worker(), JPEG, key)
    theirs = await _upload(loop, loop.people.grid_worker(), JPEG, key)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert await _rows(loop) == 2
    assert len(_stored(tmp_path)) == 2


async def test_a_refused_type_under_a_key_stores_nothing_and_leaves_the_key_free(
    loop: Loop, tmp_path: Path,
) -> None:
    worker, key = loop.people.grid_worker(), _key()
    refused = await _upload(loop, worker, b"%PDF-1.7 not a photo at all", key)
    assert refused.status_code == 415
    assert (await _rows(loop), _stored(tmp_path)) == (0, [])
    accepted = await _upload(loop, worker, JPEG, key)
    assert accepted.status_code == 201, accepted.text


async def test_local_storage_deletes_an_object_and_tolerates_a_missing_one(
    tmp_path: Path,
) -> None:
    storage = LocalDirStorage(tmp_path / "objects")
    await storage.put("photo", JPEG)
    await storage.delete("photo")
    await storage.delete("photo")
    with pytest.raises(StoredObjectMissing):
        await storage.get("photo")


async def test_s3_storage_deletes_an_object_and_tolerates_a_missing_one(
    s3: S3Storage,  # noqa: F811 (the fixture imported above)
) -> None:
    await s3.put("retried", JPEG)
    assert await s3.get("retried") == JPEG
    await s3.delete("retried")
    await s3.delete("retried")
    with pytest.raises(StoredObjectMissing):
        await s3.get("retried")
