"""Webhook egress: a connection goes only to public addresses, and only to the address its
check saw. Everything stays on loopback: the checks under test are loosened to let 127.0.0.1
stand for "public" and 127.0.0.2 for "private", the real rule is tested on its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from aiohttp import web

from shared.addresses import is_public_address
from shared.http.client import connection_limits, create_http_client
from shared.http.egress import (
    AddressNotPublic,
    PublicAddressBackend,
    PublicEgressTransport,
)

HOST = "hooks.partner.invalid"  # .invalid never resolves: only our lookup can reach it


@asynccontextmanager
async def receiver() -> AsyncIterator[tuple[int, list[str]]]:
    hosts: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        hosts.append(request.headers["Host"])
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1], hosts  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


def only_127_0_0_1(host: str, addresses: list[str]) -> None:
    if any(address != "127.0.0.1" for address in addresses):
        raise AddressNotPublic(host)


def client_over(backend: PublicAddressBackend) -> httpx.AsyncClient:
    transport = PublicEgressTransport(limits=connection_limits(4), backend=backend)
    return create_http_client(timeout=2.0, transport=transport)


async def test_a_webhook_connects_to_the_address_its_check_saw_keeping_the_host_name() -> None:
    lookups: list[str] = []

    async def resolve(host: str) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    backend = PublicAddressBackend(resolve=resolve, require=only_127_0_0_1)
    async with receiver() as (port, hosts), client_over(backend) as client:
        response = await client.post(f"http://{HOST}:{port}/hook", content=b"{}")
    assert response.status_code == 204
    assert lookups == [HOST]  # one lookup, and no other: the name never went to real DNS
    assert hosts == [f"{HOST}:{port}"]


async def test_a_host_rebound_to_a_private_address_is_refused_on_its_next_connection() -> None:
    answers = iter([["127.0.0.1"], ["127.0.0.2"]])  # a TTL-0 rebinding: public, then inside

    async def resolve(host: str) -> list[str]:
        return next(answers)

    backend = PublicAddressBackend(resolve=resolve, require=only_127_0_0_1)
    async with receiver() as (port, hosts):
        async with client_over(backend) as first:
            assert (await first.post(f"http://{HOST}:{port}/hook")).status_code == 204
        async with client_over(backend) as second:  # a new connection: checked again
            with pytest.raises(AddressNotPublic):
                await second.post(f"http://{HOST}:{port}/hook")
    assert len(hosts) == 1


async def test_a_host_with_any_non_public_address_is_refused_before_connecting() -> None:
    async def resolve(host: str) -> list[str]:
        return ["127.0.0.1", "127.0.0.2"]

    backend = PublicAddressBackend(resolve=resolve, require=only_127_0_0_1)
    async with receiver() as (port, hosts), client_over(backend) as client:
        with pytest.raises(AddressNotPublic):
            await client.post(f"http://{HOST}:{port}/hook")
    assert hosts == []


async def test_with_the_real_rule_a_loopback_answer_is_refused() -> None:
    async def resolve(host: str) -> list[str]:
        return ["127.0.0.1"]

    backend = PublicAddressBackend(resolve=resolve)
    async with receiver() as (port, hosts), client_over(backend) as client:
        with pytest.raises(AddressNotPublic):
            await client.post(f"http://{HOST}:{port}/hook")
    assert hosts == []


async def test_a_host_that_does_not_resolve_is_a_connect_error() -> None:
    async def resolve(host: str) -> list[str]:
        raise OSError("Name or service not known")

    async with client_over(PublicAddressBackend(resolve=resolve)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://{HOST}/hook")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("10.0.0.5", False),
        ("172.16.3.4", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # shared address space (carrier NAT, some clusters' pods)
        ("127.0.0.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.5", False),  # IPv4 written as IPv6
        ("::ffff:93.184.216.34", True),
    ],
)
def test_only_globally_routable_unicast_addresses_are_public(address: str, public: bool) -> None:
    assert is_public_address(address) is public
