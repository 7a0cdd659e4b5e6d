"""``make test``'s pytest: the suite as three test sessions side by side.

Measured on the two-core machine CI uses, one session keeps about one core busy: the browser
tests wait on Chromium and on the platform they drive (which shares the test process's
interpreter), the rest on PostgreSQL and RabbitMQ. Side by side, the suite takes about the
time of its longest part instead of the sum. Each session is a pytest run of its own (its own
run id, schemas, broker objects and, without DATABASE_URL, embedded PostgreSQL), so they
share nothing. Each one's output is kept and printed whole when it ends.

Side by side, the three sessions together hold up to about 100 connections to one
PostgreSQL server (98 measured at the peak), which is all a default server allows; against a
``DATABASE_URL`` whose server allows fewer than ``SIDE_BY_SIDE_CONNECTIONS`` the suite runs
as one session and says why (``.ci/run`` raises the limit of the server it uses).

With arguments (``make test PYTEST_ARGS=...``) it is plain pytest with them, in one process.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import IO

import asyncpg

from shared.db.database import asyncpg_dsn

BROWSER = ("tests/web",)
# About half of the rest's time (the other half is every folder not named here).
CASE_LOOP = ("tests/events", "tests/routing", "tests/feedback", "tests/booking",
             "tests/relief", "tests/partner", "tests/fuzz")
# Three sessions' peak is about 100 connections: twice that leaves room for a slow teardown.
SIDE_BY_SIDE_CONNECTIONS = 200


def sessions() -> dict[str, list[str]]:
    """Each session's name and pytest arguments; the last takes every folder not named."""
    rest = [arg for folder in (*BROWSER, *CASE_LOOP) for arg in ("--ignore", folder)]
    return {"the case loop's services": [*CASE_LOOP], "the browser tests": [*BROWSER],
            "the rest": rest}


def _pytest(args: list[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    # No cache plugin: writers of one .pytest_cache would race.
    return subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                            stdout=log, stderr=subprocess.STDOUT)


def _print_whole(name: str, log: IO[bytes]) -> None:
    sys.stdout.write(f"\n===== {name} =====\n")
    sys.stdout.flush()
    log.seek(0)
    sys.stdout.buffer.write(log.read())
    sys.stdout.flush()


def run_side_by_side() -> int:
    started = time.monotonic()
    ended: dict[str, tuple[int, float]] = {}
    with ExitStack() as stack:
        logs = {name: stack.enter_context(tempfile.TemporaryFile("w+b")) for name in sessions()}
        running = {name: _pytest(args, logs[name]) for name, args in sessions().items()}
        while running:
            for name, process in list(running.items()):
                code = process.poll()
                if code is not None:
                    ended[name] = (code, time.monotonic() - started)
                    del running[name]
                    _print_whole(name, logs[name])
            time.sleep(0.5)
    for name, (code, seconds) in ended.items():
        print(f"suite: {name} exit {code} after {seconds:.0f} s")
    return max(code for code, _ in ended.values())


async def _allowed_connections(database_url: str) -> int:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return int(await connection.fetchval("SHOW max_connections"))
    finally:
        await connection.close()


def too_few_connections(database_url: str | None) -> str | None:
    """Why the sessions cannot share this server, or None when they can. Without a URL each
    session starts an embedded server of its own."""
    if not database_url:
        return None
    allowed = asyncio.run(_allowed_connections(database_url))
    if allowed >= SIDE_BY_SIDE_CONNECTIONS:
        return None
    return (f"the server at DATABASE_URL allows {allowed} connections, fewer than the "
            f"{SIDE_BY_SIDE_CONNECTIONS} three sessions side by side may need")


def main(argv: list[str]) -> int:
    if argv:
        return subprocess.call([sys.executable, "-m", "pytest", *argv])
    if not all(Path(folder).is_dir() for folder in (*BROWSER, *CASE_LOOP)):
        return subprocess.call([sys.executable, "-m", "pytest"])
    reason = too_few_connections(os.environ.get("DATABASE_URL"))
    if reason is not None:
        print(f"suite: one session, as {reason} (raise max_connections to run three)")
        return subprocess.call([sys.executable, "-m", "pytest"])
    return run_side_by_side()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
