"""Hot-path statements: a Core statement compiled once, run on the raw asyncpg connection.

SQLAlchemy's execution of even a cached statement costs ~100 µs of Python per call (execution
context, parameter construction, greenlet hop, result metadata), about twice what asyncpg
itself spends. A ``Statement`` keeps the SQL SQLAlchemy compiled for it and the bind
processors of its parameters (JSON is serialised as the engine would), so the statement is
still written with the tables' metadata, and runs as one asyncpg call. Rows come back as
asyncpg records (``row["column"]``); json and jsonb are decoded by the connection's codecs.

Only for statements without expanding parameters (``IN`` lists): bind arrays with ``ANY``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import orjson
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


def json_dumps(value: object) -> str:
    """JSON for json and jsonb parameters: orjson (~10x the standard library on envelopes);
    integer keys become strings, as json.dumps made them."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


_DIALECT = asyncpg_dialect(json_serializer=json_dumps)  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy

_NO_DEFAULT = object()


class Statement:
    def __init__(self, statement: ClauseElement) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=_DIALECT))
        self.sql = str(compiled)
        self._binds: list[tuple[str, Any, Callable[[Any], Any] | None]] = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            if bind.expanding:
                raise ValueError(f"{name}: expanding parameters are not supported; use ANY")
            default = bind.value if bind.value is not None or not bind.required else _NO_DEFAULT
            if bind.callable is not None:
                default = _NO_DEFAULT
            processor = bind.type.dialect_impl(_DIALECT).bind_processor(_DIALECT)
            self._binds.append((name, default, processor))

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for ``params`` (literals of the statement fill the rest)."""
        values = []
        for name, default, process in self._binds:
            value = params.get(name, default)
            if value is _NO_DEFAULT:
                raise KeyError(f"statement parameter {name!r} is missing")
            values.append(process(value) if process is not None and value is not None else value)
        return values

    def __repr__(self) -> str:
        return f"Statement({self.sql!r})"
