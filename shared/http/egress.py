"""Outbound HTTP to addresses others chose (partner webhooks): only to public addresses, and
to exactly the address that was checked.

Checking a host's addresses and then letting the client resolve it again to connect leaves a
gap a DNS rebinding attack fits in: public when checked, 10.0.0.5 when connected. Here the
check sits inside the connection itself: the network backend resolves the host once, refuses
the connection if any address is not public, and connects to one of the addresses it checked.
The URL keeps its host name, so the Host header, TLS SNI and certificate checks are those of
the name; a pooled connection was checked when it was opened.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable

import certifi
import httpcore
import httpx

from shared.addresses import is_public_address

Resolver = Callable[[str], Awaitable[list[str]]]


class AddressNotPublic(Exception):
    """The host resolves (also) to an address inside a private, loopback or reserved range."""

    def __init__(self, host: str) -> None:
        super().__init__(f"{host} resolves to a non-public address")
        self.host = host


def require_public_addresses(host: str, addresses: Iterable[str]) -> None:
    if not all(is_public_address(address) for address in addresses):
        raise AddressNotPublic(host)


async def resolve_host(host: str) -> list[str]:
    """The host's addresses, in the order the resolver prefers them (OSError when none)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class PublicAddressBackend(httpcore.AsyncNetworkBackend):
    """Connects only after the one resolution it checks, and only to what it checked.

    ``require`` is the check (public addresses only; a test may loosen it to reach a stand-in
    server on loopback while still proving the connection goes where the resolver said)."""

    def __init__(
        self,
        *,
        resolve: Resolver = resolve_host,
        require: Callable[[str, list[str]], None] = require_public_addresses,
    ) -> None:
        self._resolve = resolve
        self._require = require
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):  # the connect timeout covers the lookup too
                addresses = await self._resolve(host)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"{host} did not resolve in time") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve") from exc
        self._require(host, addresses)
        if not addresses:
            raise httpcore.ConnectError(f"{host} does not resolve")
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109  (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressNotPublic(path)  # never a local socket

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PublicEgressTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (request and response mapping, exceptions, keep-alive) over a
    connection pool whose every connection goes through ``PublicAddressBackend``. Direct, never
    through an environment proxy: a proxy would resolve the name itself."""

    def __init__(self, *, limits: httpx.Limits, backend: PublicAddressBackend) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
