"""Schemathesis against the API's OpenAPI document, over HTTP to a live server (uvicorn on
127.0.0.1 over a real SQLite store, with a runtime so that the market routes answer).

Every operation is called with generated input, valid and invalid, once with an admin token
and once with a tenant token: no request may produce a server error (5xx), a successful
response must conform to the schema the document gives it, and every error is the JSON error
document ``{"error": {"code", "message", "field"}}``, never a stack trace. Bounded and
deterministic: a few examples per operation, derandomized, no example database.
"""

from __future__ import annotations

import json
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from suanwang.api.app import ApiSettings, create_app
from suanwang.api.tokens import TokenStore
from suanwang.control.backends.registry import make_backends
from suanwang.control.config import ControlConfig, SimOptions
from suanwang.control.metrics import Metrics
from suanwang.control.runtime import Runtime
from suanwang.control.store import open_store
from suanwang.core.access import Role
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world.builtin import load_builtin_world

WORLD = load_builtin_world()
TENANT = "tenant-01"

#: Examples per operation and phase; with the coverage phase's own cases this keeps the
#: whole module well under a minute and a half on two cores.
MAX_EXAMPLES = 25


def _spec() -> dict[str, Any]:
    """The OpenAPI document of an app like the one served (the routes do not depend on the
    store; :func:`test_the_served_document_is_the_one_tested` checks they agree)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'spec.db'}")
        try:
            app: FastAPI = create_app(ApiSettings(store=store, world=WORLD))
            return app.openapi()
        finally:
            store.close()


SPEC = _spec()
schema = schemathesis.openapi.from_dict(SPEC)

#: Beyond this an ``offset`` of GET /v1/tasks overflows SQLite's INTEGER (a 500; see
#: :func:`test_a_huge_offset_is_a_4xx_not_a_server_error`; now refused with a 422).
HUGE_OFFSET = 2**62


@schema.hook
def map_query(context: Any, query: dict[str, Any] | None) -> dict[str, Any] | None:
    """Keep the fuzzer off the known offset overflow so that it looks for other bugs."""
    if (
        query
        and context.operation is not None
        and context.operation.path == "/v1/tasks"
        and isinstance(query.get("offset"), int)
        and query["offset"] > HUGE_OFFSET
    ):
        return {**query, "offset": query["offset"] % HUGE_OFFSET}
    return query


FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failing case is reported as is
)


# --- the live server ---------------------------------------------------------------------------
@dataclass
class Live:
    url: str
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("schemathesis")
    store = open_store(f"sqlite:///{tmp / 'suanwang.db'}")
    cfg = ControlConfig(backends={"sim": SimOptions(kind="sim", time_scale=3600.0 * 3600)})
    backends = make_backends(cfg, [s.id for s in WORLD.sites], tmp)
    metrics = Metrics()
    rt = Runtime(store, cfg, WORLD, UNIT_TABLE, backends, data_dir=tmp, metrics=metrics)
    rt.recover()
    ts = TokenStore(store)
    tokens = {
        "admin": ts.create("root", Role.ADMIN)[1],
        "tenant": ts.create(TENANT, Role.TENANT)[1],
    }
    app = create_app(
        ApiSettings(
            store=store,
            world=WORLD,
            metrics=metrics,
            market=lambda: rt.journal.market,
            rate_per_s=1e6,  # the fuzzer is not what the rate limit is for
            burst=1_000_000,
        )
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield Live(f"http://127.0.0.1:{port}", tokens)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


# --- the checks --------------------------------------------------------------------------------
def assert_error_document(status: int, content: bytes, where: str) -> None:
    text = content.decode("utf-8", "replace")
    assert "Traceback" not in text, f"{where}: a stack trace in the response: {text[:2000]}"
    try:
        body = json.loads(text)
    except ValueError:
        pytest.fail(f"{where}: a {status} whose body is not JSON: {text[:500]!r}")
    assert isinstance(body, dict), f"{where}: {body!r}"
    assert set(body) == {"error"}, f"{where}: {body!r}"
    err = body["error"]
    assert isinstance(err, dict), f"{where}: {body!r}"
    assert set(err) == {"code", "message", "field"}, f"{where}: {body!r}"
    assert isinstance(err["code"], str), f"{where}: {body!r}"
    assert re.fullmatch(r"[a-z][a-z_]*", err["code"]), f"{where}: {body!r}"
    assert isinstance(err["message"], str), f"{where}: {body!r}"
    assert err["field"] is None or isinstance(err["field"], str), f"{where}: {body!r}"


def run_case(case: Any, live: Live, who: str) -> None:
    headers = live.auth(who)
    response = case.call(base_url=live.url, headers=headers, timeout=30)
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    case.validate_response(response, checks=checks, headers=headers)
    if response.status_code >= 400:
        where = f"{case.method} {case.formatted_path} as {who} -> {response.status_code}"
        assert_error_document(response.status_code, response.content, where)


@schema.parametrize()
@FUZZ
def test_no_server_error_and_conforming_answers_as_admin(case: Any, live: Live) -> None:
    run_case(case, live, "admin")


@schema.parametrize()
@FUZZ
def test_no_server_error_and_conforming_answers_as_tenant(case: Any, live: Live) -> None:
    run_case(case, live, "tenant")


@pytest.mark.parametrize("who", ["admin", "tenant"])
def test_a_huge_offset_is_a_4xx_not_a_server_error(live: Live, who: str) -> None:
    for offset in (2**63 - 1, 2**63, 10**25):
        r = httpx.get(
            f"{live.url}/v1/tasks",
            params={"offset": offset, "limit": 100},
            headers=live.auth(who),
            timeout=30,
        )
        assert r.status_code < 500, (offset, r.status_code, r.text)
        assert_error_document(r.status_code, r.content, f"GET /v1/tasks?offset={offset}")


# --- the document itself -----------------------------------------------------------------------
def test_the_served_document_is_the_one_tested(live: Live) -> None:
    served = httpx.get(f"{live.url}/openapi.json", timeout=30).json()
    assert served == SPEC
    assert served["openapi"].startswith("3.")
    operations = [(m, p) for p, ops in served["paths"].items() for m in ops]
    assert len(operations) >= 14
    assert all(p == "/healthz" or p == "/metrics" or p.startswith("/v1/") for _, p in operations)


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = SPEC["components"]["schemas"][name]
    return node


def test_the_documented_422_is_the_error_document_the_api_answers(live: Live) -> None:
    r = httpx.post(
        f"{live.url}/v1/tasks", json={"name": "x"}, headers=live.auth("admin"), timeout=30
    )
    assert r.status_code == 422
    assert_error_document(r.status_code, r.content, "POST /v1/tasks")
    documented = SPEC["paths"]["/v1/tasks"]["post"]["responses"]["422"]
    body = _resolve(documented["content"]["application/json"]["schema"])
    assert "error" in body.get("properties", {}), body
    assert "error" in body.get("required", []), body
    assert set(r.json()) <= set(body["properties"]), (r.json(), body)


def test_the_auth_errors_are_documented() -> None:
    missing = [
        f"{method.upper()} {path}"
        for path, ops in SPEC["paths"].items()
        if path != "/healthz"
        for method, op in ops.items()
        if not {"401", "403"} <= set(op.get("responses", {}))
    ]
    assert not missing, missing


def test_the_bearer_scheme_is_declared() -> None:
    schemes = SPEC.get("components", {}).get("securitySchemes", {})
    assert any(
        s.get("type") == "http" and s.get("scheme", "").lower() == "bearer"
        for s in schemes.values()
    ), schemes
    unsecured = [
        f"{method.upper()} {path}"
        for path, ops in SPEC["paths"].items()
        if path != "/healthz"
        for method, op in ops.items()
        if not (op.get("security") or SPEC.get("security"))
    ]
    assert not unsecured, unsecured
