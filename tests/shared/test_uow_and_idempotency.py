"""Unit of work: state and events commit together or not at all, and what committed is handed
to this process's relay or swept; idempotency keys replay."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
import pytest
from sqlalchemy import func, select, text

from services.relief.settings import Settings as ReliefSettings
from shared import contracts
from shared.contracts.platform import Probe
from shared.db import idempotency
from shared.db.database import Database, asyncpg_dsn
from shared.db.uow import OutboxEntry, OutboxRecord, UnitOfWork
from shared.messaging import outbox as outbox_module
from shared.messaging.broker import PublishError
from shared.messaging.envelope import Envelope
from shared.messaging.memory import MemoryBroker
from shared.messaging.outbox import OutboxRelay
from shared.messaging.tables import outbox
from shared.problems import RuleViolation
from shared.settings import ServiceSettings
from shared.testing.plugin import Migrator


@pytest.fixture
async def database(
    migrator: Migrator, service_settings: Callable[..., ServiceSettings]
) -> AsyncIterator[Database]:
    await migrator.ensure("relief")
    db = Database(service_settings(ReliefSettings))
    async with UnitOfWork(db, producer="relief") as uow:
        await uow.connection.execute(
            text("CREATE TABLE IF NOT EXISTS uow_probe (id serial PRIMARY KEY, note text)")
        )
    yield db
    await db.dispose()


async def _count(db: Database, note: str) -> tuple[int, int]:
    async with UnitOfWork(db, producer="relief") as uow:
        rows = (
            await uow.connection.execute(
                text("SELECT count(*) FROM uow_probe WHERE note = :n"), {"n": note}
            )
        ).scalar_one()
        events = (
            await uow.connection.execute(
                select(func.count())
                .select_from(outbox)
                .where(outbox.c.envelope["payload"]["note"].astext == note)
            )
        ).scalar_one()
    return int(rows), int(events)


async def _write(uow: UnitOfWork, note: str) -> None:
    await uow.connection.execute(text("INSERT INTO uow_probe (note) VALUES (:n)"), {"n": note})
    await uow.emit("platform.probe", Probe(sequence=1, note=note))


async def test_state_change_and_its_event_commit_together(database: Database) -> None:
    uow = UnitOfWork(database, producer="relief")
    async with uow:
        await _write(uow, "committed")
    assert await _count(database, "committed") == (1, 1)
    assert uow.emitted[0].producer == "relief"


async def test_an_error_rolls_back_the_state_change_and_its_event(database: Database) -> None:
    uow = UnitOfWork(database, producer="relief")
    with pytest.raises(RuntimeError):
        async with uow:
            await _write(uow, "rolled-back")
            raise RuntimeError("the use case failed after writing")
    assert await _count(database, "rolled-back") == (0, 0)


async def test_nested_blocks_join_the_outer_transaction(database: Database) -> None:
    uow = UnitOfWork(database, producer="relief")
    with pytest.raises(RuntimeError):
        async with uow:
            async with uow:
                await _write(uow, "nested")
            assert await _count(database, "nested") == (0, 0)  # not committed yet
            raise RuntimeError("outer fails")
    assert await _count(database, "nested") == (0, 0)


async def test_an_event_that_breaks_its_contract_is_refused_and_nothing_is_written(
    database: Database,
) -> None:
    uow = UnitOfWork(database, producer="relief")
    with pytest.raises(ValueError, match="sequence"):
        async with uow:
            await uow.connection.execute(text("INSERT INTO uow_probe (note) VALUES ('bad-event')"))
            await uow.emit("platform.probe", {"sequence": "not a number", "note": "bad-event"})
    with pytest.raises(contracts.UnknownContract):
        async with uow:
            await uow.emit("platform.unknown_event", {})
    assert await _count(database, "bad-event") == (0, 0)


async def test_a_retried_request_with_the_same_key_replays_the_first_answer(
    database: Database,
) -> None:
    request = {"amount": 100}
    uow = UnitOfWork(database, producer="relief")
    async with uow:
        assert (
            await idempotency.reserve(uow, scope="pay:u1", key="key-0001", request=request) is None
        )
        await idempotency.remember(uow, scope="pay:u1", key="key-0001", status=201, body={"id": 7})
    async with uow:
        replay = await idempotency.reserve(uow, scope="pay:u1", key="key-0001", request=request)
    assert replay == (201, {"id": 7})


async def test_reusing_a_key_for_a_different_request_is_refused(database: Database) -> None:
    uow = UnitOfWork(database, producer="relief")
    async with uow:
        await idempotency.reserve(uow, scope="pay:u2", key="key-0002", request={"amount": 1})
        await idempotency.remember(uow, scope="pay:u2", key="key-0002", status=201, body={})
    with pytest.raises(RuleViolation) as refused:
        async with uow:
            await idempotency.reserve(uow, scope="pay:u2", key="key-0002", request={"amount": 2})
    assert refused.value.code == "idempotency_key_reused"


async def test_a_key_whose_first_attempt_failed_can_be_used_again(database: Database) -> None:
    uow = UnitOfWork(database, producer="relief")
    with pytest.raises(RuntimeError):
        async with uow:
            await idempotency.reserve(uow, scope="pay:u3", key="key-0003", request={})
            raise RuntimeError("the write failed")
    async with uow:
        again = await idempotency.reserve(uow, scope="pay:u3", key="key-0003", request={})
        assert again is None


@dataclass
class RecordingDispatcher:
    """Stands in for the relay of this process; ``dispatch`` only records (a process that
    crashed right after committing publishes nothing)."""

    hold: timedelta = timedelta(seconds=30)
    dispatched: list[OutboxRecord] = field(default_factory=list)

    def dispatch(self, records: list[OutboxRecord]) -> None:
        self.dispatched.extend(records)


async def test_committed_events_go_to_this_processs_relay_and_are_held_from_the_sweeps(
    database: Database,
) -> None:
    dispatcher = RecordingDispatcher()
    database.outbox_dispatcher = dispatcher
    uow = UnitOfWork(database, producer="relief")
    with pytest.raises(RuntimeError):
        async with uow:
            await _write(uow, "direct-rolled-back")
            raise RuntimeError("the use case failed")
    assert dispatcher.dispatched == []  # nothing of a rolled-back transaction is published

    async with uow:
        await _write(uow, "direct")
        assert dispatcher.dispatched == []  # not before the commit
    [record] = dispatcher.dispatched
    assert record.event_id == uow.emitted[0].event_id
    assert record.routing_key == "platform.probe.v1"
    assert Envelope.from_bytes(record.body) == uow.emitted[0]
    async with UnitOfWork(database, producer="relief") as check:
        held_for = await check.connection.scalar(
            text("SELECT extract(epoch FROM next_attempt_at - now()) FROM outbox WHERE id = :id"),
            {"id": record.id},
        )
    assert 25 < held_for <= 30


async def test_rows_their_process_never_published_are_swept_once_their_hold_has_passed(
    database: Database,
) -> None:
    database.outbox_dispatcher = RecordingDispatcher(hold=timedelta(seconds=1))
    broker = MemoryBroker()
    relay = OutboxRelay(database, broker)  # its sweep only: not started
    async with UnitOfWork(database, producer="relief") as uow:
        await _write(uow, "never-published")
    await relay.drain()

    def published() -> list[str]:
        return [routing_key for routing_key, body in broker.published
                if Envelope.from_bytes(body).event_id == uow.emitted[0].event_id]

    assert published() == []  # held: the process that wrote it is still publishing it
    await asyncio.sleep(1.2)
    await relay.drain()
    assert published() == ["platform.probe.v1"]


async def test_the_relay_publishes_what_this_process_committed_without_a_sweep(
    database: Database,
) -> None:
    broker = MemoryBroker()
    relay = OutboxRelay(database, broker, poll_seconds=3600)  # no sweep during the test
    relay.start()
    try:
        async with UnitOfWork(database, producer="relief") as uow:
            await _write(uow, "published-directly")
        await relay.settled()
    finally:
        await relay.stop()
    assert [Envelope.from_bytes(body).event_id for _, body in broker.published] == [
        uow.emitted[0].event_id
    ]
    async with UnitOfWork(database, producer="relief") as check:
        published_at = await check.connection.scalar(
            select(outbox.c.published_at).where(outbox.c.event_id == uow.emitted[0].event_id)
        )
    assert published_at is not None
    assert database.outbox_dispatcher is None  # a stopped relay takes nothing more


async def test_a_cancelled_unit_of_work_stays_cancelled_and_its_connection_is_not_reused(
    database: Database,
) -> None:
    uow = UnitOfWork(database, producer="relief")
    statement_started = asyncio.Event()

    async def slow_use_case() -> None:
        async with uow:
            await _write(uow, "cancelled")
            statement_started.set()
            await uow.connection.execute(text("SELECT pg_sleep(10)"))

    task = asyncio.create_task(slow_use_case())
    await statement_started.wait()
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # not an error of the interrupted connection in its place
    assert await _count(database, "cancelled") == (0, 0)
    for _ in range(3):  # every pooled connection is outside any transaction
        async with UnitOfWork(database, producer="relief") as again:
            assert await again.connection.scalar(text("SELECT 1")) == 1


async def test_a_full_direct_backlog_leaves_rows_to_the_sweep_instead_of_growing(
    database: Database,
) -> None:
    relay = OutboxRelay(database, MemoryBroker(), direct_backlog=2)  # not started: nothing drains
    record = OutboxRecord(1, uuid.uuid4(), "platform.probe.v1", b"{}")
    relay.dispatch([record, record])
    relay.dispatch([record])
    assert relay.direct_skipped_total == 1


async def _outbox_rows(db: Database, notes: list[str]) -> list[tuple[int, str, object]]:
    async with UnitOfWork(db, producer="relief") as uow:
        rows = (await uow.connection.execute(
            select(outbox.c.id, outbox.c.envelope["payload"]["note"].astext,
                   outbox.c.next_attempt_at)
            .where(outbox.c.envelope["payload"]["note"].astext.in_(notes))
            .order_by(outbox.c.id)
        )).all()
    return [(row[0], row[1], row[2]) for row in rows]


async def test_a_transactions_events_are_written_together_in_the_order_emitted(
    database: Database,
) -> None:
    notes = [f"together-{n}-{uuid.uuid4().hex[:6]}" for n in range(5)]
    uow = UnitOfWork(database, producer="relief")
    async with uow:
        for note in reversed(notes):  # emitted last to first
            await _write(uow, note)
        assert await _outbox_rows(database, notes) == []  # not before the commit

    rows = await _outbox_rows(database, notes)
    assert [note for _, note, _ in rows] == list(reversed(notes))
    assert all(held is None for _, _, held in rows)  # no dispatcher: left to the sweeps


async def test_a_transactions_events_reach_this_processs_relay_in_the_order_emitted(
    database: Database,
) -> None:
    dispatcher = RecordingDispatcher()
    database.outbox_dispatcher = dispatcher
    notes = [f"held-{n}-{uuid.uuid4().hex[:6]}" for n in range(4)]
    uow = UnitOfWork(database, producer="relief")
    async with uow:
        for note in notes:
            await _write(uow, note)

    rows = await _outbox_rows(database, notes)
    assert [record.id for record in dispatcher.dispatched] == [row_id for row_id, _, _ in rows]
    assert [record.event_id for record in dispatcher.dispatched] == [
        envelope.event_id for envelope in uow.emitted]
    assert [Envelope.from_bytes(r.body).payload["note"] for r in dispatcher.dispatched] == notes
    assert all(held is not None for _, _, held in rows)  # held from the sweeps


async def test_events_that_cannot_be_written_roll_back_the_state_change_with_them(
    database: Database, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The outbox rows go in just before the commit: if they cannot be written, the
    transaction's state change is rolled back with them and nothing reaches the relay."""
    dispatcher = RecordingDispatcher()
    database.outbox_dispatcher = dispatcher
    note = f"unwritable-{uuid.uuid4().hex[:6]}"
    monkeypatch.setattr(OutboxEntry, "body", property(lambda _: b"{not json"))
    uow = UnitOfWork(database, producer="relief")
    with pytest.raises(asyncpg.InvalidTextRepresentationError):
        async with uow:
            await _write(uow, note)
            await _write(uow, note)
    assert await _count(database, note) == (0, 0)
    assert dispatcher.dispatched == []


