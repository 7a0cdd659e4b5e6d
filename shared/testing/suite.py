"""``make test``'s pytest: the suite as three test sessions side by side.

Measured on the two-core machine CI uses, one session keeps about one core busy: the browser
tests wait on Chromium and on the platform they drive (which shares the test process's
interpreter), the rest on PostgreSQL and RabbitMQ. Side by side, the suite takes about the
time of its longest part instead of the sum. Each session is a pytest run of its own (its own
run id, schemas, broker objects and, without DATABASE_URL, embedded PostgreSQL), so they
share nothing. Each one's output is kept and printed whole when it ends.

With arguments (``make test PYTEST_ARGS=...``) it is plain pytest with them, in one process.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import IO

BROWSER = ("tests/web",)
# About half of the rest's time (the other half is every folder not named here).
CASE_LOOP = ("tests/events", "tests/routing", "tests/feedback", "tests/booking",
             "tests/relief", "tests/partner", "tests/fuzz")


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


def main(argv: list[str]) -> int:
    if argv:
        return subprocess.call([sys.executable, "-m", "pytest", *argv])
    if not all(Path(folder).is_dir() for folder in (*BROWSER, *CASE_LOOP)):
        return subprocess.call([sys.executable, "-m", "pytest"])
    return run_side_by_side()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
