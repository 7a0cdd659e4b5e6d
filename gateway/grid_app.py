"""The grid workers' app (``web/grid``, a Vue + Vant app built by ``make grid``) served at
/grid/ (``gateway/webapps.py`` serves the files: caching, deep links, gzip, ETags).

The app works offline: its service worker (``/grid/sw.js``, outside ``assets/`` and so
revalidated on every load like ``index.html``) keeps the app's files on the phone. Its scope
is /grid/, the folder it is served from, so it needs no ``Service-Worker-Allowed``. The CSP
lets that worker run (``worker-src 'self'``), the app's manifest load and Vant's icon font
(inlined in the CSS as a ``data:`` URL); as everywhere, no inline script and no eval.
Photos taken offline are kept as Blobs and shown by ``blob:`` URLs.

Settings are prefixed ``EHOME_GRID_``: ``EHOME_GRID_DIST_DIR`` (the build's directory).
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.webapps import WebApp

PREFIX = "/grid"
DEFAULT_DIST_DIR = Path(__file__).resolve().parents[1] / "web" / "grid" / "dist"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' blob:; "
    "connect-src 'self'; "
    "worker-src 'self'; manifest-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


class GridSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EHOME_GRID_", extra="ignore")

    # The built app (vite's dist). The image copies it to this default place too.
    dist_dir: Path = DEFAULT_DIST_DIR


class GridApp(WebApp):
    """The raw ASGI app behind /grid (GET and HEAD only)."""

    def __init__(self, settings: GridSettings | None = None) -> None:
        settings = settings or GridSettings()
        super().__init__(
            prefix=PREFIX, not_built_code="grid_app_not_built", title="the grid workers' app",
            root=settings.dist_dir, csp=CONTENT_SECURITY_POLICY,
            build_hint="run `make grid` (needs Node 20 and npm), or point EHOME_GRID_DIST_DIR "
                       "at a built app",
        )
