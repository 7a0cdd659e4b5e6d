"""Working through stored rows a batch at a time (operator jobs such as the free-text
backfills): each batch is its own transaction, so a long job holds no lock for long and a
job stopped half way keeps what it did."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from shared.db.uow import UnitOfWork

Key = TypeVar("Key")
MakeUow = Callable[[], UnitOfWork]
FetchAfter = Callable[[UnitOfWork, Key, int], Awaitable[Sequence[Any]]]
Change = Callable[[UnitOfWork, Any], Awaitable[bool]]


async def change_in_batches(
    make_uow: MakeUow,
    *,
    fetch_after: FetchAfter[Key],
    change: Change,
    key: Callable[[Any], Key],
    start: Key,
    batch_size: int,
) -> int:
    """Hand every row to ``change`` and count those it changed (it says so by returning
    True). ``fetch_after(uow, after, limit)`` reads the next rows in ``key`` order after
    ``after`` (``start`` first), locked as the job needs; a short batch is the last."""
    changed, after = 0, start
    while True:
        async with make_uow() as uow:
            rows = await fetch_after(uow, after, batch_size)
            for row in rows:
                if await change(uow, row):
                    changed += 1
        if len(rows) < batch_size:
            return changed
        after = key(rows[-1])
