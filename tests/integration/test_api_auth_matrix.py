"""The auth matrix over every route of the API, against a live server (uvicorn on 127.0.0.1
over a real SQLite store).

The routes are discovered from the app itself (``app.routes``), so a new route is covered
without editing this file: without a token, with a malformed ``Authorization`` header, with
a revoked or an expired token it must answer 401 (with ``WWW-Authenticate: Bearer``); with a
token whose role :data:`~suanwang.core.access.PERMISSIONS` does not allow for the route's
action it must answer 403. The action is read from the route's ``needs(action)`` dependency
and must also be listed in :data:`ACTIONS`, so that adding a route forces someone to decide,
here, who may call it. A tenant asking for another tenant's task gets the same 404 as for a
task that does not exist. Every error is ``{"error": {"code", "message", "field"}}`` and never
a stack trace.
"""

from __future__ import annotations

import inspect
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select

from suanwang.api.app import ApiSettings, create_app
from suanwang.api.audit import AuditLog
from suanwang.api.tokens import TokenStore
from suanwang.control.backends.registry import make_backends
from suanwang.control.config import ControlConfig, SimOptions
from suanwang.control.metrics import Metrics
from suanwang.control.runtime import Runtime
from suanwang.control.site_registry import SiteRegistry
from suanwang.control.store import Store, open_store
from suanwang.control.store.schema import InboxRow
from suanwang.core.access import PERMISSIONS, Role
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.sites import Site
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world.builtin import load_builtin_world

WORLD = load_builtin_world()

#: Paths that are public by design (liveness, the docs and what they load).
PUBLIC = ("/healthz", "/docs", "/redoc", "/openapi.json", "/static")

#: Every route and the action its ``needs(action)`` dependency checks; ``None`` for a route
#: open to any valid token (it then scopes what the caller may touch itself). A route missing
#: here fails :func:`test_every_route_is_in_the_action_table`: add it after deciding who may
#: call it (least privilege).
ACTIONS: dict[tuple[str, str], str | None] = {
    ("GET", "/metrics"): "metrics.read",
    ("GET", "/v1/whoami"): None,
    ("POST", "/v1/tasks"): "tasks.submit",
    ("POST", "/v1/tasks/batch"): "tasks.submit",
    ("GET", "/v1/tasks"): "tasks.read",
    ("GET", "/v1/tasks/{task}"): "tasks.read",
    ("GET", "/v1/tasks/{task}/events"): "tasks.read",
    ("POST", "/v1/tasks/{task}/cancel"): "tasks.cancel",
    ("GET", "/v1/sites"): "world.read",
    ("GET", "/v1/sites/{site}"): "world.read",
    ("PUT", "/v1/sites/{site}"): "sites.register",
    ("PATCH", "/v1/sites/{site}/pools"): "sites.register",
    ("POST", "/v1/sites/{site}/heartbeat"): "sites.heartbeat",
    ("PUT", "/v1/sites/{site}/owner"): "sites.own",
    ("GET", "/v1/map/network"): "world.read",
    ("GET", "/v1/map/countries"): "world.read",
    ("GET", "/v1/map/tasks"): "tasks.read",
    ("POST", "/v1/network/cuts"): "network.cut",
    ("DELETE", "/v1/network/cuts/{key}"): "network.cut",
    ("POST", "/v1/tokens"): "tokens.manage",
    ("DELETE", "/v1/tokens/{token_id}"): None,
    ("GET", "/v1/balance"): "market.read",
    ("GET", "/v1/leases"): "market.read",
    ("GET", "/v1/leases/{lease}"): "market.read",
    ("POST", "/v1/market/quote"): "market.quote",
    ("GET", "/v1/network/path"): "world.read",
    ("GET", "/v1/energy/sites/{site}"): "world.read",
    ("GET", "/v1/network/circles/{site}"): "world.read",
    ("GET", "/v1/network/costmap"): "world.read",
    ("GET", "/v1/energy/windows"): "world.read",
    ("GET", "/v1/tasks/{task}/explain"): "tasks.read",
    ("POST", "/v1/market/explain"): "market.quote",
    ("GET", "/v1/leases/{lease}/statements"): "market.read",
    ("GET", "/v1/vouchers"): "market.read",
    ("GET", "/v1/vouchers/{voucher}"): "market.read",
    ("POST", "/v1/vouchers"): "vouchers.grant",
    ("POST", "/v1/sites/{site}/down"): "sites.down",
    ("POST", "/v1/sites/{site}/up"): "sites.down",
}

