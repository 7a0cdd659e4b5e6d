"""Outbox relay: publishes what the service committed to its outbox, at least once.

Two paths. **Direct**: a unit of work of this process hands the relay the rows it has just
committed (``dispatch``); the relay claims them at once — locks them, as the sweep does — and
publishes them from memory, marking them published in the same transaction. **Sweep**:
everything else — rows of processes without a relay, rows the direct path failed to publish or
a crash left behind, retries after a failure — is claimed from the table.

Every publication, direct or swept, happens under the row locks of one open transaction
(``FOR UPDATE SKIP LOCKED``), so no two relays — several replicas, or both paths of one —
publish a row at the same time, however late its confirm. The locks live exactly as long as
the publishing process's database session: when the process dies its rows are free again.
Rows the direct path is about to publish are written *held* (``next_attempt_at`` = now +
``hold``), which only spares the sweeps the work of taking them in the moment between commit
and lock; so the hold is short (a couple of seconds), and the rows a crashed process committed
but never published are swept that soon after. A row is published a second time only when the
broker may really not have it: its channel was lost before the confirm, or its process died
between a confirm and the commit of its mark. A confirm that is merely late (a busy broker, a
starved event loop) is waited for, the rows staying locked. Rows the direct path will not
publish (broker away, failed, backlog full) are handed to the sweep at once. While the broker is
away the sweep claims nothing, so no attempt is spent on it.

The relay sleeps until PostgreSQL NOTIFY wakes it (sent by the unit of work at commit) or a
poll interval ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import orjson
from sqlalchemy import text

from shared.db.database import Database, asyncpg_dsn
from shared.db.statements import Statement
from shared.db.uow import OutboxRecord, UnitOfWork
from shared.logs import get_logger
from shared.messaging.broker import Broker
from shared.periodic import PeriodicWorker

log = get_logger(__name__)

# Claiming a row marks it published, in the transaction that holds its lock until the
# confirms are in: committed only then, so a crash or a lost channel leaves it unpublished (the
# transaction rolls back), and a refused publication is unmarked again (_MARK_FAILED). One
# round trip, not a claim and a mark. Losing that commit in a crash costs a second publication
# of rows the broker already has (consumers deduplicate), never a lost event, so it need not
# wait for the WAL flush: ``synchronous_commit`` is set off for the transaction here too.
_ASYNC_COMMIT = ("WITH async_commit AS MATERIALIZED "
                 "(SELECT set_config('synchronous_commit', 'off', true))")
# The batch is read once (a materialized CTE), whatever plan the update gets.
_CLAIM = Statement(text(
    f"""
    {_ASYNC_COMMIT},
    claimed AS MATERIALIZED (
        SELECT id FROM outbox
        WHERE published_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= now())
        ORDER BY id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED)
    UPDATE outbox SET published_at = now()
    FROM claimed
    WHERE outbox.id = claimed.id AND EXISTS (SELECT FROM async_commit)
    RETURNING outbox.id, outbox.event_id, outbox.routing_key, outbox.envelope
    """
))
_MARK_FAILED = Statement(text(
    """
    UPDATE outbox
    SET published_at = NULL,
        attempts = attempts + 1,
        last_error = :error,
        next_attempt_at = now() + make_interval(secs => least(:cap, :base * power(2, attempts)))
    WHERE id = ANY(:ids)
    """
))
# The direct path claims the rows it was handed, as a sweep claims its batch; rows a sweep
# took meanwhile (locked, or published already) are skipped, never waited for.
_CLAIM_DIRECT = Statement(text(
    f"""
    {_ASYNC_COMMIT}
    UPDATE outbox SET published_at = now()
    WHERE id IN (SELECT id FROM outbox WHERE id = ANY(:ids) AND published_at IS NULL
                 FOR UPDATE SKIP LOCKED)
      AND EXISTS (SELECT FROM async_commit)
    RETURNING id
    """
))
# Rows the direct path will not publish: handed to the sweep at once instead of after their
# hold. Rows a sweep has locked are skipped (being published already).
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


@dataclass(frozen=True, slots=True)
class _Message:
    """A claimed outbox row, as it goes to the broker."""

    id: int
    routing_key: str
    body: bytes
    message_id: str


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
        hold: timedelta = timedelta(seconds=2),
        direct_backlog: int = 10_000,
        stop_timeout: timedelta = timedelta(seconds=15),
    ) -> None:
        self._database = database
        self._broker = broker
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._retry_base = retry_base_seconds
        self._retry_cap = retry_cap_seconds
        self._retention = retention
        self._hold = hold
        self._stop_timeout = stop_timeout
        self._stopping = False
        # The sweep: every poll_seconds, at once when NOTIFY or a failed publish wakes it, and
        # straight on while batches come back full. Its errors are logged here, each pass
        # retried after the poll interval (no backoff: the outbox is the platform's pulse).
        self._sweeper = PeriodicWorker(
            f"outbox-relay-{database.schema}", self._sweep_once, poll_seconds, jitter=0.0,
            grace=stop_timeout.total_seconds(), log_abandoned="outbox_relay_stop_abandoned_batch")
        self._next_purge = 0.0
        # The direct path: rows committed here, waiting to be published; and rows it leaves
        # to the sweep, whose hold is to be released.
        self._direct: list[OutboxRecord] = []
        self._to_release: list[int] = []
        self._direct_backlog = direct_backlog
        self._direct_ready = asyncio.Event()
        self._direct_idle = asyncio.Event()  # nothing in hand: none waiting, none publishing
        self._direct_idle.set()
        self._direct_task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self.published_total = 0
        self.failed_total = 0
        # Left to the sweep: backlog full, relay stopping, or broker away.
        self.direct_skipped_total = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._next_purge = time.monotonic() + 60
        self._sweeper.start()
        self._direct_task = asyncio.create_task(
            self._run_direct(), name=f"{self._sweeper.name}-direct")
        self._database.outbox_dispatcher = self

    async def stop(self) -> None:
        """Finish the batch in hand, then stop. Nothing claimed is left half-published: an
        unconfirmed row stays unpublished and is claimed again by a live replica. Confirms
        are waited for as long as the broker's channel lives, so the wait is bounded here (by
        ``stop_timeout``): past it the batch is abandoned, its transaction rolled back and its
        rows swept by the replicas (a late confirm among them makes a duplicate, which
        consumers drop)."""
        self._stopping = True
        if self._database.outbox_dispatcher is self:
            self._database.outbox_dispatcher = None
        self._direct_ready.set()
        await asyncio.gather(self._sweeper.stop(), self._stop_direct())
        await self._close_listener()

    async def _stop_direct(self) -> None:
        task, self._direct_task = self._direct_task, None
        if task is None:
            return
        _, late = await asyncio.wait({task}, timeout=self._stop_timeout.total_seconds())
        if late:
            log.warning("outbox_relay_stop_abandoned_batch", schema=self._database.schema)
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def wake(self) -> None:
        self._sweeper.wake()

    # -- direct path -------------------------------------------------------------------------

    @property
    def hold(self) -> timedelta:
        return self._hold

    def dispatch(self, records: list[OutboxRecord]) -> None:
        """Publish rows a unit of work has just committed. Never blocks and never fails: what
        cannot be taken now (stopping, backlog full) is handed to the sweep."""
        if self._stopping or len(self._direct) >= self._direct_backlog:
            self.direct_skipped_total += len(records)
            self._to_release.extend(record.id for record in records)
        else:
            self._direct.extend(records)
        self._direct_idle.clear()
        self._direct_ready.set()

    async def _run_direct(self) -> None:
        while True:
            if not self._stopping:
                await self._direct_ready.wait()
            self._direct_ready.clear()
            if self._direct:
                # Stopping: one last attempt at everything in hand.
                size = len(self._direct) if self._stopping else self._batch_size
                batch = self._direct[:size]
                del self._direct[:size]
                self._direct_ready.set()  # look again once this batch is done
                try:
                    await self._publish_direct(batch)
                except Exception as exc:  # unlocked again: swept once their hold has passed
                    log.error("outbox_direct_error", schema=self._database.schema, error=str(exc))
            if self._to_release:
                await self._release_holds()
            if not self._direct and not self._to_release:
                self._direct_idle.set()
                if self._stopping:
                    return

    async def _publish_direct(self, batch: Sequence[OutboxRecord]) -> None:
        """Claim the rows handed over (those no sweep took meanwhile), publish them and mark
        them, in one transaction: its locks keep every sweep off them however late the
        confirms, and vanish with this process if it dies."""
        ids = [record.id for record in batch]
        if not await self._broker.ready():
            # Broker away: do not wait for it here; the sweep publishes these once it is back.
            self.direct_skipped_total += len(ids)
            self._to_release.extend(ids)
            return
        async with self._uow() as uow:
            claimed = {row["id"] for row in await uow.fetch(_CLAIM_DIRECT, {"ids": ids})}
            sent, failed = await self._publish_claimed(uow, [
                _Message(record.id, record.routing_key, record.body, str(record.event_id))
                for record in batch if record.id in claimed
            ])
        self._count(sent, failed)

    async def _release_holds(self) -> None:
        ids, self._to_release = self._to_release, []
        try:
            async with self._uow() as uow:
                await uow.execute(_RELEASE_HOLD, {"ids": ids})
        except Exception as exc:  # they are swept once their hold has passed instead
            log.error("outbox_release_failed", schema=self._database.schema, rows=len(ids),
                      error=str(exc))
        self._sweeper.wake()

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
            sent, failed = await self._publish_claimed(uow, [
                _Message(row["id"], row["routing_key"], orjson.dumps(row["envelope"]),
                         str(row["event_id"]))
                for row in sorted(rows, key=lambda row: row["id"])  # in commit order
            ])
        self._count(sent, failed)
        return len(rows)

    async def _publish_claimed(self, uow: UnitOfWork, messages: list[_Message]
                               ) -> tuple[int, int]:
        """Publish rows ``uow`` has claimed (locked and marked published). The rows the broker
        refused are unmarked, to be retried by the sweep after a growing pause. Returns
        (published, failed)."""
        if not messages:
            return 0, 0
        results = await self._broker.publish_many(
            [(message.routing_key, message.body, message.message_id) for message in messages]
        )
        errors = [str(err) for err in results if err is not None]
        failed = [message.id for message, err in zip(messages, results, strict=True)
                  if err is not None]
        if failed:
            await uow.execute(_MARK_FAILED, {
                "ids": failed, "error": errors[0][:500], "base": self._retry_base,
                "cap": self._retry_cap,
            })
            log.warning("outbox_publish_failed", schema=self._database.schema,
                        failed=len(failed), error=errors[0][:200])
        return len(messages) - len(failed), len(failed)

    def _count(self, sent: int, failed: int) -> None:
        self.published_total += sent
        self.failed_total += failed
        if failed:
            self._sweeper.wake()  # the sweep retries them once their pause has passed

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

    async def _sweep_once(self) -> bool:
        """One sweep; True when it took a full batch (more are waiting)."""
        if self._listener is None or self._listener.is_closed():
            await self._open_listener()
        try:
            claimed = await self.publish_batch()
            if time.monotonic() >= self._next_purge:
                await self.purge_published()
                self._next_purge = time.monotonic() + 600
        except Exception as exc:
            # Database away or similar: the next pass, after the poll interval, tries again.
            log.error("outbox_relay_error", schema=self._database.schema, error=str(exc))
            return False
        return claimed >= self._batch_size

    async def _open_listener(self) -> None:
        try:
            self._listener = await asyncpg.connect(asyncpg_dsn(self._database.url), timeout=5)
            await self._listener.add_listener(
                self._database.notify_channel, lambda *_: self._sweeper.wake()
            )
        except Exception as exc:
            # Polling still works without NOTIFY; only latency suffers.
            log.warning("outbox_listen_unavailable", error=str(exc))
            self._listener = None

    async def _close_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close()
        self._listener = None
