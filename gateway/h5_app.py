"""The residents' web pages (``web/h5``, a Vue + Vant app built by ``make h5``) served at
/h5/ (``gateway/webapps.py`` serves the files: caching, deep links, gzip, ETags).

Residents open these pages inside WeChat's browser, from the 公众号's menu: they sign in
through WeChat's web authorisation (a redirect to WeChat and back, so nothing here needs a
frame or a script from elsewhere). The CSP allows, as everywhere, no inline script and no
eval; images from ``data:`` (the pickup code's QR image, Vant's icon font) and ``blob:`` (a
photo's preview before upload), and ``blob:`` media (a short video's preview).

Settings are prefixed ``EHOME_H5_``: ``EHOME_H5_DIST_DIR`` (the build's directory).
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.webapps import WebApp

PREFIX = "/h5"
DEFAULT_DIST_DIR = Path(__file__).resolve().parents[1] / "web" / "h5" / "dist"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' blob:; "
    "connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


class H5Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EHOME_H5_", extra="ignore")

    # The built pages (vite's dist). The image copies them to this default place too.
    dist_dir: Path = DEFAULT_DIST_DIR


class H5App(WebApp):
    """The raw ASGI app behind /h5 (GET and HEAD only)."""

    def __init__(self, settings: H5Settings | None = None) -> None:
        settings = settings or H5Settings()
        super().__init__(
            prefix=PREFIX, not_built_code="h5_app_not_built", title="the residents' web pages",
            root=settings.dist_dir, csp=CONTENT_SECURITY_POLICY,
            build_hint="run `make h5` (needs Node 20 and npm), or point EHOME_H5_DIST_DIR "
                       "at a built app",
        )
