"""The outbox, inbox and idempotency-key tables every service schema has (unqualified names,
resolved through the service's search_path; see Database)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.sql.schema import SchemaItem

if TYPE_CHECKING:
    from alembic.operations import Operations


def _created_at() -> Column[Any]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


def _outbox_columns() -> list[SchemaItem]:
    return [
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("event_type", String(120), nullable=False),
        Column("routing_key", String(160), nullable=False),
        Column("envelope", JSONB, nullable=False),
        _created_at(),
        Column("published_at", DateTime(timezone=True)),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("next_attempt_at", DateTime(timezone=True)),
        Column("last_error", Text),
    ]


def _inbox_columns() -> list[SchemaItem]:
    return [
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("consumer", String(160), nullable=False),
        Column("event_type", String(120), nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("event_id", "consumer"),
    ]


def _idempotency_columns() -> list[SchemaItem]:
    return [
        Column("scope", String(200), nullable=False),  # operation and caller
        Column("key", String(128), nullable=False),
        Column("fingerprint", String(64), nullable=False),  # hash of the request body
        Column("status_code", Integer),
        Column("response", JSONB),
        _created_at(),
        PrimaryKeyConstraint("scope", "key"),
    ]


_TABLES: dict[str, Callable[[], list[SchemaItem]]] = {
    "outbox": _outbox_columns,
    "inbox": _inbox_columns,
    "idempotency_keys": _idempotency_columns,
}

messaging_metadata = MetaData()
outbox = Table("outbox", messaging_metadata, *_outbox_columns())
inbox = Table("inbox", messaging_metadata, *_inbox_columns())
idempotency_keys = Table("idempotency_keys", messaging_metadata, *_idempotency_columns())


def create_platform_tables(op: Operations) -> None:
    """Alembic helper: every service's first migration creates its outbox, inbox and
    idempotency-key tables."""
    for name, columns in _TABLES.items():
        op.create_table(name, *columns())
    op.create_index(
        "outbox_unpublished_idx", "outbox", ["id"], postgresql_where=outbox.c.published_at.is_(None)
    )
    op.create_index("outbox_published_at_idx", "outbox", ["published_at"])
    op.create_index("inbox_received_at_idx", "inbox", ["received_at"])
    op.create_index("idempotency_keys_created_at_idx", "idempotency_keys", ["created_at"])
