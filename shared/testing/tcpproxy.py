"""A TCP proxy the test controls: ``cut()`` drops every connection and refuses new ones until
``restore()``. Used to take RabbitMQ or PostgreSQL away from a service for real.

``TcpProxy.to_url(url)`` proxies the server a database or broker URL names and ``through(url)``
gives the URL that reaches it through the proxy. PostgreSQL may be named by a unix socket
directory (``?host=/dir``, as the embedded server's URL has, with no TCP listener): the proxy
then listens on TCP and forwards to that socket."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

HOST = "127.0.0.1"
_DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432, "amqp": 5672, "amqps": 5671}


class TcpProxy:
    def __init__(
        self, target_host: str, target_port: int, *, unix_socket: str | None = None
    ) -> None:
        self._target = (target_host, target_port)
        self._unix_socket = unix_socket
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.accepting = True

    @classmethod
    def to_url(cls, url: str) -> TcpProxy:
        """A proxy (not started) to the server ``url`` names: its host and port, or the
        PostgreSQL unix socket of a ``?host=/dir`` URL."""
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.split("+")[0], 5432)
        socket_dir = dict(parse_qsl(parts.query)).get("host", "")
        if socket_dir.startswith("/"):
            return cls(HOST, port, unix_socket=f"{socket_dir}/.s.PGSQL.{port}")
        return cls(parts.hostname or HOST, port)

    def through(self, url: str) -> str:
        """``url`` reaching its server through this proxy: host and port replaced (user,
        password, path and the rest of the query kept; a unix socket directory dropped)."""
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        address = f"{HOST}:{self.port}"
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "host"])
        return urlunsplit(parts._replace(
            netloc=f"{credentials}@{address}" if credentials else address, query=query
        ))

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._on_client, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        await self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def cut(self) -> None:
        """Close every open connection (both directions) and refuse new ones."""
        self.accepting = False
        for writer in list(self._writers):
            writer.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        self._writers.clear()

    def restore(self) -> None:
        self.accepting = True

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.accepting:
            writer.close()
            return
        try:
            if self._unix_socket is not None:
                up_reader, up_writer = await asyncio.open_unix_connection(self._unix_socket)
            else:
                up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # one side went away; closing the other below is all there is to do
        finally:
            writer.close()
            self._writers.discard(writer)
