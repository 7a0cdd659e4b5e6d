"""The same large bodies in the embedded mode (``make run``): every service app in the
gateway's process, reached through AsgiUpstream, the gateway under uvicorn on a real socket,
over PostgreSQL and RabbitMQ. A CSV export arrives whole; a 20 MiB video uploads past the
10 MiB body limit and plays back whole and by Range; an upload over the upload limit is 413
with nothing stored."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from bench.search.data import ensure_cases
from gateway.embedded import assemble_gateway, build_service_apps
from gateway.server import guarded_protocol
from gateway.settings import GatewaySettings
from shared.auth.tokens import SigningKey, TokenVerifier
from shared.db.database import asyncpg_dsn
from shared.db.migrate import SERVICES, schema_name
from shared.testing.live_server import serving
from shared.testing.plugin import Migrator
from tests.gateway.large_bodies import (
    UPLOAD_LIMIT,
    export_csv,
    oversized_upload_leaves_nothing,
    upload_video,
    video_plays_back,
)

ROWS = 5_000


@dataclass
class Embedded:
    url: str
    attachments: Path
    db: asyncpg.Connection


@pytest.fixture(scope="module")
async def embedded(
    amqp_url: str,
    database_url: str,
    migrator: Migrator,
    run_prefix: str,
    signing_key: SigningKey,
    token_verifier: TokenVerifier,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Embedded]:
    prefix = f"{run_prefix}m{uuid.uuid4().hex[:5]}"
    await migrator.ensure(*SERVICES, "partner", prefix=prefix)
    attachments = tmp_path_factory.mktemp("embedded-attachments")
    apps = build_service_apps(
        database_url=database_url, amqp_url=amqp_url, signing_key=signing_key,
        verifier=token_verifier,
        settings_overrides={
            "environment": "test", "schema_prefix": prefix, "amqp_prefix": prefix,
            "outbox_poll_seconds": 0.2, "attachment_dir": str(attachments),
        },
    )
    settings = GatewaySettings(rate_limit_per_second=1000, rate_limit_burst=1000,
                               upload_max_body_bytes=UPLOAD_LIMIT)
    gateway = assemble_gateway(settings, apps, token_verifier)
    db = await asyncpg.connect(asyncpg_dsn(database_url), server_settings={
        "search_path": f'"{schema_name("events", prefix)}"'})
    try:
        await ensure_cases(db, ROWS)
        async with serving(gateway, lifespan="on", http=guarded_protocol(10.0, 20.0)) as url:
            yield Embedded(url, attachments, db)
    finally:
        await db.close()


async def test_an_export_arrives_whole_from_an_in_process_events_service(
    embedded: Embedded, make_token: Callable[..., str]
) -> None:
    async with httpx.AsyncClient(base_url=embedded.url, timeout=120) as client:
        rows, _, tail = await export_csv(client, make_token(roles=["admin"]))
    assert rows == ROWS
    assert tail.endswith(b"\n")


async def test_a_20_mib_video_uploads_to_an_in_process_events_service_and_plays_back(
    embedded: Embedded, make_token: Callable[..., str]
) -> None:
    token = make_token()
    async with httpx.AsyncClient(base_url=embedded.url, timeout=60) as client:
        attachment = await upload_video(client, token)
        await video_plays_back(client, token, attachment["id"])


async def test_an_upload_over_the_limit_is_413_with_nothing_stored_in_process(
    embedded: Embedded, make_token: Callable[..., str]
) -> None:
    owner = uuid.uuid4()
    async with httpx.AsyncClient(base_url=embedded.url, timeout=60) as client:
        await oversized_upload_leaves_nothing(
            client, make_token(subject=owner), owner, embedded.db, embedded.attachments
        )
