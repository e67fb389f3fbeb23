"""Interactive API docs that work offline: Swagger UI at ``/docs``, ReDoc at ``/redoc``.

FastAPI's own ``/docs`` and ``/redoc`` pages load their JavaScript, CSS, favicon and (for
ReDoc) Google Fonts from CDNs, so they are blank on a machine without internet access and
tell third parties who reads the docs. Here every asset is served by the app itself from
``suanwang/api/static/`` (Swagger UI 5 from npm's ``swagger-ui-dist`` and ReDoc 2 from npm's
``redoc``; versions, licences and the one change made are in ``static/README.md``;
``scripts/fetch_docs_assets.sh`` reproduces them).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["STATIC_DIR", "install_offline_docs"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

_SWAGGER_FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})
_REDOC_FILES = frozenset({"redoc.standalone.js"})


class _AllowListStaticFiles(StaticFiles):
    """Static files limited to a fixed set of names (no listing, licences or source maps)."""

    def __init__(self, directory: Path, allowed: frozenset[str]) -> None:
        super().__init__(directory=directory)
        self.allowed = allowed

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in self.allowed:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


def install_offline_docs(app: FastAPI, *, prefix: str = "") -> None:
    """Serve Swagger UI at ``{prefix}/docs`` and ReDoc at ``{prefix}/redoc``, all assets local.

    The app must be created with FastAPI's own pages turned off, or they would answer first
    with CDN links::

        app = FastAPI(docs_url=None, redoc_url=None)
        install_offline_docs(app)

    Assets are served under ``{prefix}/static/swagger-ui/`` and ``{prefix}/static/redoc/``.
    The pages read the OpenAPI document from ``app.openapi_url`` and honour the ASGI
    ``root_path`` (an app mounted behind a proxy under a sub-path). Neither page nor asset is
    in the OpenAPI schema. Raises :class:`ValueError` when FastAPI's own pages are on or the
    app has no OpenAPI document, :class:`FileNotFoundError` when the assets are missing.
    """
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError(
            "create the app with FastAPI(docs_url=None, redoc_url=None): its built-in docs "
            "pages load their assets from a CDN"
        )
    if app.openapi_url is None:
        raise ValueError("the app has no OpenAPI document (openapi_url=None) to show")
    prefix = prefix.rstrip("/")
    if prefix and not prefix.startswith("/"):
        raise ValueError(f"prefix must start with '/', not {prefix!r}")
    swagger_dir = STATIC_DIR / "swagger-ui"
    redoc_dir = STATIC_DIR / "redoc"
    for folder, names in ((swagger_dir, _SWAGGER_FILES), (redoc_dir, _REDOC_FILES)):
        missing = sorted(n for n in names if not (folder / n).is_file())
        if missing:
            raise FileNotFoundError(
                f"API docs assets missing in {folder}: {', '.join(missing)} "
                "(run scripts/fetch_docs_assets.sh)"
            )

    openapi_url = app.openapi_url
    swagger_static = f"{prefix}/static/swagger-ui"
    redoc_static = f"{prefix}/static/redoc"
    title = app.title

    app.mount(
        swagger_static,
        _AllowListStaticFiles(swagger_dir, _SWAGGER_FILES),
        name="docs-swagger-ui-static",
    )
    app.mount(
        redoc_static, _AllowListStaticFiles(redoc_dir, _REDOC_FILES), name="docs-redoc-static"
    )

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    async def swagger_ui(request: Request) -> HTMLResponse:
        base = root(request)
        return get_swagger_ui_html(
            openapi_url=base + openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{base}{swagger_static}/swagger-ui-bundle.js",
            swagger_css_url=f"{base}{swagger_static}/swagger-ui.css",
            swagger_favicon_url=f"{base}{swagger_static}/favicon-32x32.png",
            # No badge that sends the spec to the public validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    async def redoc(request: Request) -> HTMLResponse:
        base = root(request)
        return get_redoc_html(
            openapi_url=base + openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{base}{redoc_static}/redoc.standalone.js",
            redoc_favicon_url=f"{base}{swagger_static}/favicon-32x32.png",
            with_google_fonts=False,
        )

    app.add_api_route(
        f"{prefix}/docs", swagger_ui, methods=["GET"], include_in_schema=False, name="docs"
    )
    app.add_api_route(
        f"{prefix}/redoc", redoc, methods=["GET"], include_in_schema=False, name="redoc"
    )