#: The principal that stands for each role in the matrix.
ROLE_CLIENT = {Role.TENANT: "alice", Role.PROVIDER: "provider", Role.OPERATOR: "operator"}
ROLE_CLIENT[Role.ADMIN] = "admin"
PRINCIPALS = {Role.TENANT: "tenant-01", Role.PROVIDER: "acme", Role.OPERATOR: "noc"}
PRINCIPALS[Role.ADMIN] = "root"

#: Known bugs: (check, "METHOD /path", variant) -> reason; those cases are strict xfails.
KNOWN_BUGS: dict[tuple[str, str, str], str] = {}


# --- the routes, discovered from the app -------------------------------------------------------
@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    actions: frozenset[str]
    authenticated: bool
    params: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def action(self) -> str | None:
        return next(iter(self.actions)) if len(self.actions) == 1 else None

    @property
    def has_body(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH")


def _api_routes(app: FastAPI) -> Iterator[tuple[str, set[str], Any]]:
    """(path, methods, dependant) of every APIRoute, routers included (FastAPI >= 0.16x keeps
    included routers as one entry of ``app.routes``; older versions flatten them)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI: app.routes is flat
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield route.path, set(route.methods or ()), route.dependant
        return
    for ctx in iter_route_contexts(app.routes):
        original = ctx.original_route
        if isinstance(original, APIRoute):
            dependant = getattr(ctx, "dependant", None) or original.dependant
            yield str(ctx.path), set(ctx.methods or original.methods or ()), dependant


def _walk_calls(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _walk_calls(sub)


def _route_info(path: str, method: str, dependant: Any) -> RouteInfo:
    actions: set[str] = set()
    authenticated = False
    for call in _walk_calls(dependant):
        if not inspect.isfunction(call):
            continue
        nonlocals = inspect.getclosurevars(call).nonlocals
        action = nonlocals.get("action")
        if isinstance(action, str):
            actions.add(action)
        if call.__name__ == "caller" or isinstance(action, str):
            authenticated = True
    return RouteInfo(
        method=method,
        path=path,
        actions=frozenset(actions),
        authenticated=authenticated,
        params=tuple(re.findall(r"{(\w+)(?::\w+)?}", path)),
    )


def discover(app: FastAPI) -> list[RouteInfo]:
    """Every route of ``app`` but the public ones, with the actions its dependencies check."""
    found: dict[tuple[str, str], RouteInfo] = {}
    for path, methods, dependant in _api_routes(app):
        if path.startswith(PUBLIC):
            continue
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            found[(method, path)] = _route_info(path, method, dependant)
    return sorted(found.values(), key=lambda r: (r.path, r.method))


def _throwaway_app() -> FastAPI:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'routes.db'}")
        try:
            return create_app(ApiSettings(store=store, world=WORLD))
        finally:
            store.close()


_APP = _throwaway_app()
ROUTES = discover(_APP)
OPENAPI = _APP.openapi()
ROLES = list(Role)


# --- the live server ---------------------------------------------------------------------------
@dataclass
class Live:
    url: str
    store: Store
    tokens: dict[str, str]
    values: dict[str, str]
    victim: str
    alice_token_id: str

    def client(self, who: str | None = None, *, header: str | None = None) -> httpx.Client:
        headers: dict[str, str] = {}
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        if header is not None:
            headers["Authorization"] = header
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def registration_json(site: Site) -> dict[str, Any]:
    """A registration that re-describes ``site`` as it is."""
    return site.model_dump(mode="json", exclude={"id", "source"})


def task_json(tenant: str, seed: int = 1) -> dict[str, Any]:
    spec = generate_tasks(WORLD, 1, np.random.default_rng(seed), start=datetime.now(UTC))[0]
    return spec.model_copy(update={"tenant": tenant}).model_dump(mode="json")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("auth-matrix")
    store = open_store(f"sqlite:///{tmp / 'suanwang.db'}")
    cfg = ControlConfig(backends={"sim": SimOptions(kind="sim", time_scale=3600.0 * 3600)})
    backends = make_backends(cfg, [s.id for s in WORLD.sites], tmp)
    metrics = Metrics()
    rt = Runtime(store, cfg, WORLD, UNIT_TABLE, backends, data_dir=tmp, metrics=metrics)
    rt.recover()
    ts = TokenStore(store)
    tokens = {
        "admin": ts.create("root", Role.ADMIN)[1],
        "operator": ts.create("noc", Role.OPERATOR)[1],
        "alice": ts.create("tenant-01", Role.TENANT)[1],
        "bob": ts.create("tenant-02", Role.TENANT)[1],
        "provider": ts.create("acme", Role.PROVIDER)[1],
    }
    # revoked and expired tokens are admin tokens: if either were let through, any route
    # would answer as for an admin, not 403
    info, tokens["revoked"] = ts.create("root", Role.ADMIN, note="revoked")
    ts.revoke(info.id)
    past = TokenStore(store, clock=lambda: datetime.now(UTC) - timedelta(days=2))
    tokens["expired"] = past.create("root", Role.ADMIN, ttl=timedelta(days=1), note="expired")[1]
    alice_info, tokens["alice2"] = ts.create("tenant-01", Role.TENANT, note="to revoke")
    # the provider owns the site the matrix names (a provider changes only its own sites)
    SiteRegistry(store, WORLD).set_owner(WORLD.sites[0].id, PRINCIPALS[Role.PROVIDER])

    settings = ApiSettings(
        store=store,
        world=WORLD,
        metrics=metrics,
        market=lambda: rt.journal.market,
        rate_per_s=1e6,
        burst=1_000_000,
    )
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            alice = {"Authorization": f"Bearer {tokens['alice']}"}
            op = {"Authorization": f"Bearer {tokens['operator']}"}
            r = http.post("/v1/tasks", json=task_json("tenant-01"), headers=alice)
            assert r.status_code == 202, r.text
            task = r.json()["id"]
            r = http.post("/v1/tasks", json=task_json("tenant-01", 2), headers=alice)
            assert r.status_code == 202, r.text
            victim = r.json()["id"]
            for _ in range(100):  # run tenant A's tasks: a lease of theirs exists
                rt.tick()
                if http.get(f"/v1/tasks/{task}", headers=alice).json()["state"] == "succeeded":
                    break
                time.sleep(0.02)
            leases = http.get("/v1/leases", params={"task": task}, headers=alice).json()
            assert leases, "tenant A's task has no lease"
            lease = leases[0]["id"]
            r = http.post("/v1/network/cuts", json={"cables": ["tonga-cable"]}, headers=op)
            assert r.status_code == 202, r.text
            key = r.json()["key"]
        values = {
            "task": task,
            "site": WORLD.sites[0].id,
            "key": key,
            "token_id": alice_info.id,
            "lease": lease,
        }
        yield Live(url, store, tokens, values, victim, alice_info.id)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


# --- requests and expectations -----------------------------------------------------------------
def plausible_body(route: RouteInfo) -> dict[str, Any] | None:
    """A body the route would accept from an allowed caller (``{}`` when unknown)."""
    bodies: dict[str, dict[str, Any]] = {
        "/v1/tasks": task_json("tenant-01", 3),
        "/v1/tasks/batch": {"tasks": [task_json("tenant-01", 4)]},
        "/v1/network/cuts": {"cables": ["tonga-cable"]},
        "/v1/tokens": {"principal": "tenant-09", "role": "tenant"},
        "/v1/market/quote": {"tasks": [task_json("tenant-01", 5)]},
        "/v1/sites/{site}": registration_json(WORLD.sites[0]),
        "/v1/sites/{site}/pools": {
            "pools": [{"index": 0, "price_per_unit_hour_micros": 2_000_000}]
        },
        "/v1/sites/{site}/heartbeat": {"online": None, "metrics": {"utilisation": 0.5}},
        "/v1/sites/{site}/owner": {"provider": PRINCIPALS[Role.PROVIDER]},
    }
    if not route.has_body:
        return None
    return bodies.get(route.path, {})


def plausible_query(route: RouteInfo) -> dict[str, str]:
    queries = {"/v1/network/path": {"src": WORLD.sites[0].id, "dst": WORLD.sites[1].id}}
    return queries.get(route.path, {})


def concrete_path(route: RouteInfo, values: dict[str, str], **override: str) -> str:
    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        return override.get(name) or values.get(name) or f"some-{name}"

    return re.sub(r"{(\w+)(?::\w+)?}", fill, route.path)


def send(client: httpx.Client, route: RouteInfo, live: Live, **override: str) -> httpx.Response:
    body = plausible_body(route)
    return client.request(
        route.method,
        concrete_path(route, live.values, **override),
        params=plausible_query(route),
        json=body,
    )


def assert_error_shape(r: httpx.Response) -> dict[str, Any]:
    """The body is exactly ``{"error": {"code", "message", "field"}}``, no stack trace."""
    assert "Traceback" not in r.text, r.text
    assert 'File "' not in r.text, r.text
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "field"}, body
    assert isinstance(err["code"], str), body
    assert re.fullmatch(r"[a-z][a-z_]*", err["code"]), body
    assert isinstance(err["message"], str), body
    assert err["message"], body
    assert err["field"] is None or isinstance(err["field"], str), body
    return dict(err)


def assert_unauthenticated(r: httpx.Response) -> None:
    assert r.status_code == 401, (r.request.method, r.request.url, r.status_code, r.text)
    err = assert_error_shape(r)
    assert err["code"] == "unauthenticated", err
    assert r.headers.get("www-authenticate", "").split(" ")[0].lower() == "bearer", r.headers


def cases(check: str, variants: list[str], routes: list[RouteInfo] | None = None) -> list[Any]:
    """``pytest.param(route, variant)`` for every route, known bugs marked strict xfail."""
    out = []
    for route in ROUTES if routes is None else routes:
        for variant in variants:
            reason = KNOWN_BUGS.get((check, route.id, variant))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(route, variant, marks=marks, id=f"{route.id}-{variant}"))
    return out


def forbidden_cases() -> list[Any]:
    out = []
    for route in ROUTES:
        action = route.action
        if action is None:
            continue
        for role in ROLES:
            if role in PERMISSIONS.get(action, frozenset()):
                continue
            reason = KNOWN_BUGS.get(("forbidden", route.id, role.value))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(route, role, marks=marks, id=f"{route.id}-{role.value}"))
    return out


def allowed_cases() -> list[Any]:
    out = []
    for route in ROUTES:
        roles = ROLES if route.action is None else sorted(PERMISSIONS.get(route.action, ()))
        for role in roles:
            out.append(pytest.param(route, role, id=f"{route.id}-{role.value}"))
    return out


#: Path parameters naming something a tenant owns, and an id that names nothing.
OWNED = {"task": "t-0000000000000000", "lease": "t-0000000000000000.1"}
OWNED_ROUTES = [r for r in ROUTES if set(r.params) & set(OWNED)]


# --- the table of routes -----------------------------------------------------------------------
def test_routes_are_discovered_from_the_app() -> None:
    """Discovery sees every operation of the OpenAPI document (so nothing escapes the matrix)."""
    documented = {
        (method.upper(), path)
        for path, ops in OPENAPI["paths"].items()
        for method in ops
        if not path.startswith(PUBLIC)
    }
    discovered = {(r.method, r.path) for r in ROUTES}
    assert documented <= discovered, sorted(documented - discovered)
    assert ("POST", "/v1/tasks") in discovered
    assert ("GET", "/v1/tasks/{task}") in discovered


def test_every_route_is_in_the_action_table() -> None:
    """A new route must be added to ACTIONS with the action it checks; a removed one taken out."""
    problems = []
    for route in ROUTES:
        if (route.method, route.path) not in ACTIONS:
            found = ", ".join(sorted(route.actions)) or "none: any valid token"
            problems.append(
                f"{route.id} is not in ACTIONS in {Path(__file__).name}: decide who may call "
                f"it and add ({route.method!r}, {route.path!r}): <action> (its dependencies "
                f"check: {found})"
            )
        elif ACTIONS[(route.method, route.path)] != route.action:
            problems.append(
                f"{route.id} checks {sorted(route.actions) or 'no action'} but ACTIONS says "
                f"{ACTIONS[(route.method, route.path)]!r}"
            )
    present = {(r.method, r.path) for r in ROUTES}
    problems += [
        f"{m} {p} is in ACTIONS but the app has no such route: remove it"
        for (m, p) in ACTIONS
        if (m, p) not in present
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id)
def test_every_route_authenticates_and_checks_one_known_action(route: RouteInfo) -> None:
    assert route.authenticated, f"{route.id} has no token check (needs(...) or caller)"
    assert len(route.actions) <= 1, f"{route.id} checks several actions: {sorted(route.actions)}"
    if route.action is not None:
        assert route.action in PERMISSIONS, (
            f"{route.id} checks {route.action!r}, which PERMISSIONS does not list (nobody may)"
        )


# --- 401: no token, malformed, revoked, expired ------------------------------------------------
BAD_HEADERS = {
    "basic": "Basic x",
    "bearer-alone": "Bearer",
    "bearer-garbage": "Bearer garbage",
    "bearer-unknown": "Bearer sw_0123456789abcdef.not-a-real-secret",
}


@pytest.mark.parametrize(("route", "variant"), cases("no-token", ["none"]))
def test_no_token_is_401(live: Live, route: RouteInfo, variant: str) -> None:
    with live.client() as c:
        assert_unauthenticated(send(c, route, live))


@pytest.mark.parametrize(("route", "variant"), cases("malformed", list(BAD_HEADERS)))
def test_a_malformed_authorization_header_is_401(
    live: Live, route: RouteInfo, variant: str
) -> None:
    with live.client(header=BAD_HEADERS[variant]) as c:
        assert_unauthenticated(send(c, route, live))


@pytest.mark.parametrize(("route", "variant"), cases("wrong-scheme", ["basic", "token", "bare"]))
def test_a_valid_admin_secret_under_another_scheme_is_401(
    live: Live, route: RouteInfo, variant: str
) -> None:
    secret = live.tokens["admin"]
    header = {"basic": f"Basic {secret}", "token": f"Token {secret}", "bare": secret}[variant]
    with live.client(header=header) as c:
        assert_unauthenticated(send(c, route, live))


@pytest.mark.parametrize(("route", "variant"), cases("dead-token", ["revoked", "expired"]))
def test_a_revoked_or_expired_admin_token_is_401(
    live: Live, route: RouteInfo, variant: str
) -> None:
    with live.client(variant) as c:
        r = send(c, route, live)
    assert_unauthenticated(r)
    assert variant in r.json()["error"]["message"]


def first_forbidden_role(route: RouteInfo) -> Role | None:
    if route.action is None:
        return None
    return next((r for r in ROLES if r not in PERMISSIONS.get(route.action, ())), None)


BODY_ROUTES = [r for r in ROUTES if r.has_body]
# A malformed body is looked at only after the token and the role: the API checks them in
# its validation-error handler, since FastAPI parses a body before it solves dependencies.


def bad_body_cases() -> list[Any]:
    out = cases("bad-body", ["no-token"], BODY_ROUTES)
    with_role = [r for r in BODY_ROUTES if first_forbidden_role(r) is not None]
    return out + cases("bad-body", ["forbidden-role"], with_role)


@pytest.mark.parametrize(("route", "variant"), bad_body_cases())
def test_the_token_and_role_are_checked_before_the_body_is_looked_at(
    live: Live, route: RouteInfo, variant: str
) -> None:
    """Zero trust: a caller who may not call a route learns nothing about the input it takes."""
    role = first_forbidden_role(route)
    who = ROLE_CLIENT[role] if variant == "forbidden-role" and role is not None else None
    with live.client(who) as c:
        r = c.request(
            route.method,
            concrete_path(route, live.values),
            params=plausible_query(route),
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
    if who is None:
        assert_unauthenticated(r)
    else:
        assert r.status_code == 403, (route.id, role, r.status_code, r.text)
        assert assert_error_shape(r)["code"] == "forbidden"


# --- 403: a role the permission table does not allow -------------------------------------------
@pytest.mark.parametrize(("route", "role"), forbidden_cases())
def test_a_role_not_allowed_is_403(live: Live, route: RouteInfo, role: Role) -> None:
    audit = AuditLog(live.store)
    before = audit.rows(limit=1)
    with live.client(ROLE_CLIENT[role]) as c:
        r = send(c, route, live)
    assert r.status_code == 403, (route.id, role, r.status_code, r.text)
    err = assert_error_shape(r)
    assert err["code"] == "forbidden", err
    assert route.action is not None
    if not route.action.endswith((".read", ".quote")):
        # a refused state-changing call is audited too
        after = audit.rows(limit=1)
        assert after != before
        last = after[-1]
        assert (last["role"], last["action"], last["outcome"]) == (
            role.value,
            route.action,
            "forbidden",
        ), last


# --- tenant isolation --------------------------------------------------------------------------
def _same_but_for_the_id(theirs: httpx.Response, unknown: httpx.Response, a: str, b: str) -> None:
    assert theirs.status_code == unknown.status_code == 404, (theirs.text, unknown.text)
    e1, e2 = assert_error_shape(theirs), assert_error_shape(unknown)
    assert e1["code"] == e2["code"] == "not_found"
    assert e1["field"] == e2["field"]
    assert e1["message"].replace(a, "<id>") == e2["message"].replace(b, "<id>"), (e1, e2)
    assert a not in e2["message"]
    assert {k: v for k, v in theirs.headers.items() if k not in ("date", "content-length")} == {
        k: v for k, v in unknown.headers.items() if k not in ("date", "content-length")
    }


@pytest.mark.parametrize(("route", "variant"), cases("isolation", ["tenant-b"], OWNED_ROUTES))
def test_another_tenants_task_or_lease_answers_like_an_unknown_one(
    live: Live, route: RouteInfo, variant: str
) -> None:
    name = next(p for p in route.params if p in OWNED)
    mine, unknown = live.values[name], OWNED[name]
    with live.client("bob") as bob:
        theirs = send(bob, route, live, **{name: mine})
        nothing = send(bob, route, live, **{name: unknown})
    _same_but_for_the_id(theirs, nothing, mine, unknown)
    # and nothing happened to it: no cancel queued for tenant A's task
    with live.store.sessions() as s:
        cancels = s.execute(
            select(InboxRow).where(InboxRow.kind == "cancel", InboxRow.task == live.victim)
        ).all()
    assert cancels == []


def test_owned_resource_isolation_covers_every_task_and_lease_route() -> None:
    paths = {r.path for r in OWNED_ROUTES}
    assert {"/v1/tasks/{task}", "/v1/tasks/{task}/events", "/v1/tasks/{task}/cancel"} <= paths
    assert "/v1/leases/{lease}" in paths


def test_another_tenants_tasks_leases_and_balance_are_not_listed(live: Live) -> None:
    with live.client("bob") as bob:
        for params in ({}, {"tenant": "tenant-01"}, {"state": "succeeded", "tenant": "tenant-01"}):
            r = bob.get("/v1/tasks", params=params)
            assert r.status_code == 200
            assert all(t["tenant"] == "tenant-02" for t in r.json()["tasks"]), r.text
            assert live.values["task"] not in r.text
            assert live.victim not in r.text
        for params in ({}, {"task": live.values["task"]}):
            r = bob.get("/v1/leases", params=params)
            assert r.status_code == 200
            assert r.json() == [], r.text
        r = bob.get("/v1/balance", params={"tenant": "tenant-01"})
        assert r.status_code == 200
        assert r.json()["tenant"] == "tenant-02", r.text
    with live.client("alice") as alice:  # while its owner sees them
        assert alice.get(f"/v1/leases/{live.values['lease']}").status_code == 200
        assert alice.get(f"/v1/tasks/{live.victim}").json()["tenant"] == "tenant-01"


def test_another_tenants_token_cannot_be_revoked_and_answers_like_an_unknown_one(
    live: Live,
) -> None:
    unknown = "0000000000000000"
    with live.client("bob") as bob:
        theirs = bob.delete(f"/v1/tokens/{live.alice_token_id}")
        nothing = bob.delete(f"/v1/tokens/{unknown}")
    _same_but_for_the_id(theirs, nothing, live.alice_token_id, unknown)
    with live.client("alice2") as alice2:
        assert alice2.get("/v1/whoami").status_code == 200


# --- the allowed roles get past the gate -------------------------------------------------------
@pytest.mark.parametrize(("route", "role"), allowed_cases())
def test_an_allowed_role_gets_past_the_gate(live: Live, route: RouteInfo, role: Role) -> None:
    """Least privilege, not no privilege: each allowed role gets neither 401 nor 403, and any
    error is still the JSON error document (never a 5xx)."""
    override = {}
    if "token_id" in route.params:  # revoke a token of the caller's own, made for this
        info, _ = TokenStore(live.store).create(PRINCIPALS[role], role, note="to revoke")
        override["token_id"] = info.id
    with live.client(ROLE_CLIENT[role]) as c:
        r = send(c, route, live, **override)
    assert r.status_code not in (401, 403), (route.id, role, r.status_code, r.text)
    assert r.status_code < 500, (route.id, role, r.status_code, r.text)
    if r.status_code >= 400:
        assert_error_shape(r)
