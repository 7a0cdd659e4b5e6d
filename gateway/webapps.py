"""The built web apps the gateway serves itself: one ``WebApp`` per mount (``/console/``,
``/grid/``), each a raw ASGI app over a vite build directory.

Serving them from the gateway keeps each app same-origin with the API it calls (``/api/v1``),
so no app needs a server of its own in any run mode.

- Hashed files under ``<prefix>/assets/`` are cached for a year (``immutable``): a new build
  names its files anew. Everything else (``index.html``, a service worker, the manifest) is
  ``no-cache`` (revalidated by its ETag), so a deployment is picked up on the next load.
- A path that names no file and looks like a page (no dot in its last segment, not under
  ``assets/``) answers ``index.html``: the apps' history-mode routers draw deep links. A
  missing asset is a 404, never HTML under a script's URL.
- Every answer carries the app's strict Content-Security-Policy and ``nosniff``.
- Text files are gzipped once per file version and kept in memory (a build is a few MB).
- Without a build, the app answers 503 with its ``not_built_code`` saying how to build it.
- ``extras``: small answers that are not files of the build (the console's runtime
  ``config.json``), revalidated on every load and answered before the build is looked at.
"""

from __future__ import annotations

import asyncio
import gzip
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import orjson
from starlette.types import Receive, Scope, Send

from shared.problems import PROBLEM_JSON, problem_body

IMMUTABLE = b"public, max-age=31536000, immutable"
REVALIDATE = b"no-cache"
NOT_BUILT = "not_built"
NOT_FOUND = "not_found"
# Types whose files shrink under gzip; images and fonts are compressed already.
_COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml",
                 "application/manifest+json", "application/wasm")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
}
_MIN_GZIP_BYTES = 1024
_CACHED_FILES = 1024


@dataclass(frozen=True)
class _Found:
    path: Path
    cache: bytes  # the Cache-Control value
    version: tuple[int, int]  # (mtime_ns, size)


@dataclass(frozen=True)
class _Body:
    """One version of one file as sent: its bytes, and its gzipped bytes where worth it."""

    version: tuple[int, int]  # (mtime_ns, size)
    raw: bytes
    gzipped: bytes | None


@dataclass(frozen=True)
class Extra:
    """An answer that is not a file of the build: its content type and bytes."""

    content_type: bytes
    body: bytes


