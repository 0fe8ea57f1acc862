"""The static client: HTML pages and ES modules, served with a strict CSP."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

WEB_CLIENT_DIR = Path(__file__).resolve().parent.parent / "web_client"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

PAGES = {"/admin": "admin.html", "/join": "join.html", "/station": "station.html"}


def add_page_routes(app: web.Application) -> None:
    """Routes for the pages and the ``/static`` folder (no listing, no symlinks)."""
    for path, filename in PAGES.items():
        app.router.add_get(path, _page_handler(filename))
    app.router.add_get("/", _redirect_to_admin)
    app.router.add_static("/static/", WEB_CLIENT_DIR, show_index=False, follow_symlinks=False)


def _page_handler(filename: str) -> Handler:
    async def page(request: web.Request) -> web.StreamResponse:
        path = WEB_CLIENT_DIR / filename
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    return page


async def _redirect_to_admin(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/admin")
