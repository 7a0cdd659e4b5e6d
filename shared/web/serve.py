"""``python -m shared.web.serve <uvicorn options>``: uvicorn, exiting 0 after a clean drain.

The same command line (and ``UVICORN_*`` variables) as ``uvicorn``; only the end differs.
uvicorn handles SIGTERM while it serves (stops accepting, finishes the requests in flight,
runs the lifespan shutdown), then restores the handler it found and raises the signal again.
With Python's default handler that re-raise kills the process, so a supervisor sees
"terminated by SIGTERM" (-15, or 143 in a container) after every orderly stop and cannot tell
it from a process killed mid-request. Here the handler uvicorn finds ends the process with
status 0 instead: at the re-raise, once the drain is done, or at once when SIGTERM arrives
before uvicorn serves (there is nothing to drain yet). A failed start keeps uvicorn's status
(3), a crash its traceback and 1, and a SIGKILL is still -9.

Every process of the platform runs this way: ``make run-dist`` (gateway/distributed.py), the
Dockerfile's default command and the Kubernetes manifests.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import uvicorn


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_cleanly)
    # standalone_mode keeps click's own handling: usage errors exit 2, --help exits 0.
    uvicorn.main(args=argv, prog_name="python -m shared.web.serve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
