"""`make run-dist`: every service in its own process against real PostgreSQL and RabbitMQ,
the gateway in front, ready through the gateway, and stopped cleanly by one signal."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from shared.db.migrate import SCHEMAS
from shared.testing.plugin import Migrator
from tests.e2e.test_make_run import ROOT, _free_port


@pytest.fixture
def dist_prefix(migrator: Migrator, run_prefix: str) -> str:
    """Schemas of their own, which `make run-dist` migrates itself (into the prefixed schemas
    its services use, or they would not be ready); dropped at the end of the run."""
    prefix = f"{run_prefix}d"
    migrator.drop_at_end(*SCHEMAS, prefix=prefix)
    return prefix


def test_make_run_dist_serves_every_service_behind_the_gateway(
    tmp_path: Path, database_url: str, amqp_url: str, dist_prefix: str
) -> None:
    prefix = dist_prefix
    port = _free_port()
    env = dict(os.environ) | {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "EHOME_DB_SCHEMA_PREFIX": prefix,
        "EHOME_AMQP_PREFIX": prefix,
        "EHOME_PORT": str(port),
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
        ready = None
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and process.poll() is None:
                if "listening on" in log_path.read_text(errors="replace"):
                    ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                    break
                time.sleep(0.5)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            try:
                exit_code = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                exit_code = None
    output = log_path.read_text(errors="replace")
    assert ready is not None, output[-3000:]
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert set(ready.json()["checks"]) == {
        "identity",
        "events",
        "routing",
        "feedback",
        "relief",
        "booking",
    }
    assert f"listening on http://127.0.0.1:{port}" in output
    assert exit_code is not None, "run-dist did not stop on SIGTERM"
