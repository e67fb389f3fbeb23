"""The operations dashboard: a plain JavaScript + SVG single-page app served by the API.

``install_dashboard(app)`` serves ``suanwang/dashboard/static/``: ``index.html`` at ``/`` and
every other file of that folder under ``/ui/<name>``. Like ``/docs`` these are public: the
pages hold no data; the app asks the API for everything with the token its user types in.

Served as plain Starlette routes (not in the OpenAPI document): a fixed allow-list of the
folder's files (no directory listing, no sub-folders, no dot-files), an explicit content type
per suffix, ``Cache-Control: no-cache`` (the names carry no content hash: a browser
revalidates with the ETag and gets a 304 when nothing changed), gzip when the browser accepts
it, and a strict Content-Security-Policy on the page (scripts, styles and requests only from
this origin).
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["STATIC_DIR", "install_dashboard"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
"""The suffixes served, and their content types (anything else in the folder is not)."""

GZIP_MIN_BYTES = 1024

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

_COMMON_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class _Asset:
    body: bytes
    gzipped: bytes | None
    etag: str
    content_type: str
    mtime_ns: int


class _Assets:
    """The files of ``folder`` that may be served, read (and gzipped) once per change."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.cache: dict[str, _Asset] = {}

    def names(self) -> set[str]:
        return {
            p.name
            for p in self.folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix in CONTENT_TYPES
        }

    def get(self, name: str) -> _Asset | None:
        if "/" in name or "\\" in name or name.startswith(".") or name not in self.names():
            return None
        path = self.folder / name
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return None
        cached = self.cache.get(name)
        if cached is not None and cached.mtime_ns == mtime:
            return cached
        body = path.read_bytes()
        packed = gzip.compress(body, 6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
        asset = _Asset(
            body=body,
            gzipped=packed if packed is not None and len(packed) < len(body) else None,
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            content_type=CONTENT_TYPES[path.suffix],
            mtime_ns=mtime,
        )
        self.cache[name] = asset
        return asset


def _not_found() -> Response:
    return Response(
        b'{"error":{"code":"not_found","message":"no such page","field":null}}',
        status_code=404,
        media_type="application/json",
    )


def _respond(request: Request, asset: _Asset, extra: dict[str, str] | None = None) -> Response:
    headers = {**_COMMON_HEADERS, "ETag": asset.etag, "Vary": "Accept-Encoding", **(extra or {})}
    match = request.headers.get("if-none-match", "")
    if asset.etag in {tag.strip().removeprefix("W/") for tag in match.split(",")}:
        return Response(status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=asset.content_type)
    return Response(body, headers=headers, media_type=asset.content_type)


def install_dashboard(app: Starlette, *, folder: Path = STATIC_DIR) -> None:
    """Serve the dashboard of ``folder``: ``index.html`` at ``/``, the other files at
    ``/ui/<name>``; neither is in the OpenAPI document.

    Raises:
        FileNotFoundError: ``folder`` has no ``index.html``.
    """
    if not (folder / "index.html").is_file():
        raise FileNotFoundError(f"the dashboard's index.html is missing in {folder}")
    assets = _Assets(folder)

    async def index(request: Request) -> Response:
        asset = assets.get("index.html")
        if asset is None:  # pragma: no cover - removed while serving
            return _not_found()
        return _respond(request, asset, {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY"})

    async def asset(request: Request) -> Response:
        name = str(request.path_params["name"])
        found = assets.get(name) if name != "index.html" else None
        if found is None:
            return _not_found()
        return _respond(request, found)

    app.add_route("/", index, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_route("/ui/{name}", asset, methods=["GET", "HEAD"], include_in_schema=False)
