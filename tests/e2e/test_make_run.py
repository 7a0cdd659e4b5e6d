"""`make run` on nothing but Python: the whole platform answers through the gateway."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_make_run_answers_healthz_through_the_gateway_within_60_seconds(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "AMQP_URL")}
    env |= {"EHOME_PORT": str(port), "EHOME_DATA_DIR": str(tmp_path / "data")}
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
    assert health is not None, f"no answer within 60 s; log tail:\n{output[-3000:]}"
    assert health.status_code == 200
    assert elapsed < 60
    assert ready is not None, output[-3000:]
    assert ready.status_code == 200, ready.text
    assert f"listening on http://127.0.0.1:{port}" in output
    assert exit_code is not None, "make run did not stop on SIGTERM"
    assert "service_stopped" in output  # each service went through its orderly shutdown
    still_running = subprocess.run(
        ["pgrep", "-f", str(tmp_path / "data" / "pg")], capture_output=True, text=True
    ).stdout
    assert still_running == "", "the embedded PostgreSQL outlived make run"
