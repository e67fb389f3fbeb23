"""Every error the API answers is the same small JSON document, never a stack trace.

    {"error": {"code": "invalid", "message": "Input should be ...", "field": "tasks.0.n"}}

``code`` is a stable machine-readable word (see :data:`CODE_BY_STATUS`), ``message`` a
sentence for a person and ``field`` the dotted path of the input at fault, or ``null``.
:func:`install_error_handlers` makes a FastAPI app answer this way for:

- :class:`ApiError`, raised by our own endpoints and dependencies;
- request validation (422 ``invalid``; malformed JSON 400 ``malformed_json``; a body that is
  not sent as JSON 415 ``unsupported_media_type``);
- Starlette's HTTP errors (unknown route 404 ``not_found``, 405 ``method_not_allowed`` with
  its ``Allow`` header, ...);
- the core's :class:`~suanwang.core.errors.UnknownIdError` (404) and other
  :class:`~suanwang.core.errors.SuanwangError` (400 ``bad_request``);
- anything else: 500 ``internal`` with a generic message and a reference; the traceback goes
  to the ``suanwang.api`` logger, never to the client.
"""

from __future__ import annotations

import http
import http.client
import logging
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from suanwang.core.errors import SuanwangError, UnknownIdError

__all__ = [
    "CODE_BY_STATUS",
    "ApiError",
    "error_body",
    "error_response",
    "install_error_handlers",
    "retry_after_header",
]

log = logging.getLogger("suanwang.api")

#: The ``code`` given to an HTTP error that carries none of its own.
CODE_BY_STATUS: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    410: "gone",
    411: "length_required",
    412: "precondition_failed",
    413: "too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal",
    501: "not_implemented",
    502: "bad_gateway",
    503: "unavailable",
    504: "gateway_timeout",
}

# Where a request-validation error can point; stripped from the front of ``field``.
_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


class ApiError(Exception):
    """An error answered to the client as ``{"error": {code, message, field}}``.

    ``headers`` go on the response as they are (``WWW-Authenticate: Bearer`` on a 401);
    ``retry_after`` (seconds) adds ``Retry-After`` in whole seconds, rounded up.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers: dict[str, str] = dict(headers or {})
        if retry_after is not None:
            self.headers["Retry-After"] = retry_after_header(retry_after)

    def __repr__(self) -> str:
        return (
            f"ApiError(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, field={self.field!r})"
        )


def retry_after_header(seconds: float) -> str:
    """The ``Retry-After`` value for a wait: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The JSON document of an error."""
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error answered as JSON with ``status``."""
    return JSONResponse(
        error_body(code, message, field), status_code=status, headers=dict(headers or {})
    )


def _code_for(status: int) -> str:
    if status in CODE_BY_STATUS:
        return CODE_BY_STATUS[status]
    try:
        return http.HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "client_error" if 400 <= status < 500 else "error"


def dotted_field(loc: Sequence[Any]) -> str | None:
    """``("body", "tasks", 0, "n")`` -> ``"tasks.0.n"``; a bare location keeps its name."""
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or None


# --- handlers -----------------------------------------------------------------------------


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.field, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if not errors:
        return error_response(422, "invalid", "the request is not valid")
    first = errors[0]
    loc = tuple(first.get("loc", ()))
    kind = first.get("type", "")
    if kind == "json_invalid":
        reason = (first.get("ctx") or {}).get("error") or "JSON decode error"
        where = f" (at character {loc[1]})" if len(loc) > 1 else ""
        return error_response(
            400, "malformed_json", f"the request body is not valid JSON: {reason}{where}"
        )
    if loc == ("body",) and isinstance(first.get("input"), bytes | bytearray):
        # FastAPI leaves the body as raw bytes when its Content-Type is not JSON.
        sent = request.headers.get("content-type") or "none"
        return error_response(
            415,
            "unsupported_media_type",
            f"send the request body as JSON with 'Content-Type: application/json' "
            f"(got Content-Type: {sent})",
        )
    if loc == ("body",) and kind == "missing":
        return error_response(422, "invalid", "a JSON request body is required", "body")
    return error_response(
        422, "invalid", str(first.get("msg") or "invalid value"), dotted_field(loc)
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    headers = dict(exc.headers or {})
    detail = exc.detail
    default_detail = http.client.responses.get(status, "")
    if isinstance(detail, str) and detail and detail != default_detail:
        message = detail
    elif status == 404:
        message = f"not found: {request.url.path}"
    elif status == 405:
        allowed = headers.get("Allow") or headers.get("allow")
        message = f"method {request.method} is not allowed on {request.url.path}"
        if allowed:
            message += f"; allowed: {allowed}"
    elif detail and not isinstance(detail, str):
        message = str(detail)
    else:
        message = default_detail or f"HTTP error {status}"
    return error_response(status, _code_for(status), message, None, headers)


async def _unknown_id(request: Request, exc: Exception) -> JSONResponse:
    return error_response(404, "not_found", str(exc))


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(400, "bad_request", str(exc) or type(exc).__name__)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    ref = uuid.uuid4().hex[:12]
    log.error("internal error %s on %s %s", ref, request.method, request.url.path, exc_info=exc)
    return error_response(
        500, "internal", f"internal server error (reference {ref}); it has been logged"
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make ``app`` answer every error as ``{"error": {"code", "message", "field"}}``.

    The catch-all (500) handler runs in Starlette's outermost middleware, which answers the
    client and then re-raises the exception for the server to see: under ``TestClient`` pass
    ``raise_server_exceptions=False`` to look at the response. Never build the app with
    ``debug=True`` outside a developer's machine: Starlette then answers 500s with the
    traceback instead of this handler.
    """
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(UnknownIdError, _unknown_id)
    app.add_exception_handler(SuanwangError, _domain_error)
    app.add_exception_handler(Exception, _unexpected)
