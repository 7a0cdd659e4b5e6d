"""The real events service behind the real gateway, each in its own uvicorn process
(distributed mode), on this run's PostgreSQL schema and RabbitMQ: a 100,000-row CSV export
streams through the gateway without raising its memory; a 20 MiB video uploads through it
(twice the ordinary body limit) and plays back whole and by Range; an upload over the upload
limit is refused with 413 and leaves no attachment behind.

Memory is the gateway process's own, read from /proc: its resident size before, and its
peak (``VmHWM``, reset through ``/proc/<pid>/clear_refs`` just before) during the transfer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from bench.processes import free_ports, platform_env, spawn, stop, wait_ready
from bench.search.data import ensure_cases
from shared.auth.tokens import SigningKey
from shared.db.database import asyncpg_dsn
from shared.db.migrate import schema_name
from shared.testing.plugin import AUDIENCE, ISSUER, Migrator
from tests.gateway.large_bodies import (
    MB,
    UPLOAD_LIMIT,
    export_csv,
    oversized_upload_leaves_nothing,
    upload_video,
    video_plays_back,
)

ROWS = 100_000


@dataclass
class Deployed:
    gateway_url: str
    gateway_pid: int
    attachments: Path
    db: asyncpg.Connection

    def rss_mb(self) -> float:
        return _status_kb(self.gateway_pid, "VmRSS") / 1024

    def reset_peak(self) -> None:
        Path(f"/proc/{self.gateway_pid}/clear_refs").write_text("5")  # VmHWM := VmRSS

    def peak_mb(self) -> float:
        return _status_kb(self.gateway_pid, "VmHWM") / 1024


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


@pytest.fixture(scope="module")
async def deployed(
    database_url: str,
    amqp_url: str,
    migrator: Migrator,
    run_prefix: str,
    signing_key: SigningKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Deployed]:
    prefix = f"{run_prefix}gw{uuid.uuid4().hex[:4]}"
    await migrator.ensure("events", prefix=prefix)
    db = await asyncpg.connect(asyncpg_dsn(database_url), server_settings={
        "search_path": f'"{schema_name("events", prefix)}"'})
    await ensure_cases(db, ROWS)  # generated in SQL (generate_series), in seconds
    attachments = tmp_path_factory.mktemp("attachments")
    events_port, gateway_port = free_ports(2)
    events_url = f"http://127.0.0.1:{events_port}"
    env = platform_env(
        database_url=database_url, amqp_url=amqp_url, prefix=prefix, rabbit=True,
        public_key=signing_key.public_key, EHOME_JWT_ISSUER=ISSUER, EHOME_JWT_AUDIENCE=AUDIENCE,
        EHOME_EVENTS_ATTACHMENT_DIR=str(attachments),
        EHOME_GATEWAY_UPSTREAM_URLS=json.dumps({"events": events_url}),
        EHOME_GATEWAY_UPLOAD_MAX_BODY_BYTES=str(UPLOAD_LIMIT),
        EHOME_GATEWAY_RATE_LIMIT_BURST="10000",
    )
    events = spawn("services.events.app:create_app", events_port, env)
    gateway = spawn("gateway.distributed:create_gateway_from_env", gateway_port, env)
    try:
        wait_ready(events_url, within=60, process=events)
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        wait_ready(gateway_url, within=60, process=gateway)
        yield Deployed(gateway_url, gateway.pid, attachments, db)
    finally:
        stop([events, gateway])
        await db.close()


async def test_a_100000_row_export_streams_through_the_gateway_in_little_memory(
    deployed: Deployed, make_token: Callable[..., str]
) -> None:
    token = make_token(roles=["admin"])
    async with httpx.AsyncClient(base_url=deployed.gateway_url, timeout=300) as client:
        warm_up = await export_csv(client, token, case_no="B000000001")
        before = deployed.rss_mb()
        deployed.reset_peak()
        rows, size, tail = await export_csv(client, token)
        rise = deployed.peak_mb() - before
    print(f"\nexport: {rows} rows, {size / MB:.1f} MB through the gateway; "
          f"gateway RSS {before:.1f} MB before, peak rise {rise:.1f} MB")
    assert warm_up[0] == 1
    assert rows == ROWS  # complete: every case, the last line whole
    assert tail.endswith(b"\r\n") or tail.endswith(b"\n")
    assert rise < 50
    # A gateway holding the body would rise by at least its size; this holds a sliver of it.
    assert rise < size / MB / 4


async def test_a_20_mib_video_uploads_through_the_gateway_and_plays_back_by_range(
    deployed: Deployed, make_token: Callable[..., str]
) -> None:
    token = make_token()
    async with httpx.AsyncClient(base_url=deployed.gateway_url, timeout=60) as client:
        before = deployed.rss_mb()
        deployed.reset_peak()
        attachment = await upload_video(client, token)
        upload_rise = deployed.peak_mb() - before
        await video_plays_back(client, token, attachment["id"])
    print(f"\nupload: 20 MiB through the gateway; its peak rise {upload_rise:.1f} MB")
    assert upload_rise < 10  # streamed on, not held: the video is 20 MiB


async def test_an_upload_over_the_upload_limit_is_413_and_leaves_no_attachment(
    deployed: Deployed, make_token: Callable[..., str]
) -> None:
    owner = uuid.uuid4()
    async with httpx.AsyncClient(base_url=deployed.gateway_url, timeout=60) as client:
        await oversized_upload_leaves_nothing(
            client, make_token(subject=owner), owner, deployed.db, deployed.attachments
        )
