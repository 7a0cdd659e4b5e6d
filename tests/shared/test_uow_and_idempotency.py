"""Unit of work: state and events commit together or not at all; idempotency keys replay."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import func, select, text

from services.relief.settings import Settings as ReliefSettings
from shared import contracts
from shared.contracts.platform import Probe
from shared.db import idempotency
from shared.db.database import Database
from shared.db.uow import UnitOfWork
from shared.errors import RuleViolation
from shared.messaging.tables import outbox
from shared.settings import ServiceSettings
from shared.testing.plugin import Migrator


@pytest.fixture
async def database(
    migrator: Migrator, service_settings: Callable[..., ServiceSettings]
) -> AsyncIterator[Database]:
    await migrator.ensure("relief")
    db = Database(service_settings(ReliefSettings))
    async with db.session() as session, session.begin():
        await session.execute(
            text("CREATE TABLE IF NOT EXISTS uow_probe (id serial PRIMARY KEY, note text)")
        )
    yield db
    await db.dispose()


async def _count(db: Database, note: str) -> tuple[int, int]:
    async with db.session() as session:
        rows = (
            await session.execute(
                text("SELECT count(*) FROM uow_probe WHERE note = :n"), {"n": note}
            )
        ).scalar_one()
        events = (
            await session.execute(
                select(func.count())
                .select_from(outbox)
                .where(outbox.c.envelope["payload"]["note"].astext == note)
            )
        ).scalar_one()
    return int(rows), int(events)


async def _write(uow: UnitOfWork, note: str) -> None:
    await uow.session.execute(text("INSERT INTO uow_probe (note) VALUES (:n)"), {"n": note})
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
            await uow.session.execute(text("INSERT INTO uow_probe (note) VALUES ('bad-event')"))
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
