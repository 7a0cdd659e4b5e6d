"""The staff console (``web/console``, a Vue app built by ``make console``) served at /console/.

The gateway serves the built files itself, so the console is same-origin with the API it calls
(``/api/v1``) and needs no server of its own in any run mode: ``make run``, ``make run-dist``
and the gateway image (which carries the build) all answer /console/.

- Hashed files under ``/console/assets/`` are cached for a year (``immutable``): a new build
  names its files anew. Everything else, ``index.html`` first, is ``no-cache`` (revalidated by
  its ETag), so a deployment is picked up on the next page load.
- A path that names no file and looks like a page (no dot in its last segment, not under
  ``assets/``) answers ``index.html``: the app's history-mode router draws deep links such as
  ``/console/cases/<id>``. A missing asset is a 404, never HTML under a script's URL.
- Every answer carries a strict Content-Security-Policy (no inline script, no eval; inline
  styles only because Element Plus sets style attributes) and ``nosniff``.
- Text files are gzipped once per file version and kept in memory (a build is a few MB).
- Without a build, /console/ answers 503 ``console_not_built`` saying how to build it.
- ``/console/config.json`` is the deployment's runtime settings for the app
  (``{"tile_url": ...}``), revalidated on every load, so an operator sets the map's tiles on the
  gateway's Deployment instead of rebuilding the console.

Settings are prefixed ``EHOME_CONSOLE_``: ``EHOME_CONSOLE_DIST_DIR`` (the build's directory),
``EHOME_CONSOLE_TILE_URL`` (the map's tile URL template with ``{z}``, ``{x}`` and ``{y}``, e.g.
天地图 with its key; its origin is let into the CSP's img-src) and ``EHOME_CONSOLE_TILE_HOSTS``
(a JSON list of further origins the CSP lets images load from, e.g. for a template whose
server answers with redirects to other hosts).
"""

from __future__ import annotations

import asyncio
import gzip
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import orjson
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.types import Receive, Scope, Send

from shared.problems import PROBLEM_JSON, problem_body

PREFIX = "/console"
DEFAULT_DIST_DIR = Path(__file__).resolve().parents[1] / "web" / "console" / "dist"
IMMUTABLE = b"public, max-age=31536000, immutable"
REVALIDATE = b"no-cache"
# Reported to the request middleware as the route, so metrics keep one series for the console.
ROUTE = SimpleNamespace(path=f"{PREFIX}/{{path}}")
# A CSP source is one token: a scheme and host (optionally a leading "*." and a port); nothing
# that could end the directive (";", ",", spaces) or add another.
_TILE_HOST = re.compile(r"^https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?$")
_TILE_ORIGIN = re.compile(r"^https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?$")
_PLACEHOLDERS = ("{z}", "{x}", "{y}")
# The app's runtime settings: not a file of the build, answered before the build is looked at.
CONFIG_PATH = f"{PREFIX}/config.json"
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


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EHOME_CONSOLE_", extra="ignore")

    # The built console (vite's dist). The image copies it to this default place too.
    dist_dir: Path = DEFAULT_DIST_DIR
    # The maps' tile URL template (天地图 with its key, or the operator's own server); unset,
    # the maps are a plain background with the points.
    tile_url: str | None = None
    # Further origins the maps may load images from (the tile URL's own origin is added).
    tile_hosts: list[str] = Field(default_factory=list)

    @field_validator("tile_url")
    @classmethod
    def _tile_template(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if any(c.isspace() or c in "\"'<>\\" for c in value):
            raise ValueError(f"tile URL {value!r} must not contain spaces, quotes or brackets")
        missing = [p for p in _PLACEHOLDERS if p not in value]
        if missing:
            raise ValueError(f"tile URL {value!r} must contain {{z}}, {{x}} and {{y}}; "
                             f"missing {', '.join(missing)}")
        if not _TILE_ORIGIN.match(tile_origin(value)):
            raise ValueError(f"tile URL {value!r} must start with an https:// or http:// origin, "
                             "e.g. https://t0.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}"
                             "&l={z}&tk=<key>")
        return value

    @field_validator("tile_hosts")
    @classmethod
    def _origins_only(cls, value: list[str]) -> list[str]:
        for host in value:
            if not _TILE_HOST.match(host):
                raise ValueError(
                    f"tile host {host!r} must be an origin such as https://t0.tianditu.gov.cn"
                )
        return value


def tile_origin(template: str) -> str:
    """The scheme and host (and port) of a tile URL template, as a CSP source."""
    parts = urlsplit(template)
    return f"{parts.scheme.lower()}://{parts.netloc}" if parts.scheme else template


def content_security_policy(tile_hosts: list[str], tile_url: str | None = None) -> str:
    sources = [*([tile_origin(tile_url)] if tile_url else []), *tile_hosts]
    img = " ".join(["'self'", "data:", "blob:", *dict.fromkeys(sources)])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src {img}; media-src 'self' blob:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
    )


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