class WebApp:
    """The raw ASGI app behind one prefix (GET and HEAD only)."""

    def __init__(
        self, *, prefix: str, not_built_code: str, title: str, root: Path, csp: str,
        build_hint: str,
        extras: Mapping[str, Extra] | None = None,
    ) -> None:
        self.prefix = prefix
        self.not_built_code = not_built_code  # the 503's problem code, e.g. console_not_built
        self.title = title  # "the console", in problem details
        self.root = root.resolve()
        self.build_hint = build_hint
        self.extras = dict(extras or {})
        # Reported to the request middleware as the route: one metrics series per app.
        self.route = SimpleNamespace(path=f"{prefix}/{{path}}")
        self._common = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]
        self._files: dict[Path, _Body] = {}

    def handles(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.route
        path: str = scope["path"]
        extra = self.extras.get(path)
        if scope["method"] not in ("GET", "HEAD"):
            await self._problem(scope, send, 405, "method_not_allowed",
                                f"{self.title} answers GET and HEAD, not {scope['method'][:32]}",
                                extra_headers=[(b"allow", b"GET, HEAD")])
        elif path == self.prefix:
            query = scope.get("query_string", b"")
            location = f"{self.prefix}/".encode() + (b"?" + query if query else b"")
            await self._send(scope, send, 308, [(b"location", location)], b"")
        elif extra is not None:
            headers = [(b"content-type", extra.content_type), (b"cache-control", REVALIDATE)]
            await self._send(scope, send, 200, headers, extra.body)
        else:
            # Off the event loop: a stat or two, on a disk that may be a network volume.
            found = await asyncio.to_thread(_locate, self.root, path[len(self.prefix) + 1:])
            if found == NOT_BUILT:
                await self._problem(scope, send, 503, self.not_built_code,
                                    f"{self.title} is not built: {self.build_hint}")
            elif isinstance(found, str):
                await self._problem(scope, send, 404, "not_found",
                                    f"no such file in {self.title}")
            else:
                await self._file(scope, send, found)

    async def _file(self, scope: Scope, send: Send, found: _Found) -> None:
        path = found.path
        # Weak: the gzipped and the plain answer are the same file, not the same bytes.
        tag = '"{:x}-{:x}"'.format(*found.version).encode()
        content_type = _content_type(path)
        compressible = content_type.startswith(_COMPRESSIBLE)
        headers = [(b"cache-control", found.cache), (b"etag", b"W/" + tag)]
        if compressible:
            headers.append((b"vary", b"accept-encoding"))
        request_headers = dict(scope["headers"])
        if tag in _etags(request_headers.get(b"if-none-match", b"")):
            await self._send(scope, send, 304, headers, b"")
            return
        body = await self._load(path, found.version, compressible)
        headers.append((b"content-type", content_type.encode()))
        payload = body.raw
        if body.gzipped is not None and _accepts_gzip(request_headers.get(b"accept-encoding")):
            payload = body.gzipped
            headers.append((b"content-encoding", b"gzip"))
        await self._send(scope, send, 200, headers, payload)

    async def _load(self, path: Path, version: tuple[int, int], compressible: bool) -> _Body:
        cached = self._files.get(path)
        if cached is not None and cached.version == version:
            return cached
        # Off the event loop: a first read of a large bundle compresses a megabyte.
        body = await asyncio.to_thread(_read, path, version, compressible)
        if len(self._files) >= _CACHED_FILES:
            self._files.clear()  # older builds' files; the current ones come back on use
        self._files[path] = body
        return body

    async def _problem(
        self, scope: Scope, send: Send, status: int, code: str, detail: str,
        extra_headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        body = orjson.dumps(problem_body(status, code, detail))
        headers = [(b"content-type", PROBLEM_JSON.encode()), (b"cache-control", b"no-store"),
                   *(extra_headers or [])]
        await self._send(scope, send, status, headers, body)

    async def _send(
        self, scope: Scope, send: Send, status: int, headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        """The answer, with the app's headers; a HEAD gets the headers alone."""
        every = [*headers, *self._common, (b"content-length", str(len(body)).encode())]
        if status == 304:
            every.pop()  # a 304 has no body; its length would describe the empty one
        await send({"type": "http.response.start", "status": status, "headers": every})
        head = scope["method"] == "HEAD"
        await send({"type": "http.response.body", "body": b"" if head else body})


def _locate(root: Path, relative: str) -> _Found | str:
    """The file answering ``<prefix>/<relative>`` (a file of the build, or ``index.html`` for
    an app route), or ``NOT_BUILT`` or ``NOT_FOUND``."""
    index = root / "index.html"
    if not index.is_file():
        return NOT_BUILT
    segments = [segment for segment in relative.split("/") if segment]
    if any(s in (".", "..") or "\\" in s or "\x00" in s for s in segments):
        return NOT_FOUND
    target = root.joinpath(*segments).resolve() if segments else root
    if not target.is_relative_to(root):  # a symbolic link out of the build
        return NOT_FOUND
    if target.is_file():
        path = target
        cache = IMMUTABLE if segments[0] == "assets" and len(segments) > 1 else REVALIDATE
    elif segments and (segments[0] == "assets" or "." in segments[-1]):
        return NOT_FOUND  # a file that is not there, not a page of the app
    else:
        path, cache = index, REVALIDATE
    try:
        stat = path.stat()
    except OSError:  # removed by a rebuild since the look above
        return NOT_FOUND
    return _Found(path=path, cache=cache, version=(stat.st_mtime_ns, stat.st_size))


def _read(path: Path, version: tuple[int, int], compressible: bool) -> _Body:
    raw = path.read_bytes()
    gzipped = None
    if compressible and len(raw) >= _MIN_GZIP_BYTES:
        gzipped = gzip.compress(raw, compresslevel=6, mtime=0)
    return _Body(version=version, raw=raw, gzipped=gzipped)


def _content_type(path: Path) -> str:
    known = _TYPES.get(path.suffix.lower())
    if known is not None:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def _etags(header: bytes) -> set[bytes]:
    return {tag.strip().removeprefix(b"W/") for tag in header.split(b",") if tag.strip()}


def _accepts_gzip(header: bytes | None) -> bool:
    """True when Accept-Encoding lists gzip (or *) without ``q=0``."""
    for item in (header or b"").lower().split(b","):
        name, _, params = item.strip().partition(b";")
        if name.strip() in (b"gzip", b"*"):
            quality = params.strip().removeprefix(b"q=")
            return not (params.strip().startswith(b"q=") and _is_zero(quality))
    return False


def _is_zero(quality: bytes) -> bool:
    try:
        return float(quality) == 0
    except ValueError:
        return False
