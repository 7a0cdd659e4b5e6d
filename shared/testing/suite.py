"""``make test``'s pytest: the browser tests (tests/web) beside the rest, in two processes.

The browser tests spend most of their time waiting on Chromium and the platform they drive,
the rest mostly on PostgreSQL; side by side on two cores the suite takes about the time of
the longer half instead of the sum. Each process is a pytest session of its own (its own run
id, schemas, broker objects and, without DATABASE_URL, embedded PostgreSQL), so they share
nothing. The browser half's output is kept in a file and printed after the rest's, whole.

With arguments (``make test PYTEST_ARGS=...``) it is plain pytest with them, in one process.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

BROWSER_TESTS = "tests/web"


def _pytest(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", *args]


def run_split() -> int:
    started = time.monotonic()
    with tempfile.TemporaryFile("w+b") as browser_log:
        # No cache plugin in the second process: two writers of .pytest_cache would race.
        browser = subprocess.Popen(
            _pytest(BROWSER_TESTS, "-p", "no:cacheprovider"),
            stdout=browser_log, stderr=subprocess.STDOUT)
        rest_code = subprocess.call(_pytest("--ignore", BROWSER_TESTS))
        rest_seconds = time.monotonic() - started
        browser_code = browser.wait()
        browser_seconds = time.monotonic() - started
        browser_log.seek(0)
        sys.stdout.write(f"\n===== {BROWSER_TESTS} (run beside the rest) =====\n")
        sys.stdout.flush()
        sys.stdout.buffer.write(browser_log.read())
    print(f"\nsuite: rest exit {rest_code} after {rest_seconds:.0f} s, "
          f"{BROWSER_TESTS} exit {browser_code} after {browser_seconds:.0f} s")
    return rest_code or browser_code


def main(argv: list[str]) -> int:
    if argv:
        return subprocess.call(_pytest(*argv))
    if not Path(BROWSER_TESTS).is_dir():
        return subprocess.call(_pytest())
    return run_split()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
