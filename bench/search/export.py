"""Export memory: the events service under uvicorn (its own process, on the bench's schema)
streams ``GET /api/v1/events/search/export.csv`` (then ``.xlsx``) for about 100,000 cases
to this process, which reads the body as it comes; the service's peak resident memory
(``VmHWM``) is compared with its resident memory (``VmRSS``) just before, after a warm-up
export of a few rows."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from bench.processes import platform_env, spawn, stop, wait_ready
from shared.auth.tokens import TokenSigner, generate_signing_key

ISSUER, AUDIENCE = "ehome-identity", "ehome"
PORT = 18231
RISE_TARGET_MB = 50.0


def _status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


async def _since_for(conn: asyncpg.Connection, rows: int) -> datetime:
    """The reported-from moment that leaves ``rows`` cases (or all there are) after it."""
    at = await conn.fetchval("SELECT reported_at FROM cases ORDER BY reported_at DESC "
                             "OFFSET $1 LIMIT 1", rows - 1)
    return at if at is not None else datetime.now(UTC) - timedelta(days=4000)


async def _export(client: httpx.AsyncClient, since: datetime, token: str,
                  kind: str = "csv") -> tuple[int, int]:
    """Rows (CSV: lines less the header; XLSX: not counted, -1) and bytes received."""
    lines = size = 0
    async with client.stream("GET", f"/api/v1/events/search/export.{kind}",
                             params={"reported_from": since.isoformat()},
                             headers={"Authorization": f"Bearer {token}"}) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
    return (lines - 1 if kind == "csv" else -1), size


async def measure_export(conn: asyncpg.Connection, database_url: str, prefix: str,
                         rows: int, kind: str = "csv") -> dict[str, Any]:
    key = generate_signing_key()
    token = TokenSigner(key, issuer=ISSUER, audience=AUDIENCE).access_token(
        subject=uuid.uuid4(), roles=["admin"], kind="staff")
    attachments = tempfile.mkdtemp(prefix=f"{prefix}-attachments-")
    env = platform_env(
        database_url=database_url, amqp_url=os.environ.get("AMQP_URL", ""), prefix=prefix,
        rabbit=False, public_key=key.public_key, EHOME_JWT_ISSUER=ISSUER,
        EHOME_JWT_AUDIENCE=AUDIENCE, EHOME_EVENTS_ATTACHMENT_DIR=attachments,
    )
    process = spawn("services.events.app:create_app", PORT, env)
    try:
        wait_ready(f"http://127.0.0.1:{PORT}", process=process)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}",
                                     timeout=600) as client:
            await _export(client, await _since_for(conn, 100), token)  # warm-up
            before = _status_kb(process.pid, "VmRSS")
            started = time.perf_counter()
            exported, size = await _export(client, await _since_for(conn, rows), token, kind)
            seconds = time.perf_counter() - started
        peak = _status_kb(process.pid, "VmHWM")
    finally:
        stop([process])
        shutil.rmtree(attachments, ignore_errors=True)
    rise = max(0, peak - before) / 1024
    if exported < 0:
        exported = rows  # the filter leaves this many; an XLSX body is not counted here
    return {"format": kind, "rows": exported, "mb": round(size / 2**20, 1),
            "seconds": round(seconds, 1),
            "rss_before_mb": round(before / 1024, 1), "peak_rise_mb": round(rise, 1),
            "target_met": rise < RISE_TARGET_MB and exported >= min(rows, 1)}
