"""The token debugger page: static files read once at start, strict CSP.

The page's script talks only to this service (``POST /decode``,
``POST /encode``, ``GET /keys``); the Content-Security-Policy forbids
everything else: inline script and style, other origins, frames, plugins,
form posts, and (through Trusted Types) any HTML built from strings.

The files served are an explicit allow-list rather than whatever lies in the
folder, so a stray file is never published by accident.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

from .routing import Handler, Request, Response

__all__ = ["CONTENT_SECURITY_POLICY", "PAGE_FILES", "page_routes"]

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "require-trusted-types-for 'script'; trusted-types 'none'"
)
_HTML: Final = b"text/html; charset=utf-8"
_JS: Final = b"text/javascript; charset=utf-8"
_CSS: Final = b"text/css; charset=utf-8"
_SVG: Final = b"image/svg+xml"

#: Every file of ``static/``, by the path it is served at.
PAGE_FILES: Final = {
    "/": ("index.html", _HTML),
    "/static/page.css": ("page.css", _CSS),
    "/static/favicon.svg": ("favicon.svg", _SVG),
    "/static/main.js": ("main.js", _JS),
    "/static/api.js": ("api.js", _JS),
    "/static/jwt.js": ("jwt.js", _JS),
    "/static/times.js": ("times.js", _JS),
    "/static/render.js": ("render.js", _JS),
    "/static/decoder.js": ("decoder.js", _JS),
    "/static/issuer.js": ("issuer.js", _JS),
    "/static/keys.js": ("keys.js", _JS),
}
_HEADERS: Final = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-cache"),
)


def _static(content: bytes, content_type: bytes) -> Handler:
    def handler(request: Request) -> Response:
        return Response(200, content, content_type, list(_HEADERS))

    return handler


def page_routes() -> dict[str, dict[str, Handler]]:
    """``GET /`` for the page and ``GET /static/NAME`` for each of its files."""
    folder = resources.files(__package__).joinpath("static")
    return {
        path: {"GET": _static(folder.joinpath(name).read_bytes(), content_type)}
        for path, (name, content_type) in PAGE_FILES.items()
    }
