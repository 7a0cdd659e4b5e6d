"""schemathesis over the whole merged OpenAPI document, through the real gateway on a socket.

The platform is the embedded composition (gateway/embedded.py: every service and the partner
app in-process behind the gateway) on real PostgreSQL, with the in-memory broker: the fuzz
run is about what each request answers, and events only need to flow, not to survive a
broker outage (other tests cover RabbitMQ). The gateway runs under uvicorn with its own
protocol, as in production.

schemathesis runs as its command line (``schemathesis run``) in a child process: it is sync
code, and the platform answers on this test's event loop. Two passes side by side,
anonymous and with a resident's token; each must find no server error and no status code,
content type or body the document does not declare. The run is bounded by examples per
operation, not by time, and takes about 90 s on a 2-core machine; the seed is fixed so a
failure reproduces.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.embedded import assemble_gateway, build_service_apps
from gateway.server import guarded_protocol
from gateway.settings import GatewaySettings
from shared.auth.tokens import SigningKey, TokenVerifier
from shared.db.migrate import SERVICES
from shared.testing.live_server import serving
from shared.testing.plugin import Migrator

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
# Examples per operation: the anonymous pass mostly meets the token check, so it needs few.
# The resident pass takes 8: the API has grown to over 150 operations, and at 15 the pass
# took over two minutes of `make test` (EHOME_FUZZ_EXAMPLES raises it for a deeper run).
# The coverage phase (boundary values of every parameter) adds ~100 s a pass here: it runs
# when EHOME_FUZZ_PHASES=coverage,fuzzing is set, not inside `make test`.
ANONYMOUS_EXAMPLES = int(os.environ.get("EHOME_FUZZ_ANONYMOUS_EXAMPLES", "4"))
RESIDENT_EXAMPLES = int(os.environ.get("EHOME_FUZZ_EXAMPLES", "8"))
PHASES = os.environ.get("EHOME_FUZZ_PHASES", "fuzzing")
SEED = int(os.environ.get("EHOME_FUZZ_SEED", "15"))
PASS_TIMEOUT_SECONDS = 240


@pytest.fixture
async def platform_url(
    database_url: str,
    migrator: Migrator,
    run_prefix: str,
    signing_key: SigningKey,
    token_verifier: TokenVerifier,
) -> AsyncIterator[str]:
    prefix = f"{run_prefix}f{uuid.uuid4().hex[:5]}"
    await migrator.ensure(*SERVICES, "partner", prefix=prefix)
    apps = build_service_apps(
        database_url=database_url,
        amqp_url=None,  # the in-memory broker (see the module docstring)
        signing_key=signing_key,
        verifier=token_verifier,
        settings_overrides={
            "environment": "test",
            "schema_prefix": prefix,
            "amqp_prefix": prefix,
            "log_level": "CRITICAL",
        },
    )
    settings = GatewaySettings(
        environment="test",
        log_level="CRITICAL",
        rate_limit_per_second=100_000,
        rate_limit_burst=100_000,
        upstream_max_in_flight={},
    )
    gateway = assemble_gateway(settings, apps, token_verifier)
    protocol = guarded_protocol(settings.header_timeout_seconds, settings.body_timeout_seconds)
    async with serving(gateway, lifespan="on", http=protocol) as url:
        yield url


async def _resident_token(url: str) -> str:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        login = await client.post(
            "/api/v1/identity/wechat-login", json={"code": f"sandbox:fuzz-{uuid.uuid4().hex}"}
        )
    assert login.status_code == 200, login.text
    return str(login.json()["access_token"])


async def _schemathesis(url: str, workdir: Path, examples: int, *headers: str) -> tuple[int, str]:
    """schemathesis's exit code and its report (its replay files stay in ``workdir``)."""
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(examples),
        "--seed",
        str(SEED),
        "--phases",
        PHASES,
        # One worker: with several threads, CPython 3.11's ast (hypothesis parses lambdas
        # while describing strategies) can fail with "AST constructor recursion depth
        # mismatch", a runner error that is no finding.
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--no-shrink",
        "--suppress-health-check",
        "all",
        *(part for header in headers for part in ("--header", header)),
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
        cwd=workdir,
    )
    try:
        async with asyncio.timeout(PASS_TIMEOUT_SECONDS):
            output, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return process.returncode or 0, output.decode(errors="replace")


@pytest.mark.timeout(PASS_TIMEOUT_SECONDS + 120)
async def test_schemathesis_finds_no_server_error_and_nothing_undocumented(
    platform_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    token = await _resident_token(platform_url)
    passes = {
        "anonymous": (ANONYMOUS_EXAMPLES, ()),
        "resident": (RESIDENT_EXAMPLES, (f"Authorization: Bearer {token}",)),
    }
    # The passes run side by side, each one process with one worker (see _schemathesis).
    results = await asyncio.gather(
        *(
            _schemathesis(platform_url, tmp_path_factory.mktemp(name), examples, *headers)
            for name, (examples, headers) in passes.items()
        )
    )
    failures = []
    for name, (code, output) in zip(passes, results, strict=True):
        if code != 0:
            # From schemathesis's list of failures on (its progress report comes first).
            report = output[output.find("FAILURES") - 40 :] if "FAILURES" in output else output
            failures.append(f"--- {name} pass (exit {code}) ---\n{report[:30000]}")
    assert not failures, "\n".join(failures)
