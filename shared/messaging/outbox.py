"""Outbox relay: publishes what the service committed to its outbox, at least once.

Two paths. **Direct**: a unit of work of this process hands the relay the rows it has just
committed (``dispatch``); they are published at once from memory and marked published in
batches. Such rows are written held (``next_attempt_at`` = commit time + ``hold``), so no sweep
claims them while this process publishes them. **Sweep**: everything else — rows of processes
without a relay, rows the direct path failed to publish or a crash left behind once their hold
has passed, retries after a failure — is claimed from the table.

A row is published a second time only when the broker may really not have it: its channel was
lost before the confirm, or its process died. A confirm that is merely late (a busy broker, a
starved event loop) is waited for: the broker's answer comes on a live channel, and while the
direct path waits it renews the rows' hold. Rows the direct path will not publish (broker
away, failed, waited in its backlog too long) are handed to the sweep at once, not after their
hold. While the broker is away the sweep claims nothing, so no attempt is spent on it.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` inside a transaction that stays open while the
batch is published, so several replicas can relay one outbox without publishing a row twice at
the same time; a row is marked published only after the broker confirmed it. The relay sleeps
until PostgreSQL NOTIFY wakes it (sent by the unit of work at commit) or a poll interval ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import orjson
from sqlalchemy import text

from shared.db.database import Database, asyncpg_dsn
from shared.db.statements import Statement
from shared.db.uow import OutboxRecord, UnitOfWork
from shared.logs import get_logger
from shared.messaging.broker import Broker

log = get_logger(__name__)

_CLAIM = Statement(text(
    """
    SELECT id, event_id, routing_key, envelope
    FROM outbox
    WHERE published_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= now())
    ORDER BY id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
))
_MARK_PUBLISHED = Statement(text("UPDATE outbox SET published_at = now() WHERE id = ANY(:ids)"))
# Losing this commit in a crash costs a second publication of rows the broker already has
# (consumers deduplicate), never a lost event: it need not wait for the WAL flush.
_ASYNC_COMMIT = Statement(text("SET LOCAL synchronous_commit TO OFF"))
_MARK_FAILED = Statement(text(
    """
    UPDATE outbox
    SET attempts = attempts + 1,
        last_error = :error,
        next_attempt_at = now() + make_interval(secs => least(:cap, :base * power(2, attempts)))
    WHERE id = ANY(:ids)
    """
))
# The direct path's rows: held longer while their confirms are late (so no sweep publishes
# them a second time), or handed to the sweep at once when this process will not publish them.
# A row a sweep has claimed (locked) is skipped: it is being published already, and waiting
# for that sweep's transaction would stall the direct path (and its marks) meanwhile.
_EXTEND_HOLD = Statement(text(
    """
    UPDATE outbox SET next_attempt_at = now() + make_interval(secs => :hold)
    WHERE id IN (SELECT id FROM outbox WHERE id = ANY(:ids) AND published_at IS NULL
                 FOR UPDATE SKIP LOCKED)
    """
))
_RELEASE_HOLD = Statement(text(
    """
    UPDATE outbox SET next_attempt_at = now()
    WHERE id IN (SELECT id FROM outbox WHERE id = ANY(:ids) AND published_at IS NULL
                 FOR UPDATE SKIP LOCKED)
    """
))
_PURGE = Statement(
    text("DELETE FROM outbox WHERE published_at < now() - make_interval(secs => :age)")
)
_PENDING = Statement(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))


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
        hold: timedelta = timedelta(seconds=15),
        direct_backlog: int = 10_000,
        mark_linger_seconds: float = 0.2,
    ) -> None:
        self._database = database
        self._broker = broker
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._retry_base = retry_base_seconds
        self._retry_cap = retry_cap_seconds
        self._retention = retention
        self._hold = hold
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        # The direct path: rows committed here (with when they were handed over), waiting to
        # be published; and rows it leaves to the sweep, whose hold is to be released.
        self._direct: list[tuple[float, OutboxRecord]] = []
        self._to_release: list[int] = []
        self._direct_backlog = direct_backlog
        self._direct_ready = asyncio.Event()
        self._direct_idle = asyncio.Event()  # nothing in hand: none waiting, none publishing
        self._direct_idle.set()
        self._direct_task: asyncio.Task[None] | None = None
        self._confirmed: list[int] = []  # published, not yet marked
        self._mark_linger = mark_linger_seconds
        self._mark_due = 0.0
        self._listener: asyncpg.Connection | None = None
        self.published_total = 0
        self.failed_total = 0
        # Left to the sweep: backlog full, relay stopping, or waited here too long.
        self.direct_skipped_total = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        name = f"outbox-relay-{self._database.schema}"
        self._task = asyncio.create_task(self._run(), name=name)
        self._direct_task = asyncio.create_task(self._run_direct(), name=f"{name}-direct")
        self._database.outbox_dispatcher = self

    async def stop(self) -> None:
        """Finish the batch in hand, then stop. Nothing claimed is left half-published: an
        unconfirmed row stays unpublished and is claimed again by a live replica. Confirms
        are waited for as long as the broker's channel lives, so the wait is bounded here (by
        the hold): past it the batch is abandoned, and its rows are swept once their hold
        has passed (a late confirm among them makes a duplicate, which consumers drop)."""
        self._stopping = True
        if self._database.outbox_dispatcher is self:
            self._database.outbox_dispatcher = None
        self._wake.set()
        self._direct_ready.set()
        tasks = [task for task in (self._direct_task, self._task) if task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self._hold.total_seconds())
            for task in late:
                log.warning("outbox_relay_stop_abandoned_batch", schema=self._database.schema)
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self._task = self._direct_task = None
        await self._close_listener()

    def wake(self) -> None:
        self._wake.set()

    # -- direct path -------------------------------------------------------------------------

    @property
    def hold(self) -> timedelta:
        return self._hold

    def dispatch(self, records: list[OutboxRecord]) -> None:
        """Publish rows a unit of work has just committed. Never blocks and never fails: what
        cannot be taken now (stopping, backlog full) is swept once its hold has passed."""
        if self._stopping or len(self._direct) >= self._direct_backlog:
            self.direct_skipped_total += len(records)
            self._to_release.extend(record.id for record in records)
        else:
            now = asyncio.get_running_loop().time()
            self._direct.extend((now, record) for record in records)
        self._direct_idle.clear()
        self._direct_ready.set()

    @property
    def _hold_refresh_seconds(self) -> float:
        """How long the direct path may keep a row before its hold must be renewed: a third
        of the hold, which leaves the other two thirds as margin (the hold runs from the
        start of the row's transaction, a little before it was handed over)."""
        return self._hold.total_seconds() / 3

    async def _run_direct(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if self._confirmed and not self._stopping:
                # Marks wait a little for company: one UPDATE for many rows.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(self._mark_due - loop.time(), 0)):
                        await self._direct_ready.wait()
            elif not self._stopping:
                await self._direct_ready.wait()
            self._direct_ready.clear()
            if self._direct:
                # Stopping: one last attempt at everything in hand.
                size = len(self._direct) if self._stopping else self._batch_size
                batch = self._fresh(self._direct[:size])
                del self._direct[:size]
                self._direct_ready.set()  # look again once this batch is done
                try:
                    if batch:
                        await self._publish_direct(batch)
                except Exception as exc:  # the rows stay held, then the sweep publishes them
                    log.error("outbox_direct_error", schema=self._database.schema, error=str(exc))
            if self._to_release:
                await self._release_holds()
            if self._confirmed and (
                self._stopping
                or len(self._confirmed) >= self._batch_size
                or loop.time() >= self._mark_due
            ):
                await self._mark_confirmed()
            if not self._direct and not self._confirmed and not self._to_release:
                self._direct_idle.set()
                if self._stopping:
                    return

    def _fresh(self, batch: list[tuple[float, OutboxRecord]]) -> list[OutboxRecord]:
        """The records still well inside their hold; older ones (a backlog waited here) are
        left to the sweep, which takes them at once, rather than risk both publishing one."""
        oldest = asyncio.get_running_loop().time() - self._hold_refresh_seconds
        stale = [record.id for handed, record in batch if handed < oldest]
        if stale:
            self.direct_skipped_total += len(stale)
            self._to_release.extend(stale)
        return [record for handed, record in batch if handed >= oldest]

    async def _publish_direct(self, batch: Sequence[OutboxRecord]) -> None:
        ids = [record.id for record in batch]
        if not await self._broker.ready():
            # Broker away: do not wait for it here; the sweep publishes these once it is back.
            await self._record_direct_failures(ids, "broker not connected")
            return
        publishing = asyncio.ensure_future(self._broker.publish_many(
            [(record.routing_key, record.body, str(record.event_id)) for record in batch]
        ))
        await self._await_confirms(publishing, ids)
        results = publishing.result()
        sent = [record.id for record, err in zip(batch, results, strict=True) if err is None]
        failed = [(record.id, err) for record, err in zip(batch, results, strict=True)
                  if err is not None]
        if sent:
            if not self._confirmed:
                self._mark_due = asyncio.get_running_loop().time() + self._mark_linger
            self._confirmed.extend(sent)
            self.published_total += len(sent)
        if failed:
            await self._record_direct_failures([i for i, _ in failed], str(failed[0][1]))

    async def _await_confirms(self, publishing: asyncio.Future[Any], ids: list[int]) -> None:
        """Wait for a batch's confirms, however late (the broker answers every publish on a
        live channel). Meanwhile the rows' hold is renewed, so that no sweep publishes them
        again, and earlier batches' rows are marked when due, not after this one."""
        loop = asyncio.get_running_loop()
        renew_at = loop.time() + self._hold_refresh_seconds
        while not publishing.done():
            wake_at = min(renew_at, self._mark_due) if self._confirmed else renew_at
            await asyncio.wait({publishing}, timeout=max(wake_at - loop.time(), 0))
            if publishing.done():
                return
            if self._confirmed and loop.time() >= self._mark_due:
                await self._mark_confirmed()
            if loop.time() >= renew_at:
                await self._extend_holds(ids)
                renew_at = loop.time() + self._hold_refresh_seconds

    async def _record_direct_failures(self, ids: list[int], error: str) -> None:
        """Not confirmed (the broker away or the channel lost): the sweep retries the rows
        after the usual growing pause instead of waiting out their hold."""
        self.failed_total += len(ids)
        log.warning("outbox_publish_failed", schema=self._database.schema, failed=len(ids),
                    error=error[:200])
        try:
            async with self._uow() as uow:
                await uow.execute(_MARK_FAILED, {
                    "ids": ids, "error": error[:500], "base": self._retry_base,
                    "cap": self._retry_cap,
                })
        except Exception as exc:  # still held: the sweep takes them once the hold has passed
            log.error("outbox_mark_failed", schema=self._database.schema, rows=len(ids),
                      error=str(exc))
        self._wake.set()

    async def _extend_holds(self, ids: list[int]) -> None:
        log.info("outbox_confirms_late", schema=self._database.schema, rows=len(ids))
        try:
            async with self._uow() as uow:
                await uow.execute(
                    _EXTEND_HOLD, {"ids": ids, "hold": self._hold.total_seconds()}
                )
        except Exception as exc:  # the next renewal tries again
            log.error("outbox_hold_renewal_failed", schema=self._database.schema,
                      rows=len(ids), error=str(exc))

    async def _release_holds(self) -> None:
        ids, self._to_release = self._to_release, []
        try:
            async with self._uow() as uow:
                await uow.execute(_RELEASE_HOLD, {"ids": ids})
        except Exception as exc:  # they are swept once their hold has passed instead
            log.error("outbox_release_failed", schema=self._database.schema, rows=len(ids),
                      error=str(exc))
        self._wake.set()

    async def _mark_confirmed(self) -> None:
        ids, self._confirmed = self._confirmed, []
        try:
            async with self._uow() as uow:
                await uow.execute(_ASYNC_COMMIT)
                await uow.execute(_MARK_PUBLISHED, {"ids": ids})
        except Exception as exc:  # published, but still held: the sweep publishes them again
            log.error("outbox_mark_failed", schema=self._database.schema, rows=len(ids),
                      error=str(exc))

    async def settled(self) -> None:
        """Wait until the direct path has nothing left in hand."""
        await self._direct_idle.wait()

    # -- work --------------------------------------------------------------------------------

    async def publish_batch(self) -> int:
        """Claim one batch, publish it, record the outcome. Returns rows claimed."""
        if not await self._broker.ready():
            # Nothing claimed while the broker is away: no attempt is spent, no pause grows,
            # and the rows go out as soon as it is back.
            return 0
        async with self._uow() as uow:
            rows = await uow.fetch(_CLAIM, {"limit": self._batch_size})
            if not rows:
                return 0
            results = await self._broker.publish_many(
                [(row["routing_key"], orjson.dumps(row["envelope"]), str(row["event_id"]))
                 for row in rows]
            )
            sent = [row["id"] for row, err in zip(rows, results, strict=True) if err is None]
            failed = [(row, err) for row, err in zip(rows, results, strict=True) if err is not None]
            if sent:
                await uow.execute(_MARK_PUBLISHED, {"ids": sent})
            if failed:
                await uow.execute(
                    _MARK_FAILED,
                    {
                        "ids": [row["id"] for row, _ in failed],
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
        """Publish what was dispatched here, then sweep until a batch comes back short."""
        if self._direct_task is not None:
            await self.settled()
        while await self.publish_batch() >= self._batch_size:
            pass

    async def pending(self) -> int:
        async with self._uow() as uow:
            return int(await uow.fetchval(_PENDING))

    async def purge_published(self) -> None:
        async with self._uow() as uow:
            await uow.execute(_PURGE, {"age": self._retention.total_seconds()})

    def _uow(self) -> UnitOfWork:
        return UnitOfWork(self._database, producer="outbox-relay")

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
