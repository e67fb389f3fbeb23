"""The HTTP API: ``create_app(settings)`` builds it; nothing happens at import time.

Zero trust: every route but ``/healthz`` needs a bearer token (401 without a valid one); the
token's role must allow the action (403); a tenant sees only its own tasks (another tenant's
task answers 404, as if it did not exist); every state-changing call, allowed or refused, is
written to the hash-chained audit log; each token has a rate limit (429 with Retry-After);
request bodies are capped (413). Errors are ``{"error": {"code", "message", "field"}}``.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from suanwang import __version__
from suanwang.api.audit import AuditLog
from suanwang.api.docs import install_offline_docs
from suanwang.api.errors import ApiError, install_error_handlers
from suanwang.api.errors import _api_error as api_error_handler
from suanwang.api.errors import _validation_error as validation_error_handler
from suanwang.api.limits import BodySizeLimitMiddleware, RateLimiter
from suanwang.api.routes_market import market_router
from suanwang.api.tokens import AuthError, Principal, TokenInfo, TokenStore
from suanwang.control.metrics import Metrics
from suanwang.control.service import ControlService, TaskView
from suanwang.control.store import Store
from suanwang.core.access import Role, allowed, sees_everything
from suanwang.core.engine import StoryLine, TaskState
from suanwang.core.errors import SuanwangError, UnknownIdError
from suanwang.core.market.settlement import Market
from suanwang.core.network.failures import FailureSpec
from suanwang.core.tasks import TaskSpec
from suanwang.core.world import World

Clock = Callable[[], datetime]


@dataclass
class ApiSettings:
    """What the API runs on (the store, the world) and its limits."""

    store: Store
    world: World
    clock: Clock = field(default=lambda: datetime.now(UTC))
    metrics: Metrics | None = None
    market: Callable[[], Market | None] = field(default=lambda: None)
    rate_per_s: float = 200.0
    burst: int = 2000
    max_body_bytes: int = 16 * 1024 * 1024
    max_batch: int = 10_000


class Submitted(BaseModel):
    id: str
    state: str = TaskState.SUBMITTED.value


class BatchIn(BaseModel):
    tasks: list[TaskSpec] = Field(min_length=1)


class BatchOut(BaseModel):
    ids: list[str]


class TaskPage(BaseModel):
    tasks: list[TaskView]
    limit: int
    offset: int


class Accepted(BaseModel):
    accepted: bool = True
    detail: str = ""


class CutIn(BaseModel):
    links: list[str] = Field(default_factory=list)
    cables: list[str] = Field(default_factory=list)
    corridors: list[str] = Field(default_factory=list)


class CutOut(BaseModel):
    key: str


class TokenIn(BaseModel):
    principal: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")
    role: Role
    ttl_days: float = Field(default=90.0, gt=0, le=3650)
    note: str = Field(default="", max_length=500)


class TokenOut(BaseModel):
    token: str = Field(description="shown once; only its hash is kept")
    info: TokenInfo


class WhoAmI(BaseModel):
    principal: str
    role: Role
    token_id: str
    expires_at: datetime


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None


class ErrorOut(BaseModel):
    """Every error the API gives."""

    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": what}
    for status, what in (
        (400, "Malformed request"),
        (401, "No valid bearer token"),
        (403, "The token's role may not do this"),
        (404, "Unknown id (or another tenant's)"),
        (413, "Body too large"),
        (415, "Body is not JSON"),
        (422, "Invalid field (named in `field`)"),
        (429, "Rate limited (see Retry-After)"),
    )
}
"""The error responses every protected route documents."""


class Health(BaseModel):
    status: str
    version: str


def create_app(settings: ApiSettings) -> FastAPI:
    """The API over ``settings`` (see the module docstring)."""
    app = FastAPI(
        title="Suanwang API",
        version=__version__,
        description="The computing-power network as a service. Every route but /healthz "
        "needs `Authorization: Bearer <token>`.",
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)

    async def validation_after_auth(request: Request, exc: Exception) -> Response:
        """A body or query that fails to parse is looked at only after the caller proved who
        it is and that its role may call the route (FastAPI parses before dependencies)."""
        try:
            if request.url.path.startswith("/v1/") or request.url.path == "/metrics":
                who = caller(request)
                route = request.scope.get("route")
                for dep in getattr(getattr(route, "dependant", None), "dependencies", ()):
                    action = getattr(dep.call, "action", None)
                    if action is not None and not allowed(who.role, action):
                        raise ApiError(
                            403,
                            "forbidden",
                            f"a {who.role.value} token may not {action.replace('.', ' ')}",
                        )
        except ApiError as err:
            return await api_error_handler(request, err)
        return await validation_error_handler(request, exc)

    app.add_exception_handler(RequestValidationError, validation_after_auth)
    install_offline_docs(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    tokens = TokenStore(settings.store, settings.clock)
    service = ControlService(settings.store, clock=settings.clock)
    audit = AuditLog(settings.store, settings.clock)
    limiter = RateLimiter(rate=settings.rate_per_s, burst=settings.burst, clock=time.monotonic)
    world = settings.world

    def caller(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        try:
            if header and scheme.lower() != "bearer":
                raise AuthError("malformed", "use `Authorization: Bearer <token>`")
            who = tokens.authenticate(token.strip() or None)
        except AuthError as exc:
            raise ApiError(
                401,
                "unauthenticated",
                f"{exc} ({exc.code})",
                headers={"WWW-Authenticate": "Bearer"},
            ) from None
        wait = limiter.check(who.token_id)
        if wait is not None:
            raise ApiError(
                429, "rate_limited", f"too many requests; retry in {wait:.1f} s", retry_after=wait
            )
        request.state.principal = who
        return who

    def needs(action: str) -> Callable[..., Principal]:
        def check(request: Request, who: Annotated[Principal, Depends(caller)]) -> Principal:
            if not allowed(who.role, action):
                if action_changes_state(action):
                    record(request, who, action, request.url.path, "forbidden")
                raise ApiError(
                    403, "forbidden", f"a {who.role.value} token may not {action.replace('.', ' ')}"
                )
            return who

        check.action = action  # type: ignore[attr-defined]
        return check

    def record(
        request: Request,
        who: Principal,
        action: str,
        target: str,
        outcome: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        audit.append(
            principal=who.principal,
            role=who.role.value,
            action=action,
            target=target[:300],
            source=request.client.host if request.client else "unknown",
            outcome=outcome,
            detail=detail or {},
        )

    def visible(who: Principal, task: str) -> TaskView:
        view = service.get(task)  # UnknownIdError -> 404
        if not sees_everything(who.role) and view.tenant != who.principal:
            raise UnknownIdError("task", task, [])
        return view

    # --- health and metrics (outside /v1) ------------------------------------------------------
    @app.get("/healthz", tags=["ops"])
    def healthz() -> Health:
        """Liveness: answers without a token."""
        return Health(status="ok", version=__version__)

    @app.get(
        "/metrics",
        tags=["ops"],
        responses={200: {"content": {"text/plain": {}}, "description": "Metrics"}, **ERRORS},
    )
    def metrics(who: Annotated[Principal, Depends(needs("metrics.read"))]) -> Response:
        """Prometheus metrics of the runtime in this process (operators)."""
        body = settings.metrics.exposition() if settings.metrics is not None else b""
        return Response(body, media_type="text/plain; version=0.0.4")

    v1 = APIRouter(prefix="/v1", responses=ERRORS)

    @v1.get("/whoami", tags=["security"])
    def whoami(who: Annotated[Principal, Depends(caller)]) -> WhoAmI:
        """The principal and role of the calling token."""
        return WhoAmI(
            principal=who.principal, role=who.role, token_id=who.token_id, expires_at=who.expires_at
        )

    # --- tasks -----------------------------------------------------------------------------------
    def own(request: Request, who: Principal, spec: TaskSpec) -> None:
        if who.role is Role.TENANT and spec.tenant != who.principal:
            record(request, who, "tasks.submit", spec.tenant, "forbidden")
            raise ApiError(
                403,
                "forbidden",
                f"a tenant submits only its own tasks (tenant is {spec.tenant!r}, "
                f"token is {who.principal!r})",
                field="tenant",
            )

    @v1.post("/tasks", status_code=202, tags=["tasks"])
    def submit(
        request: Request,
        spec: TaskSpec,
        who: Annotated[Principal, Depends(needs("tasks.submit"))],
    ) -> Submitted:
        """Submit one task; the runtime places and runs it."""
        own(request, who, spec)
        task = service.submit(spec)
        record(request, who, "tasks.submit", task, "accepted")
        return Submitted(id=task)

    @v1.post("/tasks/batch", status_code=202, tags=["tasks"])
    def submit_batch(
        request: Request,
        batch: BatchIn,
        who: Annotated[Principal, Depends(needs("tasks.submit"))],
    ) -> BatchOut:
        """Submit many tasks in one transaction (all or none)."""
        if len(batch.tasks) > settings.max_batch:
            raise ApiError(
                413, "too_large", f"at most {settings.max_batch} tasks per batch", field="tasks"
            )
        for spec in batch.tasks:
            own(request, who, spec)
        ids = service.submit_many(batch.tasks)
        record(request, who, "tasks.submit_batch", f"{len(ids)} tasks", "accepted")
        return BatchOut(ids=ids)

    @v1.get("/tasks", tags=["tasks"])
    def list_tasks(
        who: Annotated[Principal, Depends(needs("tasks.read"))],
        state: TaskState | None = None,
        tenant: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> TaskPage:
        """Tasks, newest first; a tenant sees only its own."""
        if not sees_everything(who.role):
            tenant = who.principal
        rows = service.tasks(state=state, tenant=tenant, limit=limit, offset=offset)
        return TaskPage(tasks=rows, limit=limit, offset=offset)

    @v1.get("/tasks/{task}", tags=["tasks"])
    def get_task(task: str, who: Annotated[Principal, Depends(needs("tasks.read"))]) -> TaskView:
        """One task."""
        return visible(who, task)

    @v1.get("/tasks/{task}/events", tags=["tasks"])
    def task_events(
        task: str, who: Annotated[Principal, Depends(needs("tasks.read"))]
    ) -> list[StoryLine]:
        """The task's story: every event, in order, and what it did."""
        visible(who, task)
        return service.story(task)

    @v1.post("/tasks/{task}/cancel", status_code=202, tags=["tasks"])
    def cancel(
        request: Request, task: str, who: Annotated[Principal, Depends(needs("tasks.cancel"))]
    ) -> Accepted:
        """Cancel a task (its attempt is stopped, its lease closed as cancelled)."""
        visible(who, task)
        service.cancel(task)
        record(request, who, "tasks.cancel", task, "accepted")
        return Accepted(detail="cancel queued")

    # --- network and sites -----------------------------------------------------------------------
    @v1.get("/sites", tags=["sites"])
    def sites(who: Annotated[Principal, Depends(needs("world.read"))]) -> list[dict[str, Any]]:
        """Every site with its pools (public facts)."""
        return [s.model_dump(mode="json") for s in world.sites]

    @v1.get("/sites/{site}", tags=["sites"])
    def site(site: str, who: Annotated[Principal, Depends(needs("world.read"))]) -> dict[str, Any]:
        """One site and its pools."""
        return world.site(site).model_dump(mode="json")

    @v1.post("/network/cuts", status_code=202, tags=["network"])
    def cut(
        request: Request, body: CutIn, who: Annotated[Principal, Depends(needs("network.cut"))]
    ) -> CutOut:
        """Cut links, cables or corridors (operators); affected tasks move."""
        from suanwang.core.network.engine import Network

        srlgs = {f"cable:{c}" for c in body.cables} | {f"corridor:{c}" for c in body.corridors}
        if not (body.links or srlgs):
            raise ApiError(400, "bad_request", "name at least one link, cable or corridor")
        failure = FailureSpec(links=frozenset(body.links), srlgs=frozenset(srlgs))
        try:
            Network.from_world(world).fail(failure, report=False)
        except SuanwangError as exc:
            record(request, who, "network.cut", failure.key, "rejected")
            raise ApiError(400, "bad_request", str(exc)) from None
        key = service.cut(failure)
        record(request, who, "network.cut", key, "accepted")
        return CutOut(key=key)

    @v1.delete("/network/cuts/{key}", status_code=202, tags=["network"])
    def restore(
        request: Request, key: str, who: Annotated[Principal, Depends(needs("network.cut"))]
    ) -> Accepted:
        """Restore a cut by its key."""
        service.restore(key)
        record(request, who, "network.restore", key, "accepted")
        return Accepted(detail="restore queued")

    # --- tokens ----------------------------------------------------------------------------------
    @v1.post("/tokens", status_code=201, tags=["security"])
    def create_token(
        request: Request, body: TokenIn, who: Annotated[Principal, Depends(needs("tokens.manage"))]
    ) -> TokenOut:
        """Create a token for a principal and role (admins). The token is shown once."""
        from datetime import timedelta

        info, token = tokens.create(
            body.principal, body.role, ttl=timedelta(days=body.ttl_days), note=body.note
        )
        record(request, who, "tokens.create", info.id, "accepted", {"role": body.role.value})
        return TokenOut(token=token, info=info)

    @v1.delete("/tokens/{token_id}", status_code=202, tags=["security"])
    def revoke_token(
        request: Request, token_id: str, who: Annotated[Principal, Depends(caller)]
    ) -> Accepted:
        """Revoke a token: admins any, everyone else only their own."""
        info = tokens.get(token_id)
        mine = info is not None and info.principal == who.principal
        if not (allowed(who.role, "tokens.manage") or mine):
            record(request, who, "tokens.revoke", token_id, "forbidden")
            raise ApiError(404, "not_found", f"unknown token {token_id!r}")
        if info is None or not tokens.revoke(token_id):
            raise ApiError(404, "not_found", f"unknown or already revoked token {token_id!r}")
        record(request, who, "tokens.revoke", token_id, "accepted")
        return Accepted(detail="revoked")

    app.include_router(v1)
    app.include_router(
        market_router(needs, world, settings.market, settings.clock), responses=ERRORS
    )
    _declare_bearer(app)
    return app


def _declare_bearer(app: FastAPI) -> None:
    """The OpenAPI document says every operation but /healthz needs a bearer token (the docs
    page then offers an Authorize button)."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "sw_<id>.<secret>"}
            }
            schema["security"] = [{"bearer": []}]
            for path, ops in schema.get("paths", {}).items():
                if path == "/healthz":
                    for op in ops.values():
                        op["security"] = []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def action_changes_state(action: str) -> bool:
    return not action.endswith((".read", ".quote"))
