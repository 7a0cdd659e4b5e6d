"""The staff console (``web/console``, a Vue app built by ``make console``) served at /console/
(``gateway/webapps.py`` serves the files: caching, deep links, gzip, ETags).

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

import re
from pathlib import Path
from urllib.parse import urlsplit

import orjson
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.webapps import Extra, WebApp

PREFIX = "/console"
DEFAULT_DIST_DIR = Path(__file__).resolve().parents[1] / "web" / "console" / "dist"
# A CSP source is one token: a scheme and host (optionally a leading "*." and a port); nothing
# that could end the directive (";", ",", spaces) or add another.
_TILE_HOST = re.compile(r"^https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?$")
_TILE_ORIGIN = re.compile(r"^https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?$")
_PLACEHOLDERS = ("{z}", "{x}", "{y}")
# The app's runtime settings: not a file of the build, answered before the build is looked at.
CONFIG_PATH = f"{PREFIX}/config.json"


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


class Console(WebApp):
    """The raw ASGI app behind /console (GET and HEAD only)."""

    def __init__(self, settings: ConsoleSettings | None = None) -> None:
        settings = settings or ConsoleSettings()
        config = Extra(b"application/json", orjson.dumps({"tile_url": settings.tile_url}))
        super().__init__(
            prefix=PREFIX, not_built_code="console_not_built", title="the staff console",
            root=settings.dist_dir,
            csp=content_security_policy(settings.tile_hosts, settings.tile_url),
            build_hint="run `make console` (needs Node 20 and npm), or point "
                       "EHOME_CONSOLE_DIST_DIR at a built console",
            extras={CONFIG_PATH: config},
        )
