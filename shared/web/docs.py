"""Swagger UI served entirely from the platform: no page of ours loads anything from outside.

FastAPI's own ``/docs`` page loads its script and stylesheet from a public CDN, which a
government intranet cannot reach (the page stays blank). Here the Swagger UI distribution
files come from the ``fastapi-offline`` package (a maintained PyPI package that ships them),
the page's start-up script is a same-origin file rather than an inline script, and a
Content-Security-Policy forbids every other origin, so a browser would refuse an outside
load even if one crept back in.
"""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from shared.problems import NotFound

# Inline styles: Swagger UI sets style attributes; data: images are the SVG icons its CSS
# embeds. Everything else only from this origin, and no frames, plugins or form targets.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": DOCS_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

# What the package ships, by the name the page asks for, with the type it is served as.
_DIST_FILES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
START_SCRIPT = "start.js"
_START_JS = b"""\
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // The default would load a badge from validator.swagger.io.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
"""


def swagger_dist_dir() -> Path:
    """Where the Swagger UI files are installed (checked at app build, not first request)."""
    directory = Path(str(files("fastapi_offline") / "static"))
    missing = [name for name in _DIST_FILES if not (directory / name).is_file()]
    if missing:
        raise RuntimeError(f"fastapi-offline no longer ships {missing} in {directory}")
    return directory


def _page(*, title: str, openapi_url: str, assets: str) -> str:
    title, openapi_url, assets = (html.escape(v, quote=True) for v in (title, openapi_url, assets))
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/{START_SCRIPT}"></script>
</body>
</html>
"""


def install_offline_docs(
    app: FastAPI, *, title: str, openapi_url: str = "/openapi.json", docs_url: str = "/docs"
) -> None:
    """Serve Swagger UI at ``docs_url`` and its files under ``{docs_url}/assets/``."""
    dist = swagger_dist_dir()
    assets_url = f"{docs_url}/assets"

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = _page(title=title, openapi_url=root + openapi_url, assets=root + assets_url)
        return HTMLResponse(page, headers=_SECURITY_HEADERS)

    @app.get(assets_url + "/{name}", include_in_schema=False)
    async def swagger_asset(name: str) -> Response:
        if name == START_SCRIPT:
            return Response(
                _START_JS, media_type="text/javascript; charset=utf-8", headers=_SECURITY_HEADERS
            )
        media_type = _DIST_FILES.get(name)
        if media_type is None:  # only the named files: never a path into the package
            raise NotFound("no such documentation asset")
        return FileResponse(
            dist / name,
            media_type=media_type,
            headers={**_SECURITY_HEADERS, "Cache-Control": "public, max-age=86400"},
        )
