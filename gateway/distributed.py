"""``make run-dist``: each service in its own uvicorn process, against ``DATABASE_URL`` and
``AMQP_URL``, with the gateway in front — the process layout of Kubernetes on one machine.

The launcher supervises its processes as an orchestrator would: one that dies (a crash, a
``kill -9``, even a clean exit) is started again after a pause that doubles from 1 s up to
30 s while it keeps dying, and the others go on serving meanwhile; each exit and restart is
logged. SIGTERM or SIGINT to the launcher stops every process (each drains and exits 0) and
then the launcher itself (0 when all of them stopped cleanly).

Where each process listens: the services at ``EHOME_GATEWAY_UPSTREAM_URLS`` (default
127.0.0.1:8001–8006), the partner API at ``EHOME_GATEWAY_PARTNER_URL`` (default :8007), the
gateway at ``EHOME_HOST``:``EHOME_PORT``. ``--services`` runs only some services (the gateway
then forwards to those only).

Also the uvicorn factory of the gateway container: ``python -m shared.web.serve --factory
gateway.distributed:create_gateway_from_env``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gateway.app import GatewayApp, create_http_gateway_app
from gateway.server import PROTOCOL_PATH
from gateway.settings import DEFAULT_UPSTREAM_URLS, SERVICES, GatewaySettings
from shared.auth.tokens import public_key_pem
from shared.db.migrate import upgrade_all
from shared.settings import ServiceSettings

GRACE_SECONDS = 25
# The partner API (/open/v1) runs as its own process; the gateway reaches it here.
PARTNER_URL_ENV = "EHOME_GATEWAY_PARTNER_URL"
DEFAULT_PARTNER_URL = f"http://127.0.0.1:{8001 + len(SERVICES)}"
# Restart pauses: 1 s, 2 s, 4 s … 30 s while a process keeps dying; one that stayed up this
# long before it died is restarted after 1 s again (Kubernetes' CrashLoopBackOff, shorter).
RESTART_FIRST_SECONDS, RESTART_MAX_SECONDS, STABLE_SECONDS = 1.0, 30.0, 60.0
READY_WITHIN_SECONDS = 60


def create_gateway_from_env() -> GatewayApp:
    return create_http_gateway_app(GatewaySettings())


def _uvicorn(target: str, port: int, host: str = "127.0.0.1") -> list[str]:
    # shared.web.serve is uvicorn's command line, exiting 0 (not -15) after a clean drain.
    command = [
        sys.executable,
        "-m",
        "shared.web.serve",
        "--factory",
        target,
        "--host",
        host,
        "--port",
        str(port),
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "20",
    ]
    if target.startswith("gateway.distributed:"):
        # The gateway faces clients: close connections whose headers or body stall
        # (gateway/server.py).
        command += ["--http", PROTOCOL_PATH]
    return command


def _log(message: str) -> None:
    print(f"run-dist: {message}", file=sys.stderr, flush=True)


def _exit_status(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


@dataclass
class Supervised:
    """One process of the platform and its restart bookkeeping."""

    name: str
    command: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0  # how many times it has been started again
    quick_deaths: int = 0  # deaths in a row, each within STABLE_SECONDS of its start
    restart_at: float | None = field(default=None)

    def start(self, now: float | None = None) -> None:
        self.process = subprocess.Popen(self.command, env=self.env)
        self.started_at = time.monotonic() if now is None else now
        self.restart_at = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def supervise(self, now: float) -> None:
        """Notice a death and schedule the restart; start it again when its pause is over."""
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restarts += 1
                self.start(now)
                assert self.process is not None
                _log(f"{self.name} restarted (pid {self.process.pid}, restart {self.restarts})")
            return
        if self.process is None or (code := self.process.poll()) is None:
            return
        up_for = now - self.started_at
        self.quick_deaths = self.quick_deaths + 1 if up_for < STABLE_SECONDS else 1
        pause = min(RESTART_FIRST_SECONDS * 2 ** (self.quick_deaths - 1), RESTART_MAX_SECONDS)
        self.restart_at = now + pause
        _log(
            f"{self.name} (pid {self.process.pid}) {_exit_status(code)} after {up_for:.1f} s;"
            f" restarting in {pause:g} s"
        )

    def terminate(self) -> None:
        """SIGTERM it; one that is down already stays down (its death logged)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            return
        if self.restart_at is None:  # died since the last look
            _log(f"{self.name} (pid {self.process.pid}) {_exit_status(self.process.returncode)}")
        self.process, self.restart_at = None, None

    def wait(self, deadline: float) -> int:
        """The exit code once it has stopped (killed when it outlives ``deadline``)."""
        if self.process is None:
            return 0
        try:
            return self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _log(f"{self.name} did not stop within {GRACE_SECONDS} s; killing it")
            self.process.kill()
            return self.process.wait()


