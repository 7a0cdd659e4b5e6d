"""`make run-dist`: every service in its own process against real PostgreSQL and RabbitMQ,
the gateway in front, ready through the gateway; a service that dies is started again while
the others keep serving; a service drains and exits 0 on SIGTERM; one signal to the launcher
stops everything cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bench.chaos.processes import launcher_pid, service_pid
from gateway.distributed import STABLE_SECONDS, Supervised
from gateway.settings import SERVICES
from shared.db.migrate import SCHEMAS
from shared.testing.plugin import Migrator, wait_until
from tests.e2e.test_make_run import ROOT, _free_port


@dataclass
class RunDist:
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int  # the gateway's
    upstreams: dict[str, str]

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def launcher(self) -> int:
        pid = launcher_pid(self.process.pid)
        assert pid is not None, self.output()[-3000:]
        return pid

    def pid_of(self, service: str) -> int | None:
        return service_pid(self.process.pid, service)


@pytest.fixture
def dist_prefix(migrator: Migrator, run_prefix: str) -> str:
    """Schemas of their own, which `make run-dist` migrates itself (into the prefixed schemas
    its services use, or they would not be ready); dropped at the end of the run."""
    prefix = f"{run_prefix}d"
    migrator.drop_at_end(*SCHEMAS, prefix=prefix)
    return prefix


@pytest.fixture
def run_dist(
    tmp_path: Path, database_url: str, amqp_url: str, dist_prefix: str
) -> Iterator[RunDist]:
    """`make run-dist` on free ports (the services' too), stopped at the end of the test."""
    port, partner_port, *ports = (_free_port() for _ in range(2 + len(SERVICES)))
    upstreams = {name: f"http://127.0.0.1:{p}" for name, p in zip(SERVICES, ports, strict=True)}
    env = dict(os.environ) | {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "EHOME_DB_SCHEMA_PREFIX": dist_prefix,
        "EHOME_AMQP_PREFIX": dist_prefix,
        "EHOME_PORT": str(port),
        "EHOME_GATEWAY_UPSTREAM_URLS": json.dumps(upstreams),
        "EHOME_GATEWAY_PARTNER_URL": f"http://127.0.0.1:{partner_port}",
        "EHOME_DATA_DIR": str(tmp_path / "data"),
        "EHOME_ENV": "test",
    }
    log_path = tmp_path / "run-dist.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run-dist"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    run = RunDist(process, log_path, port, upstreams)
    try:
        deadline = time.monotonic() + 90
        while "listening on" not in run.output():
            assert process.poll() is None, run.output()[-3000:]
            assert time.monotonic() < deadline, run.output()[-3000:]
            time.sleep(0.3)
        yield run
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _stop_launcher(run: RunDist) -> int | None:
    """SIGTERM to the launcher alone (not its process group): it stops the rest."""
    os.kill(run.launcher(), signal.SIGTERM)
    try:
        return run.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        return None


async def _ready(client: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await client.get(f"{url}/readyz")).status_code == 200
    except httpx.TransportError:
        return False


def test_make_run_dist_serves_every_service_behind_the_gateway(run_dist: RunDist) -> None:
    ready = httpx.get(f"http://127.0.0.1:{run_dist.port}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert set(ready.json()["checks"]) == set(SERVICES)
    assert f"listening on http://127.0.0.1:{run_dist.port}" in run_dist.output()
    exit_code = _stop_launcher(run_dist)
    output = run_dist.output()
    assert exit_code == 0, output[-3000:]
    assert "while stopping" not in output, output[-3000:]  # every process drained, status 0


async def test_make_run_dist_restarts_a_killed_service_while_the_others_serve(
    run_dist: RunDist,
) -> None:
    routing, events = run_dist.upstreams["routing"], run_dist.upstreams["events"]
    killed = run_dist.pid_of("routing")
    assert killed is not None
    os.kill(killed, signal.SIGKILL)
    async with httpx.AsyncClient(timeout=5) as client:

        async def routing_is_back() -> bool:
            # Meanwhile the other services answer as before.
            assert await _ready(client, events), "events stopped serving"
            gateway = await client.get(f"http://127.0.0.1:{run_dist.port}/healthz")
            assert gateway.status_code == 200, "the gateway stopped serving"
            return run_dist.pid_of("routing") not in (None, killed) and await _ready(
                client, routing
            )

        await wait_until(routing_is_back, within=60, interval=0.3)
    output = run_dist.output()
    assert f"routing (pid {killed}) killed by SIGKILL" in output, output[-3000:]
    assert "routing restarted" in output, output[-3000:]
    assert _stop_launcher(run_dist) == 0, run_dist.output()[-3000:]


async def test_a_service_drains_and_exits_0_on_sigterm_and_is_started_again(
    run_dist: RunDist,
) -> None:
    stopped = run_dist.pid_of("events")
    assert stopped is not None
    os.kill(stopped, signal.SIGTERM)
    async with httpx.AsyncClient(timeout=5) as client:

        async def events_is_back() -> bool:
            return run_dist.pid_of("events") not in (None, stopped) and await _ready(
                client, run_dist.upstreams["events"]
            )

        await wait_until(events_is_back, within=60, interval=0.3)
    output = run_dist.output()
    assert f"events (pid {stopped}) exited with status 0" in output, output[-3000:]
    assert _stop_launcher(run_dist) == 0, run_dist.output()[-3000:]


def test_a_process_that_keeps_dying_is_restarted_after_pauses_doubling_to_30_s() -> None:
    child = Supervised("crashing", [sys.executable, "-c", "raise SystemExit(1)"], dict(os.environ))
    now = time.monotonic()
    child.start(now)
    pauses = []
    for _ in range(7):
        assert child.process is not None
        child.process.wait()
        child.supervise(now)  # notices the death at once: it was up for no time
        assert child.restart_at is not None
        pauses.append(child.restart_at - now)
        now = child.restart_at
        child.supervise(now)  # its pause is over: started again
    # Times are floats from the monotonic clock: now + 30 - now need not be exactly 30.
    assert pauses == pytest.approx([1, 2, 4, 8, 16, 30, 30])
    assert child.restarts == 7
    # One that stayed up a while before dying starts the pauses again at 1 s.
    assert child.process is not None
    child.process.wait()
    child.supervise(now + STABLE_SECONDS + 1)
    assert child.restart_at == now + STABLE_SECONDS + 1 + 1