class _WatchingBroker(MemoryBroker):
    """Looks at the outbox from another session while the relay publishes: what a sweep of
    another replica would see in that moment."""

    def __init__(self, database: Database, event_id: uuid.UUID) -> None:
        super().__init__()
        self._database, self._event_id = database, event_id
        self.seen: list[tuple[object, bool]] = []

    async def publish_many(
        self, messages: Sequence[tuple[str, bytes, str]]
    ) -> list[BaseException | None]:
        other = await asyncpg.connect(asyncpg_dsn(self._database.url),
                                      server_settings={"search_path": self._database.schema})
        try:
            published_at = await other.fetchval(
                "SELECT published_at FROM outbox WHERE event_id = $1", self._event_id)
            try:
                await other.execute("BEGIN; SELECT id FROM outbox WHERE event_id = "
                                    f"'{self._event_id}' FOR UPDATE NOWAIT; ROLLBACK")
                locked = False
            except asyncpg.LockNotAvailableError:
                locked = True
        finally:
            await other.close()
        self.seen.append((published_at, locked))
        return await super().publish_many(messages)


async def test_rows_in_publication_are_locked_and_marked_only_once_confirmed(
    database: Database,
) -> None:
    async with UnitOfWork(database, producer="relief") as uow:
        await _write(uow, f"watched-{uuid.uuid4().hex[:6]}")
    event_id = uow.emitted[0].event_id
    broker = _WatchingBroker(database, event_id)
    async with UnitOfWork(database, producer="relief") as unheld:
        await unheld.connection.execute(  # as if its hold had passed: the sweep takes it
            text("UPDATE outbox SET next_attempt_at = now() WHERE event_id = :e"),
            {"e": event_id})
    await OutboxRelay(database, broker).drain()
    # Claimed (locked) while in the broker's hands; no other session sees it published yet.
    assert (None, True) in broker.seen
    assert [Envelope.from_bytes(body).event_id for _, body in broker.published
            ].count(event_id) == 1  # with what other tests here left unpublished
    assert await _outbox_state(database, event_id) == (True, 0, None)


