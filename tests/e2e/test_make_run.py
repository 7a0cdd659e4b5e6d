"""`make run` on nothing but Python: the whole platform answers through the gateway."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from shared.db.migrate import SCHEMAS
from shared.testing.plugin import Migrator

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Run:
    health: httpx.Response | None
    ready: httpx.Response | None
    elapsed: float  # seconds until the gateway answered
    exit_code: int | None  # after SIGTERM
    output: str
    port: int

    def why(self) -> str:
        """For a failure message: the log's errors (a long traceback pushes the first cause
        out of any tail), then its tail."""
        errors = [line[:1500] for line in self.output.splitlines() if '"level": "error"' in line]
        return "errors:\n" + "\n".join(errors[:3]) + f"\nlog tail:\n{self.output[-2000:]}"


def _make_run(tmp_path: Path, **settings: str) -> Run:
    """`make run` with only ``settings`` beyond the caller's environment (no DATABASE_URL or
    AMQP_URL unless given)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "AMQP_URL")}
    env |= {"EHOME_PORT": str(port), "EHOME_DATA_DIR": str(tmp_path / "data")} | settings
    log = (tmp_path / "run.log").open("wb")
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started = time.monotonic()
    health = ready = None
    try:
        while time.monotonic() - started < 60 and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        elapsed = time.monotonic() - started
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            exit_code = process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            exit_code = None
        log.close()
    output = (tmp_path / "run.log").read_text(errors="replace")
    return Run(health, ready, elapsed, exit_code, output, port)


def test_make_run_answers_healthz_through_the_gateway_within_60_seconds(tmp_path: Path) -> None:
    run = _make_run(tmp_path)
    health, ready, elapsed, exit_code, output, port = (
        run.health, run.ready, run.elapsed, run.exit_code, run.output, run.port)
    assert health is not None, f"no answer within 60 s; {run.why()}"
    assert health.status_code == 200
    assert elapsed < 60
    assert ready is not None, run.why()
    assert ready.status_code == 200, ready.text
    assert f"listening on http://127.0.0.1:{port}" in output
    assert exit_code is not None, "make run did not stop on SIGTERM"
    assert "service_stopped" in output  # each service went through its orderly shutdown
    still_running = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "data" / "pg")], capture_output=True, text=True
    ).stdout
    assert still_running == "", "the embedded PostgreSQL outlived make run"


def test_make_run_on_a_given_database_migrates_the_prefixed_schemas_its_services_use(
    tmp_path: Path, database_url: str, migrator: Migrator, run_prefix: str
) -> None:
    prefix = f"{run_prefix}r"
    migrator.drop_at_end(*SCHEMAS, prefix=prefix)
    run = _make_run(tmp_path, DATABASE_URL=database_url, EHOME_DB_SCHEMA_PREFIX=prefix)
    assert run.ready is not None, run.why()
    assert run.ready.status_code == 200, run.ready.text  # every service found its tables
    assert run.exit_code is not None, "make run did not stop on SIGTERM"
