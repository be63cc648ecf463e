"""Serving the web client: `/` is the app shell, `/static/...` its modules and styles.

Assets have no content hash in their names (there is no build step), so they are served
with ``Cache-Control: no-cache`` and a strong ETag: the browser keeps its copy and
revalidates it with one cheap request, and an upgraded server is picked up at once.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


class StaticFiles:
    """Every file under a folder, in memory, by its URL path relative to that folder."""

    def __init__(self, root: Path = STATIC_DIR) -> None:
        self.assets: dict[str, Asset] = {}
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            body = path.read_bytes()
            kind = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
            self.assets[path.relative_to(root).as_posix()] = Asset(
                body,
                kind or "application/octet-stream",
                '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            )

    def response(self, request: web.Request, name: str) -> web.Response:
        asset = self.assets.get(name)
        if asset is None:
            return web.Response(
                status=404, text="not found", content_type="text/plain", headers=SECURITY_HEADERS
            )
        headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache", "ETag": asset.etag}
        if asset.etag in _etags(request.headers.get("If-None-Match", "")):
            return web.Response(status=304, headers=headers)
        body = b"" if request.method == "HEAD" else asset.body
        headers["Content-Type"] = asset.content_type
        response = web.Response(body=body, headers=headers)
        if request.method == "HEAD":
            response.content_length = len(asset.body)
        return response


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def add_web_routes(app: web.Application, files: StaticFiles | None = None) -> None:
    """`/` serves the app; `/static/<path>` its files. Nothing under `/api/` is touched."""
    static = files or StaticFiles()

    async def index(request: web.Request) -> web.Response:
        return static.response(request, "index.html")

    async def asset(request: web.Request) -> web.Response:
        return static.response(request, request.match_info["path"])

    app.router.add_get("/", index)
    app.router.add_get("/static/{path:.+}", asset)