class _NackingBroker(MemoryBroker):
    """Up, but refusing every message (as a nack) while ``nacking``."""

    nacking = True

    async def publish_many(
        self, messages: Sequence[tuple[str, bytes, str]]
    ) -> list[BaseException | None]:
        if self.nacking:
            return [PublishError("nacked") for _ in messages]
        return await super().publish_many(messages)


async def test_a_refused_publication_is_unmarked_and_retried_later(database: Database) -> None:
    async with UnitOfWork(database, producer="relief") as uow:
        await _write(uow, f"refused-{uuid.uuid4().hex[:6]}")
    event_id = uow.emitted[0].event_id
    async with UnitOfWork(database, producer="relief") as unheld:
        await unheld.connection.execute(
            text("UPDATE outbox SET next_attempt_at = now() WHERE event_id = :e"),
            {"e": event_id})
    broker = _NackingBroker()
    relay = OutboxRelay(database, broker, retry_base_seconds=0.2)
    await relay.drain()
    assert await _outbox_state(database, event_id) == (False, 1, "nacked")
    broker.nacking = False
    await asyncio.sleep(0.3)  # its retry pause
    await relay.drain()
    assert await _outbox_state(database, event_id) == (True, 1, "nacked")


async def test_a_claim_commits_without_waiting_for_the_wal_flush(database: Database) -> None:
    async with UnitOfWork(database, producer="relief") as uow:
        await _write(uow, f"async-commit-{uuid.uuid4().hex[:6]}")
    async with UnitOfWork(database, producer="relief") as uow:
        ids = [int(await uow.connection.scalar(select(func.max(outbox.c.id))))]
        # private: the claim under test
        assert await uow.fetch(outbox_module._CLAIM_DIRECT, {"ids": ids})
        assert await uow.connection.scalar(text("SHOW synchronous_commit")) == "off"
    async with UnitOfWork(database, producer="relief") as uow:  # for that transaction only
        assert await uow.connection.scalar(text("SHOW synchronous_commit")) == "on"


async def _outbox_state(db: Database, event_id: uuid.UUID) -> tuple[bool, int, str | None]:
    async with UnitOfWork(db, producer="relief") as uow:
        row = (await uow.connection.execute(
            select(outbox.c.published_at, outbox.c.attempts, outbox.c.last_error)
            .where(outbox.c.event_id == event_id))).one()
    return row[0] is not None, int(row[1]), row[2]
