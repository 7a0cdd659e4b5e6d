"""Outbox relay: publishes what the service committed to its outbox, at least once.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` inside a transaction that stays open while the
batch is published, so several replicas can relay one outbox without publishing a row twice at
the same time; a row is marked published only after the broker confirmed it. The relay sleeps
until PostgreSQL NOTIFY wakes it (sent by the unit of work at commit) or a poll interval ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import asyncpg
import orjson
from sqlalchemy import text

from shared.db.database import Database, asyncpg_dsn
from shared.logs import get_logger
from shared.messaging.broker import Broker

log = get_logger(__name__)

_CLAIM = text(
    """
    SELECT id, event_id, routing_key, envelope
    FROM outbox
    WHERE published_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= now())
    ORDER BY id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)
_MARK_PUBLISHED = text("UPDATE outbox SET published_at = now() WHERE id = ANY(:ids)")
_MARK_FAILED = text(
    """
    UPDATE outbox
    SET attempts = attempts + 1,
        last_error = :error,
        next_attempt_at = now() + make_interval(secs => least(:cap, :base * power(2, attempts)))
    WHERE id = ANY(:ids)
    """
)
_PURGE = text("DELETE FROM outbox WHERE published_at < now() - make_interval(secs => :age)")
_PENDING = text("SELECT count(*) FROM outbox WHERE published_at IS NULL")


class OutboxRelay:
    def __init__(
        self,
        database: Database,
        broker: Broker,
        *,
        batch_size: int = 100,
        poll_seconds: float = 1.0,
        retry_base_seconds: float = 0.5,
        retry_cap_seconds: float = 10.0,
        retention: timedelta = timedelta(days=7),
    ) -> None:
        self._database = database
        self._broker = broker
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._retry_base = retry_base_seconds
        self._retry_cap = retry_cap_seconds
        self._retention = retention
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self.published_total = 0
        self.failed_total = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._database.schema}")

    async def stop(self) -> None:
        """Finish the batch in hand, then stop. Nothing claimed is left half-published: an
        unconfirmed row stays unpublished and is claimed again by a live replica."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self._close_listener()

    def wake(self) -> None:
        self._wake.set()

    # -- work --------------------------------------------------------------------------------

    async def publish_batch(self) -> int:
        """Claim one batch, publish it, record the outcome. Returns rows claimed."""
        # A Core transaction: an ORM session per batch would add only its own bookkeeping.
        async with self._database.engine.begin() as connection:
            rows = (await connection.execute(_CLAIM, {"limit": self._batch_size})).all()
            if not rows:
                return 0
            results = await self._broker.publish_many(
                [(row.routing_key, orjson.dumps(row.envelope), str(row.event_id)) for row in rows]
            )
            sent = [row.id for row, err in zip(rows, results, strict=True) if err is None]
            failed = [(row, err) for row, err in zip(rows, results, strict=True) if err is not None]
            if sent:
                await connection.execute(_MARK_PUBLISHED, {"ids": sent})
            if failed:
                await connection.execute(
                    _MARK_FAILED,
                    {
                        "ids": [row.id for row, _ in failed],
                        "error": str(failed[0][1])[:500],
                        "base": self._retry_base,
                        "cap": self._retry_cap,
                    },
                )
                log.warning(
                    "outbox_publish_failed",
                    schema=self._database.schema,
                    failed=len(failed),
                    error=str(failed[0][1])[:200],
                )
        self.published_total += len(sent)
        self.failed_total += len(failed)
        return len(rows)

    async def drain(self) -> None:
        """Publish until a batch comes back short (used by tests and by shutdown)."""
        while await self.publish_batch() >= self._batch_size:
            pass

    async def pending(self) -> int:
        async with self._database.engine.connect() as connection:
            return int((await connection.execute(_PENDING)).scalar_one())

    async def purge_published(self) -> None:
        async with self._database.engine.begin() as connection:
            await connection.execute(_PURGE, {"age": self._retention.total_seconds()})

    async def _run(self) -> None:
        await self._open_listener()
        loop = asyncio.get_running_loop()
        next_purge = loop.time() + 60
        while not self._stopping:
            self._wake.clear()
            try:
                claimed = await self.publish_batch()
                if loop.time() >= next_purge:
                    await self.purge_published()
                    next_purge = loop.time() + 600
            except Exception as exc:
                # Database away or similar: keep the relay alive and try again after a pause.
                log.error("outbox_relay_error", schema=self._database.schema, error=str(exc))
                claimed = 0
                await self._sleep(self._poll_seconds)
                continue
            if claimed >= self._batch_size:
                continue  # more waiting; loop straight on
            if self._listener is None or self._listener.is_closed():
                await self._open_listener()
            await self._sleep(self._poll_seconds)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _open_listener(self) -> None:
        try:
            self._listener = await asyncpg.connect(asyncpg_dsn(self._database.url), timeout=5)
            await self._listener.add_listener(
                self._database.notify_channel, lambda *_: self._wake.set()
            )
        except Exception as exc:
            # Polling still works without NOTIFY; only latency suffers.
            log.warning("outbox_listen_unavailable", error=str(exc))
            self._listener = None

    async def _close_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close()
        self._listener = None