class Console:
    """The raw ASGI app behind /console (GET and HEAD only)."""

    def __init__(self, settings: ConsoleSettings | None = None) -> None:
        settings = settings or ConsoleSettings()
        self.root = settings.dist_dir.resolve()
        self._config = orjson.dumps({"tile_url": settings.tile_url})
        csp = content_security_policy(settings.tile_hosts, settings.tile_url)
        self._common = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]
        self._files: dict[Path, _Body] = {}

    @staticmethod
    def handles(path: str) -> bool:
        return path == PREFIX or path.startswith(PREFIX + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = ROUTE
        path: str = scope["path"]
        if scope["method"] not in ("GET", "HEAD"):
            await self._problem(scope, send, 405, "method_not_allowed",
                                f"the console answers GET and HEAD, not {scope['method'][:32]}",
                                extra_headers=[(b"allow", b"GET, HEAD")])
        elif path == PREFIX:
            query = scope.get("query_string", b"")
            location = f"{PREFIX}/".encode() + (b"?" + query if query else b"")
            await self._send(scope, send, 308, [(b"location", location)], b"")
        elif path == CONFIG_PATH:
            headers = [(b"content-type", b"application/json"), (b"cache-control", REVALIDATE)]
            await self._send(scope, send, 200, headers, self._config)
        else:
            # Off the event loop: a stat or two, on a disk that may be a network volume.
            found = await asyncio.to_thread(_locate, self.root, path[len(PREFIX) + 1:])
            if found == "console_not_built":
                await self._problem(
                    scope, send, 503, "console_not_built",
                    "the staff console is not built: run `make console` (needs Node 20 and "
                    "npm), or point EHOME_CONSOLE_DIST_DIR at a built console",
                )
            elif isinstance(found, str):
                await self._problem(scope, send, 404, "not_found",
                                    "no such file in the console")
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
        """The answer, with the console's headers; a HEAD gets the headers alone."""
        every = [*headers, *self._common, (b"content-length", str(len(body)).encode())]
        if status == 304:
            every.pop()  # a 304 has no body; its length would describe the empty one
        await send({"type": "http.response.start", "status": status, "headers": every})
        head = scope["method"] == "HEAD"
        await send({"type": "http.response.body", "body": b"" if head else body})


def _locate(root: Path, relative: str) -> _Found | str:
    """The file answering ``/console/<relative>`` (a file of the build, or ``index.html`` for
    an app route), or the problem code: ``console_not_built`` or ``not_found``."""
    index = root / "index.html"
    if not index.is_file():
        return "console_not_built"
    segments = [segment for segment in relative.split("/") if segment]
    if any(s in (".", "..") or "\\" in s or "\x00" in s for s in segments):
        return "not_found"
    target = root.joinpath(*segments).resolve() if segments else root
    if not target.is_relative_to(root):  # a symbolic link out of the build
        return "not_found"
    if target.is_file():
        path = target
        cache = IMMUTABLE if segments[0] == "assets" and len(segments) > 1 else REVALIDATE
    elif segments and (segments[0] == "assets" or "." in segments[-1]):
        return "not_found"  # a file that is not there, not a page of the app
    else:
        path, cache = index, REVALIDATE
    try:
        stat = path.stat()
    except OSError:  # removed by a rebuild since the look above
        return "not_found"
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
