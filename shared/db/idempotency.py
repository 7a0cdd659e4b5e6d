"""Idempotency keys: a retried write with the same key answers what the first one answered.

The reservation is an insert into the service's ``idempotency_keys`` in the use case's own
transaction. A concurrent retry blocks on that row until the first commits, then replays it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from shared.db.uow import UnitOfWork
from shared.messaging.tables import idempotency_keys
from shared.problems import RuleViolation

M = TypeVar("M", bound=BaseModel)


def fingerprint(payload: Any) -> str:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def reserve(
    uow: UnitOfWork, *, scope: str, key: str, request: Any
) -> tuple[int, Any] | None:
    """Reserve ``key`` for this request, or return ``(status, body)`` stored by its first use.

    Raises ``idempotency_key_reused`` when the key was used for a different request."""
    print_ = fingerprint(request)
    inserted = await uow.connection.execute(
        insert(idempotency_keys)
        .values(scope=scope, key=key, fingerprint=print_)
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(idempotency_keys.c.key)
    )
    if inserted.first() is not None:
        return None
    row = (
        await uow.connection.execute(
            select(idempotency_keys).where(
                idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
            )
        )
    ).one()
    if row.fingerprint != print_:
        raise RuleViolation(
            "this Idempotency-Key was already used for a different request",
            code="idempotency_key_reused",
        )
    return int(row.status_code or 200), row.response


async def remember(uow: UnitOfWork, *, scope: str, key: str, status: int, body: Any) -> None:
    await uow.connection.execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
        .values(status_code=status, response=body)
    )


async def once(
    uow: UnitOfWork,
    *,
    scope: str,
    key: str | None,
    request: BaseModel,
    answer: type[M],
    work: Callable[[], Awaitable[tuple[int, M]]],
) -> tuple[int, M]:
    """In the caller's transaction: with an Idempotency-Key, what its first attempt answered
    (``work`` is not run again); otherwise ``work``'s status and answer, remembered under
    the key."""
    if key:
        replay = await reserve(uow, scope=scope, key=key, request=request.model_dump(mode="json"))
        if replay is not None:
            return replay[0], answer.model_validate(replay[1])
    status, result = await work()
    if key:
        await remember(uow, scope=scope, key=key, status=status,
                       body=result.model_dump(mode="json"))
    return status, result
