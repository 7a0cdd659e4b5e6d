"""Which failures are the database's (our infrastructure) rather than the work's own, and a
reachability check that does not queue behind the connection pool.

A message consumer retries the former in place until the database can work again and never
lets them count as a failed delivery; only the latter may, after its delivery limit, park a
message (see shared.messaging.consumer). A request that meets the former answers 503
``database_unavailable`` with Retry-After, not 500 (see shared.web.problems)."""

from __future__ import annotations

import asyncio
import enum

import asyncpg
import sqlalchemy.exc

from shared.db.database import asyncpg_dsn


class Fault(enum.Enum):
    # The database answers but could not do the work now: the pool had no connection free in
    # time, a serialization failure, a deadlock, too many connections. Retry soon.
    BUSY = "busy"
    # The database cannot be reached, or a connection was lost under the work.
    UNREACHABLE = "unreachable"
    # A network-level error (OSError, a timeout) that may come from the database or from
    # anything else the work talked to: ask the database (``database_answers``) to tell.
    SUSPECT = "suspect"


# SQLSTATEs of a healthy database refusing work for now; class 08 and the shutdown codes of
# class 57 mean the connection is gone or cannot be had.
_BUSY_STATES = {"40001", "40P01"}
_BUSY_CLASSES = {"53"}  # insufficient resources: too many connections, out of memory, disk
_GONE_STATES = {"57P01", "57P02", "57P03"}  # admin / crash shutdown, cannot connect now


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception, what it wraps (SQLAlchemy's ``orig``), its causes and contexts."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending and len(seen) < 16:
        current = pending.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return seen


def _fault_of(exc: BaseException) -> Fault | None:
    if isinstance(exc, sqlalchemy.exc.TimeoutError):  # QueuePool limit ... timed out
        return Fault.BUSY
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return Fault.UNREACHABLE
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if isinstance(state, str):
        if state in _BUSY_STATES or state[:2] in _BUSY_CLASSES:
            return Fault.BUSY
        if state[:2] == "08" or state in _GONE_STATES:
            return Fault.UNREACHABLE
    if isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc):
        return Fault.UNREACHABLE  # "connection is closed", "connection was closed in the middle"
    if isinstance(exc, OSError | ConnectionError | sqlalchemy.exc.OperationalError):
        return Fault.SUSPECT
    return None


def classify(exc: BaseException) -> Fault | None:
    """The infrastructure fault behind ``exc``, or None for the work's own error. The most
    telling fault in the chain wins (a lost connection over a timeout it caused)."""
    faults = {fault for cause in _causes(exc) if (fault := _fault_of(cause)) is not None}
    for fault in (Fault.UNREACHABLE, Fault.BUSY, Fault.SUSPECT):
        if fault in faults:
            return fault
    return None


async def database_answers(url: str, *, within: float) -> None:
    """Open a connection of its own (never one of the pool, which busy work may hold) and run
    ``SELECT 1``, all ``within`` seconds; raise when the database does not answer."""
    async with asyncio.timeout(within):
        connection = await asyncpg.connect(asyncpg_dsn(url), timeout=within)
        try:
            await connection.fetchval("SELECT 1")
        finally:
            try:
                await connection.close(timeout=within)
            except BaseException:
                connection.terminate()
                raise


async def database_fault(exc: BaseException, url: str | None, *, within: float) -> Fault | None:
    """``classify``, with a network error that may be anything's (``SUSPECT``) settled by
    asking the database: UNREACHABLE when it does not answer, None (the work's own error) when
    it does or when there is no database to ask."""
    fault = classify(exc)
    if fault is not Fault.SUSPECT:
        return fault
    if url is None:
        return None
    try:
        await database_answers(url, within=within)
    except Exception:
        return Fault.UNREACHABLE
    return None
