"""The platform under test: ``python -m gateway.distributed`` (the ``make run-dist`` launcher
and its supervisor) running events, routing, the partner app and the gateway, reaching
PostgreSQL and RabbitMQ only through TCP proxies this process controls."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.chaos.processes import launcher_pid, service_pid
from bench.processes import free_ports
from shared.auth.tokens import public_key_pem
from shared.testing.tcpproxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SERVICES = ("events", "routing")
ISSUER, AUDIENCE = "ehome-identity", "ehome"


class ChaosError(RuntimeError):
    """The platform did not do what the run needs (start, restart, be ready) in time."""


@dataclass
class Platform:
    """Start, stop, kill and watch the launcher's processes; cut and restore the broker."""

    database_url: str
    amqp_url: str
    prefix: str
    public_key: object
    work_dir: Path
    database: TcpProxy = field(init=False)
    broker: TcpProxy = field(init=False)
    launcher: asyncio.subprocess.Process | None = None
    starts: int = 0

    async def open(self) -> None:
        self.database = await TcpProxy.to_url(self.database_url).start()
        self.broker = await TcpProxy.to_url(self.amqp_url).start()
        gateway, partner, *services = free_ports(2 + len(SERVICES))
        self.gateway_url = f"http://{HOST}:{gateway}"
        self.upstreams = {
            name: f"http://{HOST}:{port}" for name, port in zip(SERVICES, services, strict=True)
        }
        self.env = dict(
            os.environ,
            DATABASE_URL=self.database.through(self.database_url),
            AMQP_URL=self.broker.through(self.amqp_url),
            EHOME_BROKER="rabbitmq",
            EHOME_DB_SCHEMA_PREFIX=self.prefix,
            EHOME_AMQP_PREFIX=self.prefix,
            EHOME_JWT_PUBLIC_KEYS=json.dumps([public_key_pem(self.public_key)]),
            EHOME_JWT_ISSUER=ISSUER,
            EHOME_JWT_AUDIENCE=AUDIENCE,
            EHOME_LOG_LEVEL="WARNING",
            EHOME_OUTBOX_POLL_SECONDS="0.5",
            EHOME_DATA_DIR=str(self.work_dir / "data"),
            EHOME_EVENTS_ATTACHMENT_DIR=str(self.work_dir / "attachments"),
            EHOME_PORT=str(gateway),
            EHOME_GATEWAY_UPSTREAM_URLS=json.dumps(self.upstreams),
            EHOME_GATEWAY_PARTNER_URL=f"http://{HOST}:{partner}",
            EHOME_GATEWAY_RATE_LIMIT_PER_SECOND="100000",
            EHOME_GATEWAY_RATE_LIMIT_BURST="100000",
        )
        self.log_path = self.work_dir / "run-dist.log"

    async def close(self) -> None:
        if self.launcher is not None and self.launcher.returncode is None:
            await self.stop()
        await self.database.close()
        await self.broker.close()

    async def start(self, within: float = 120.0) -> None:
        """Start the launcher and wait until the gateway, events and routing are ready."""
        with self.log_path.open("ab") as log:
            self.launcher = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway.distributed", "--services", *SERVICES,
                cwd=ROOT, env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT,
            )
        self.starts += 1
        await self.wait_ready([self.gateway_url, *self.upstreams.values()], within)

    async def stop(self, within: float = 60.0) -> int:
        """SIGTERM to the launcher (it drains every process); its exit code."""
        assert self.launcher is not None
        self.launcher.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.launcher.wait(), within)
        except TimeoutError:
            self.launcher.kill()
            return await self.launcher.wait()

    def pid_of(self, name: str) -> int | None:
        assert self.launcher is not None
        root = launcher_pid(self.launcher.pid) or self.launcher.pid
        return service_pid(root, name)

    async def kill(self, name: str) -> int:
        """``kill -9`` the process serving ``name``; its pid."""
        pid = self.pid_of(name)
        if pid is None:
            raise ChaosError(f"no process serves {name}; see {self.log_path}")
        os.kill(pid, signal.SIGKILL)
        return pid

    async def wait_restarted(self, name: str, killed: int, within: float = 90.0) -> None:
        """Until another process serves ``name`` and answers /readyz with 200."""
        deadline = time.monotonic() + within
        while self.pid_of(name) in (None, killed):
            if time.monotonic() > deadline:
                raise ChaosError(f"{name} was not restarted within {within} s")
            await asyncio.sleep(0.1)
        await self.wait_ready([self.upstreams[name]], max(1.0, deadline - time.monotonic()))

    async def wait_ready(self, urls: list[str], within: float) -> None:
        deadline = time.monotonic() + within
        waiting = list(urls)
        async with httpx.AsyncClient(timeout=2.0) as client:
            while waiting:
                if self.launcher is not None and self.launcher.returncode is not None:
                    raise ChaosError(f"the launcher exited; see {self.log_path}")
                if time.monotonic() > deadline:
                    raise ChaosError(f"not ready within {within} s: {waiting}")
                for url in list(waiting):
                    try:
                        if (await client.get(f"{url}/readyz")).status_code == 200:
                            waiting.remove(url)
                    except httpx.HTTPError:
                        pass  # not listening yet
                await asyncio.sleep(0.1)

    def supervisor_log(self) -> list[str]:
        """The launcher's own lines (exits, restarts, readiness), in order."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [line for line in text.splitlines() if line.startswith("run-dist:")]
