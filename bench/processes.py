"""The benchmarks' process layout: services and the gateway each in their own uvicorn process
(as deployed), started from their app factories with settings in the environment, and the
CPU each one spends read from /proc."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from gateway.server import PROTOCOL_PATH
from shared.auth.tokens import public_key_pem


def platform_env(
    *, database_url: str, amqp_url: str, prefix: str, rabbit: bool, public_key: Any,
    **settings: str,
) -> dict[str, str]:
    """The environment of a bench's service and gateway processes: this run's schemas and
    broker objects (``prefix``), RabbitMQ when it answered (else the in-memory broker), tokens
    signed with the run's key, warnings-only logs; ``settings`` adds or overrides EHOME_*
    variables."""
    return dict(
        os.environ,
        DATABASE_URL=database_url,
        EHOME_DB_SCHEMA_PREFIX=prefix,
        AMQP_URL=amqp_url,
        EHOME_AMQP_PREFIX=prefix,
        EHOME_BROKER="rabbitmq" if rabbit else "memory",
        EHOME_JWT_PUBLIC_KEYS=json.dumps([public_key_pem(public_key)]),
        EHOME_LOG_LEVEL="WARNING",
    ) | settings


def spawn(
    factory: str, port: int, env: dict[str, str], workers: int = 1
) -> subprocess.Popen[bytes]:
    """``uvicorn --factory <factory>`` on 127.0.0.1:``port`` (uvloop, httptools, the gateway
    with its own protocol as deployed, no access log); refuses a port something else already
    listens on, whose answers would be measured in place of this process's."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise SystemExit(
                f"port {port} is taken ({error}); is another benchmark running?"
            ) from None
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--loop",
        "uvloop",
        "--http",
        # The gateway's as deployed (its slow-client limits), the others' uvicorn's own.
        PROTOCOL_PATH if factory.startswith("gateway.") else "httptools",
        "--log-level",
        "warning",
    ]
    if workers > 1:
        command += ["--workers", str(workers)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that nothing listens on now (the kernel's
    choice, all held at once so none is handed out twice), for processes about to be
    ``spawn``ed on them."""
    with ExitStack() as held:
        probes = [held.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc (NaN once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ms_per(count: int, before: dict[str, float], after: dict[str, float]
               ) -> dict[str, float]:
    """Per process, the CPU milliseconds spent between two readings of ``cpu_seconds``-like
    totals, per unit of work done in between (``count``: reports, attempts)."""
    return {name: round((after[name] - before.get(name, 0.0)) * 1000 / max(count, 1), 2)
            for name in after}


def local_servers_cpu_seconds() -> dict[str, float]:
    """CPU used so far by the PostgreSQL and RabbitMQ servers running on this machine (every
    postgres process, the beam.smp of RabbitMQ), when they do; read at two moments, the
    difference is what they spent in between. A backend that exits in between takes its share
    with it, so the figure is a floor."""
    totals: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue  # gone already
        server = {"postgres": "postgresql", "beam.smp": "rabbitmq"}.get(name)
        if server is not None:
            used = cpu_seconds(int(entry.name))
            if not math.isnan(used):
                totals[server] = totals.get(server, 0.0) + used
    return totals


def reference_loop_ms(repeats: int = 3) -> float:
    """Milliseconds this machine takes for a fixed pure-Python loop (the best of ``repeats``):
    a yardstick printed beside a bench's CPU figures, so runs on machines of different speed
    can be compared (the same code has measured twice as slow on one two-core VM as on
    another)."""
    best = math.inf
    for _ in range(repeats):
        started, total = time.perf_counter(), 0
        for number in range(2_000_000):
            total += number
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def wait_ready(
    url: str, within: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until ``url``/readyz answers 200; give up early if ``process`` has exited."""
    deadline = time.monotonic() + within
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise SystemExit(f"{url}: the process exited with {process.returncode}")
            try:
                if client.get(f"{url}/readyz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass  # not listening yet
            time.sleep(0.3)
    raise SystemExit(f"{url} did not become ready within {within}s")


async def rabbit_answers(url: str) -> bool:
    """Whether RabbitMQ accepts a connection at ``url`` (else a benchmark falls back to the
    in-memory broker and says so)."""
    import aio_pika

    try:
        connection = await aio_pika.connect(url, timeout=5)
    except Exception:  # any failure means "do not rely on it"; the caller says so
        return False
    await connection.close()
    return True


def stop(processes: Iterable[subprocess.Popen[bytes]], within: float = 30.0) -> None:
    """Terminate (last started first), wait up to ``within`` seconds each, then kill."""
    started = list(processes)
    for process in reversed(started):
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