def _child_env(
    signing_pem: str, public_pem: str, upstreams: dict[str, str], partner_url: str
) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("EHOME_JWT_PUBLIC_KEYS", json.dumps([public_pem]))
    env.setdefault("EHOME_IDENTITY_SIGNING_KEY", signing_pem)
    # The gateway forwards to the services this launcher runs, where it runs them.
    env["EHOME_GATEWAY_UPSTREAM_URLS"] = json.dumps(upstreams)
    env[PARTNER_URL_ENV] = partner_url
    every = DEFAULT_UPSTREAM_URLS | upstreams
    env.setdefault("EHOME_PARTNER_IDENTITY_BASE_URL", every["identity"])
    # Every verifier (gateway, services, partner) polls identity's revoked tokens.
    env.setdefault("EHOME_REVOCATIONS_URL", every["identity"] + "/internal/identity/revocations")
    env.setdefault("EHOME_PARTNER_EVENTS_BASE_URL", every["events"])
    for caller in ("relief", "feedback"):  # services that call identity's internal API
        env.setdefault(f"EHOME_{caller.upper()}_IDENTITY_BASE_URL", every["identity"])
    return env


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def _still_unready(client: httpx.Client, urls: list[str]) -> list[str]:
    """One round of /readyz: the URLs that did not answer 200."""
    waiting = []
    for url in urls:
        try:
            if client.get(f"{url}/readyz").status_code == 200:
                continue
        except httpx.HTTPError:
            pass  # not listening yet; asked again on the next round
        waiting.append(url)
    return waiting


def _processes(services: tuple[str, ...], env: dict[str, str]) -> list[Supervised]:
    gateway = GatewaySettings()
    upstreams = json.loads(env["EHOME_GATEWAY_UPSTREAM_URLS"])
    children = [
        Supervised(name, _uvicorn(f"services.{name}.app:create_app", _port(upstreams[name])), env)
        for name in services
    ]
    partner = _uvicorn("gateway.partner.app:create_app", _port(env[PARTNER_URL_ENV]))
    children.append(Supervised("partner", partner, env))
    target = "gateway.distributed:create_gateway_from_env"
    children.append(Supervised("gateway", _uvicorn(target, gateway.port, gateway.host), env))
    return children


def run(services: tuple[str, ...]) -> int:
    from gateway.embedded import data_dir, load_or_create_signing_key

    settings = ServiceSettings()
    asyncio.run(upgrade_all(settings.database_url, prefix=settings.schema_prefix))
    key = load_or_create_signing_key(data_dir() / "keys" / "identity-signing.pem")
    gateway = GatewaySettings()
    upstreams = {name: gateway.upstream_urls[name] for name in services}
    partner_url = os.environ.get(PARTNER_URL_ENV, DEFAULT_PARTNER_URL)
    env = _child_env(key.private_pem(), public_key_pem(key.public_key), upstreams, partner_url)
    children = _processes(services, env)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.start()
    gateway_url = f"http://{gateway.host}:{gateway.port}"
    unready = [*upstreams.values(), partner_url, gateway_url]
    ready_by = time.monotonic() + READY_WITHIN_SECONDS
    with httpx.Client(timeout=1.0) as client:
        while not stopping:
            now = time.monotonic()
            for child in children:
                child.supervise(now)
            if unready:
                unready = _still_unready(client, unready)
                if not unready:
                    _log(f"services: {', '.join([*upstreams.values(), partner_url])}")
                    print(
                        f"Ping'an e-Home (distributed) listening on {gateway_url}", flush=True
                    )
                elif now > ready_by:
                    _log(f"not ready after {READY_WITHIN_SECONDS} s: {', '.join(unready)}")
                    ready_by = float("inf")  # said once; supervision goes on
            time.sleep(0.3)
    return _stop_all(children)


def _stop_all(children: list[Supervised]) -> int:
    """SIGTERM every process, wait for each to drain; 0 when every one stopped cleanly."""
    for child in children:
        child.terminate()
    deadline = time.monotonic() + GRACE_SECONDS
    codes = {child.name: child.wait(deadline) for child in children}
    unclean = {name: code for name, code in codes.items() if code != 0}
    for name, code in unclean.items():
        _log(f"{name} {_exit_status(code)} while stopping")
    return 1 if unclean else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run every service in its own process.")
    parser.add_argument("--services", nargs="*", default=list(SERVICES), choices=SERVICES)
    args = parser.parse_args(argv)
    os.chdir(Path(__file__).resolve().parents[1])
    return run(tuple(args.services))


if __name__ == "__main__":
    sys.exit(main())
