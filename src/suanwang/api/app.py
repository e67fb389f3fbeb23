"""The HTTP API: ``create_app(settings)`` builds it; nothing happens at import time.

Zero trust: every route but ``/healthz`` needs a bearer token (401 without a valid one); the
token's role must allow the action (403); a tenant sees only its own tasks (another tenant's
task answers 404, as if it did not exist); every state-changing call, allowed or refused, is
written to the hash-chained audit log; each token has a rate limit (429 with Retry-After);
request bodies are capped (413). Errors are ``{"error": {"code", "message", "field"}}``.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.middleware.gzip import GZipMiddleware

from suanwang import __version__
from suanwang.api.audit import AuditLog, entry_fields
from suanwang.api.docs import install_offline_docs
from suanwang.api.errors import ApiError, install_error_handlers
from suanwang.api.errors import _api_error as api_error_handler
from suanwang.api.errors import _validation_error as validation_error_handler
from suanwang.api.limits import BodySizeLimitMiddleware, RateLimiter
from suanwang.api.routes_map import map_router
from suanwang.api.routes_market import market_router, network_with_cuts
from suanwang.api.routes_ops import ops_router
from suanwang.api.routes_sites import sites_router
from suanwang.api.tokens import AuthError, Principal, TokenInfo, TokenStore
from suanwang.api.writer import GroupWriter, Write, store_writer
from suanwang.control.metrics import Metrics
from suanwang.control.service import ControlService, TaskView
from suanwang.control.site_registry import SiteRegistry
from suanwang.control.store import Store
from suanwang.core.access import Role, allowed, sees_everything
from suanwang.core.engine import StoryLine, TaskState
from suanwang.core.errors import SuanwangError, UnknownIdError
from suanwang.core.market.settlement import Market
from suanwang.core.network.failures import FailureSpec
from suanwang.core.tasks import TaskSpec
from suanwang.core.world import World
from suanwang.dashboard import install_dashboard

Clock = Callable[[], datetime]


@dataclass
class ApiSettings:
    """What the API runs on (the store, the world) and its limits."""

    store: Store
    world: World
    clock: Clock = field(default=lambda: datetime.now(UTC))
    metrics: Metrics | None = None
    market: Callable[[], Market | None] = field(default=lambda: None)
    load: Callable[[], dict[str, Any]] = field(default=lambda: {})
    """The runtime's last published load per site (``Runtime.site_load``); empty: none."""
    rate_per_s: float = 200.0
    burst: int = 2000
    max_body_bytes: int = 16 * 1024 * 1024
    max_batch: int = 10_000
    token_cache_s: float = 2.0
    """How long a verified token is cached: a revocation made by another process takes
    effect here within this many seconds (one through this API, at once)."""


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
    # one transaction for the inbox rows and audit entries of concurrent requests; closed (all
    # of it written) when the app shuts down, or by whoever serves it (`suanwang up`)
    writer = store_writer(AuditLog(settings.store, settings.clock))
    app = FastAPI(
        title="Suanwang API",
        version=__version__,
        description="The computing-power network as a service. Every route but /healthz "
        "needs `Authorization: Bearer <token>`.",
        docs_url=None,
        redoc_url=None,
        lifespan=lambda _app: _closing(writer),
    )
    app.state.writer = writer
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
    install_dashboard(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    # large answers (the dashboard's network map is ~340 kB of JSON) go gzipped when asked
    app.add_middleware(GZipMiddleware, minimum_size=4096)
    tokens = TokenStore(settings.store, settings.clock, cache_s=settings.token_cache_s)
    service = ControlService(settings.store, clock=settings.clock)
    limiter = RateLimiter(rate=settings.rate_per_s, burst=settings.burst, clock=time.monotonic)
    registry = SiteRegistry(settings.store, settings.world, clock=settings.clock)
    # the network as it is now: registered sites, and the cuts the runtime took
    network_now = network_with_cuts(registry.world, service.cut_specs)

    def bearer(request: Request) -> str | None:
        """The token of the Authorization header (None: no token).

        Raises:
            AuthError: another scheme than Bearer.
        """
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if header and scheme.lower() != "bearer":
            raise AuthError("malformed", "use `Authorization: Bearer <token>`")
        return token.strip() or None

    def unauthenticated(exc: AuthError) -> ApiError:
        return ApiError(
            401, "unauthenticated", f"{exc} ({exc.code})", headers={"WWW-Authenticate": "Bearer"}
        )

    def admit(request: Request, who: Principal) -> Principal:
        """The rate limit of ``who``'s token; ``who`` when within it."""
        wait = limiter.check(who.token_id)
        if wait is not None:
            raise ApiError(
                429, "rate_limited", f"too many requests; retry in {wait:.1f} s", retry_after=wait
            )
        request.state.principal = who
        return who

    def caller(request: Request) -> Principal:
        try:
            who = tokens.authenticate(bearer(request))
        except AuthError as exc:
            raise unauthenticated(exc) from None
        return admit(request, who)

    async def caller_async(request: Request) -> Principal:
        """:func:`caller` in the event loop while the token is cached (no thread: a cached
        token is checked in microseconds); in a worker thread when the store must be asked."""
        try:
            who = tokens.cached(bearer(request))
        except AuthError as exc:
            raise unauthenticated(exc) from None
        if who is None:
            return await run_in_threadpool(caller, request)
        return admit(request, who)

    def refused(who: Principal, action: str) -> ApiError:
        return ApiError(
            403, "forbidden", f"a {who.role.value} token may not {action.replace('.', ' ')}"
        )

    def needs(action: str) -> Callable[..., Principal]:
        def check(request: Request, who: Annotated[Principal, Depends(caller)]) -> Principal:
            if not allowed(who.role, action):
                if action_changes_state(action):
                    record(request, who, action, request.url.path, "forbidden")
                raise refused(who, action)
            return who

        check.action = action  # type: ignore[attr-defined]
        return check

    def needs_async(action: str) -> Callable[..., Awaitable[Principal]]:
        """:func:`needs` for an ``async`` route: no worker thread on the way, and one
        dependency, not two (FastAPI's per-dependency work is a good part of a request's)."""

        async def check(request: Request) -> Principal:
            who = await caller_async(request)
            if not allowed(who.role, action):
                if action_changes_state(action):
                    await record_async(request, who, action, request.url.path, "forbidden")
                raise refused(who, action)
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
        writer.write(Write(audit=audit_fields(request, who, action, target, outcome, detail)))

    async def record_async(
        request: Request,
        who: Principal,
        action: str,
        target: str,
        outcome: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        fields = audit_fields(request, who, action, target, outcome, detail)
        await asyncio.wrap_future(writer.submit(Write(audit=fields)))

    def audit_fields(
        request: Request,
        who: Principal,
        action: str,
        target: str,
        outcome: str,
        detail: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return entry_fields(
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
    def not_own(who: Principal, spec: TaskSpec) -> ApiError | None:
        if who.role is Role.TENANT and spec.tenant != who.principal:
            return ApiError(
                403,
                "forbidden",
                f"a tenant submits only its own tasks (tenant is {spec.tenant!r}, "
                f"token is {who.principal!r})",
                field="tenant",
            )
        return None

    def own(request: Request, who: Principal, spec: TaskSpec) -> None:
        if (error := not_own(who, spec)) is not None:
            record(request, who, "tasks.submit", spec.tenant, "forbidden")
            raise error

    @v1.post("/tasks", status_code=202, tags=["tasks"])
    async def submit(
        request: Request,
        spec: TaskSpec,
        who: Annotated[Principal, Depends(needs_async("tasks.submit"))],
    ) -> Submitted:
        """Submit one task; the runtime places and runs it."""
        # async, in the event loop: no worker thread, the write waits in the group commit
        if (error := not_own(who, spec)) is not None:
            await record_async(request, who, "tasks.submit", spec.tenant, "forbidden")
            raise error
        (task,), rows = service.submissions([spec])
        fields = audit_fields(request, who, "tasks.submit", task, "accepted")
        await asyncio.wrap_future(writer.submit(Write(audit=fields, inbox=rows)))  # committed
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
        ids, rows = service.submissions(batch.tasks)
        fields = audit_fields(request, who, "tasks.submit_batch", f"{len(ids)} tasks", "accepted")
        writer.write(Write(audit=fields, inbox=rows))  # all or none, with its audit entry
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
            Network.from_world(registry.world()).fail(failure, report=False)
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
        market_router(needs, registry.world, settings.market, settings.clock, network_now),
        responses=ERRORS,
    )
    app.include_router(
        ops_router(
            needs, registry.world, settings.market, settings.clock, service, record, network_now
        ),
        responses=ERRORS,
    )
    app.include_router(
        sites_router(needs, registry, service, record, settings.clock), responses=ERRORS
    )
    app.include_router(
        map_router(
            needs,
            registry.world,
            settings.market,
            settings.clock,
            service,
            settings.load,
            registry.statuses,
            network_now,
        ),
        responses=ERRORS,
    )
    _declare_bearer(app)
    return app


@asynccontextmanager
async def _closing(writer: GroupWriter[Any, Any]) -> AsyncIterator[None]:
    """The app's lifespan: at shutdown, everything the writer was given is written."""
    yield
    await run_in_threadpool(writer.close)


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
