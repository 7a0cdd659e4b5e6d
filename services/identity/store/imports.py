"""Registry import jobs and their refused rows. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID, insert
from sqlalchemy.engine import RowMapping

from services.identity.store.tables import metadata
from shared.db.uow import UnitOfWork

UNFINISHED = ("queued", "reading", "writing")

registry_imports = Table(
    "registry_imports",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("uploaded_by", UUID(as_uuid=True), nullable=False),
    Column("scope_regions", ARRAY(String(15)), nullable=False),
    Column("format", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("total_rows", Integer),
    Column("rows_done", Integer, nullable=False),
    Column("created", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("refused", Integer, nullable=False),
    Column("failure_code", String(64)),
    Column("failure_detail", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
)

registry_import_errors = Table(
    "registry_import_errors",
    metadata,
    Column("import_id", UUID(as_uuid=True), ForeignKey("registry_imports.id"),
           primary_key=True),
    Column("row", Integer, primary_key=True),
    Column("code", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("id_number_masked", String(32)),
)


async def create(uow: UnitOfWork, *, import_id: uuid.UUID, uploaded_by: uuid.UUID,
                 scope_regions: Sequence[str], fmt: str) -> None:
    await uow.connection.execute(insert(registry_imports).values(
        id=import_id, uploaded_by=uploaded_by, scope_regions=list(scope_regions), format=fmt,
        status="queued", rows_done=0, created=0, updated=0, refused=0,
        created_at=func.now(), updated_at=func.now(), heartbeat_at=func.now(),
    ))


async def get(uow: UnitOfWork, import_id: uuid.UUID) -> RowMapping | None:
    query = select(registry_imports).where(registry_imports.c.id == import_id)
    return (await uow.connection.execute(query)).mappings().first()


async def set_state(uow: UnitOfWork, import_id: uuid.UUID, **values: Any) -> None:
    """Change an unfinished import (a finished one stays as it ended)."""
    await uow.connection.execute(
        update(registry_imports)
        .where(registry_imports.c.id == import_id, registry_imports.c.finished_at.is_(None))
        .values(updated_at=func.now(), heartbeat_at=func.now(), **values)
    )


async def finish(uow: UnitOfWork, import_id: uuid.UUID, *, status: str,
                 failure_code: str | None = None, failure_detail: str | None = None) -> None:
    await set_state(uow, import_id, status=status, failure_code=failure_code,
                    failure_detail=failure_detail, finished_at=func.now())


async def advance(uow: UnitOfWork, import_id: uuid.UUID, *, rows: int, created: int = 0,
                  updated: int = 0, refused: int = 0) -> None:
    """Count rows settled (written or refused) in the transaction that settled them."""
    t = registry_imports.c
    await set_state(uow, import_id, rows_done=t.rows_done + rows, created=t.created + created,
                    updated=t.updated + updated, refused=t.refused + refused)


async def record_errors(uow: UnitOfWork, import_id: uuid.UUID,
                        errors: Sequence[dict[str, Any]]) -> None:
    """``errors``: dicts of row, code, detail and id_number_masked. A row refused once stays
    refused once (a batch retried row by row records it again)."""
    if not errors:
        return
    statement = insert(registry_import_errors).on_conflict_do_nothing(
        index_elements=["import_id", "row"]
    )
    await uow.connection.execute(statement, [{"import_id": import_id, **e} for e in errors])


async def errors_of(uow: UnitOfWork, import_id: uuid.UUID, *, limit: int | None = None
                    ) -> list[RowMapping]:
    query = (select(registry_import_errors)
             .where(registry_import_errors.c.import_id == import_id)
             .order_by(registry_import_errors.c.row))
    if limit is not None:
        query = query.limit(limit)
    return list((await uow.connection.execute(query)).mappings())


async def touch(uow: UnitOfWork, import_ids: Sequence[uuid.UUID]) -> None:
    """The heartbeat of the imports this process is running."""
    if not import_ids:
        return
    await uow.connection.execute(
        update(registry_imports)
        .where(registry_imports.c.id.in_(list(import_ids)),
               registry_imports.c.finished_at.is_(None))
        .values(heartbeat_at=func.now())
    )


async def fail_abandoned(uow: UnitOfWork, *, stale_seconds: float, detail: str
                         ) -> list[uuid.UUID]:
    """Mark failed every unfinished import whose process has not been heard from for
    ``stale_seconds``: that process died (a live one touches its imports far more often)."""
    t = registry_imports.c
    result = await uow.connection.execute(
        update(registry_imports)
        .where(t.finished_at.is_(None),
               t.heartbeat_at < func.now() - timedelta(seconds=stale_seconds))
        .values(status="failed", failure_code="import_interrupted", failure_detail=detail,
                finished_at=func.now(), updated_at=func.now())
        .returning(t.id)
    )
    return [row.id for row in result]
