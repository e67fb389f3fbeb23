"""The HTTP API against a live server (uvicorn on 127.0.0.1) over a real store, on SQLite and
PostgreSQL: the whole task path through HTTP, the auth matrix over every route, bad input,
and the audit trail of state-changing calls."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from suanwang.api.app import ApiSettings, create_app
from suanwang.api.audit import AuditLog
from suanwang.api.tokens import TokenStore
from suanwang.control.backends.registry import make_backends
from suanwang.control.config import ControlConfig, SimOptions
from suanwang.control.metrics import Metrics
from suanwang.control.runtime import Runtime
from suanwang.control.store import Store, open_store
from suanwang.core.access import Role
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world.builtin import load_builtin_world

WORLD = load_builtin_world()


@dataclass
class Live:
    url: str
    store: Store
    runtime: Runtime
    tokens: dict[str, str]
    clock_skew: list[timedelta]

    def client(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture
def live(store_url: str, tmp_path: Path, serve_app: Callable[[Any], str]) -> Iterator[Live]:
    store = open_store(store_url)
    skew: list[timedelta] = [timedelta(0)]

    def clock() -> datetime:
        return datetime.now(UTC) + skew[0]

    cfg = ControlConfig(backends={"sim": SimOptions(kind="sim", time_scale=3600.0 * 3600)})
    backends = make_backends(cfg, [s.id for s in WORLD.sites], tmp_path)
    metrics = Metrics()
    rt = Runtime(store, cfg, WORLD, UNIT_TABLE, backends, data_dir=tmp_path, metrics=metrics)
    rt.recover()
    ts = TokenStore(store, clock)
    tokens = {
        "admin": ts.create("root", Role.ADMIN)[1],
        "operator": ts.create("noc", Role.OPERATOR)[1],
        "alice": ts.create("tenant-01", Role.TENANT)[1],
        "bob": ts.create("tenant-02", Role.TENANT)[1],
        "provider": ts.create("acme", Role.PROVIDER)[1],
    }
    info, revoked = ts.create("tenant-03", Role.TENANT)
    ts.revoke(info.id)
    tokens["revoked"] = revoked
    tokens["expired"] = ts.create("tenant-04", Role.TENANT, ttl=timedelta(seconds=1))[1]
    app = create_app(
        ApiSettings(
            store=store,
            world=WORLD,
            clock=clock,
            metrics=metrics,
            market=lambda: rt.journal.market,
        )
    )
    url = serve_app(app)
    time.sleep(1.1)  # the one-second token expires
    try:
        yield Live(url, store, rt, tokens, skew)
    finally:
        store.close()


def task_json(tenant: str, seed: int = 1) -> dict[str, object]:
    spec = generate_tasks(WORLD, 1, np.random.default_rng(seed), start=datetime.now(UTC))[0]
    return spec.model_copy(update={"tenant": tenant}).model_dump(mode="json")


def test_the_task_path_through_http_submit_place_run_settle(live: Live) -> None:
    alice = live.client("alice")
    assert live.client(None).get("/healthz").json()["status"] == "ok"
    r = alice.post("/v1/tasks", json=task_json("tenant-01"))
    assert r.status_code == 202, r.text
    task = r.json()["id"]
    batch = alice.post(
        "/v1/tasks/batch", json={"tasks": [task_json("tenant-01", s) for s in (2, 3)]}
    )
    assert batch.status_code == 202
    assert len(batch.json()["ids"]) == 2
    for _ in range(50):
        live.runtime.tick()
        if alice.get(f"/v1/tasks/{task}").json()["state"] in ("succeeded", "queued"):
            break
        time.sleep(0.05)
    view = alice.get(f"/v1/tasks/{task}").json()
    assert view["state"] == "succeeded", view
    story = alice.get(f"/v1/tasks/{task}/events").json()
    assert [e["kind"] for e in story][:3] == ["submit", "admit", "place"]
    assert story[-1]["after"] == "succeeded"
    listed = alice.get("/v1/tasks", params={"state": "succeeded"}).json()["tasks"]
    assert task in [t["id"] for t in listed]
    lease = live.runtime.journal.market.leases[f"{task}.1"]
    assert lease.close_reason is not None
    assert lease.close_reason.value == "completed"


@pytest.mark.parametrize(
    ("who", "status"),
    [(None, 401), ("revoked", 401), ("expired", 401), ("provider", 403), ("bob", 404)],
)
def test_another_tenants_task_is_invisible_and_bad_tokens_are_refused(
    live: Live, who: str | None, status: int
) -> None:
    task = live.client("alice").post("/v1/tasks", json=task_json("tenant-01")).json()["id"]
    for method, path in [
        ("GET", f"/v1/tasks/{task}"),
        ("GET", f"/v1/tasks/{task}/events"),
        ("POST", f"/v1/tasks/{task}/cancel"),
    ]:
        r = live.client(who).request(method, path)
        assert r.status_code == status, (method, path, r.text)
        err = r.json()["error"]
        assert set(err) == {"code", "message", "field"}
        if status == 401:
            assert r.headers.get("www-authenticate", "").lower().startswith("bearer")
    # the owner and the operators see it
    for ok in ("alice", "operator", "admin"):
        assert live.client(ok).get(f"/v1/tasks/{task}").status_code == 200


def test_a_tenant_lists_only_its_own_tasks_and_submits_only_as_itself(live: Live) -> None:
    alice, bob = live.client("alice"), live.client("bob")
    mine = alice.post("/v1/tasks", json=task_json("tenant-01")).json()["id"]
    bob.post("/v1/tasks", json=task_json("tenant-02"))
    seen = {t["id"] for t in alice.get("/v1/tasks").json()["tasks"]}
    assert seen == {mine}
    seen_by_bob_asking_for_alice = bob.get("/v1/tasks", params={"tenant": "tenant-01"}).json()
    assert all(t["tenant"] == "tenant-02" for t in seen_by_bob_asking_for_alice["tasks"])
    r = bob.post("/v1/tasks", json=task_json("tenant-01"))
    assert r.status_code == 403
    assert r.json()["error"]["field"] == "tenant"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 422, None),
        ({"name": "x"}, 422, "tenant"),
        ({**task_json("tenant-01"), "duration_hours": "long"}, 422, "duration_hours"),
        ({**task_json("tenant-01"), "surprise": 1}, 422, "surprise"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field_and_changes_nothing(
    live: Live, body: object, status: int, field: str | None
) -> None:
    alice = live.client("alice")
    before = alice.get("/v1/tasks").json()["tasks"]
    if isinstance(body, bytes):
        r = alice.post("/v1/tasks", content=body, headers={"content-type": "application/json"})
    else:
        r = alice.post("/v1/tasks", json=body)
    assert r.status_code in (400, status), r.text
    err = r.json()["error"]
    if field is not None:
        assert err["field"] == field
    assert "Traceback" not in r.text
    assert alice.get("/v1/tasks").json()["tasks"] == before


def test_an_oversized_body_is_refused(live: Live) -> None:
    r = live.client("alice").post(
        "/v1/tasks", content=b"x" * (17 * 1024 * 1024), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"


def test_operators_cut_and_restore_tenants_may_not(live: Live) -> None:
    r = live.client("alice").post("/v1/network/cuts", json={"cables": ["tonga-cable"]})
    assert r.status_code == 403
    op = live.client("operator")
    r = op.post("/v1/network/cuts", json={"cables": ["no-such-cable"]})
    assert r.status_code == 400
    key = op.post("/v1/network/cuts", json={"cables": ["tonga-cable"]}).json()["key"]
    assert op.delete(f"/v1/network/cuts/{key}").status_code == 202


def test_tokens_are_created_by_admins_and_revoked_at_once(live: Live) -> None:
    admin = live.client("admin")
    r = admin.post("/v1/tokens", json={"principal": "tenant-09", "role": "tenant"})
    assert r.status_code == 201
    token, token_id = r.json()["token"], r.json()["info"]["id"]
    new = httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {token}"})
    assert new.get("/v1/whoami").json()["principal"] == "tenant-09"
    assert (
        live.client("alice")
        .post("/v1/tokens", json={"principal": "x", "role": "admin"})
        .status_code
        == 403
    )
    assert new.delete(f"/v1/tokens/{token_id}").status_code == 202  # its own
    assert new.get("/v1/whoami").status_code == 401


def test_every_state_changing_call_is_audited_in_an_intact_chain(live: Live) -> None:
    alice = live.client("alice")
    alice.post("/v1/tasks", json=task_json("tenant-01"))
    live.client("bob").post("/v1/tasks", json=task_json("tenant-01"))  # refused
    live.client("operator").post("/v1/network/cuts", json={"cables": ["tonga-cable"]})
    audit = AuditLog(live.store)
    rows = audit.rows(limit=100)
    outcomes = {(r["principal"], r["action"], r["outcome"]) for r in rows}
    assert ("tenant-01", "tasks.submit", "accepted") in outcomes
    assert ("tenant-02", "tasks.submit", "forbidden") in outcomes
    assert ("noc", "network.cut", "accepted") in outcomes
    assert all(r["source"] == "127.0.0.1" for r in rows)
    assert audit.verify() == []


def test_metrics_are_for_operators(live: Live) -> None:
    assert live.client("alice").get("/metrics").status_code == 403
    r = live.client("operator").get("/metrics")
    assert r.status_code == 200
    assert "suanwang_tasks" in r.text


def test_the_docs_work_offline(live: Live) -> None:
    for path in ("/docs", "/redoc"):
        r = live.client(None).get(path)
        assert r.status_code == 200
        assert "cdn" not in r.text.lower()
    spec = live.client(None).get("/openapi.json").json()
    assert "/v1/tasks" in spec["paths"]


def test_money_reads_are_the_tenants_own(live: Live) -> None:
    alice, bob = live.client("alice"), live.client("bob")
    task = alice.post("/v1/tasks", json=task_json("tenant-01")).json()["id"]
    for _ in range(30):
        live.runtime.tick()
        if alice.get(f"/v1/tasks/{task}").json()["state"] in ("succeeded", "queued"):
            break
        time.sleep(0.05)
    bal = alice.get("/v1/balance").json()
    assert bal["tenant"] == "tenant-01"
    assert bal["currency"] == "USD"
    assert 0 < bal["balance_micros"] <= 10_000_000_000  # the starting credit, less what ran
    leases = alice.get("/v1/leases").json()
    assert [x["task"] for x in leases] == [task]
    assert leases[0]["state"] == "closed"
    assert bob.get("/v1/leases").json() == []
    assert bob.get(f"/v1/leases/{leases[0]['id']}").status_code == 404
    assert live.client("operator").get(f"/v1/leases/{leases[0]['id']}").status_code == 200
    assert bob.get("/v1/balance", params={"tenant": "tenant-01"}).json()["tenant"] == "tenant-02"


def test_quotes_paths_and_energy_signals(live: Live) -> None:
    alice = live.client("alice")
    r = alice.post("/v1/market/quote", json={"tasks": [task_json("tenant-01")], "top": 2})
    assert r.status_code == 200, r.text
    q = r.json()[0]
    assert len(q["offers"]) <= 2
    p = alice.get("/v1/network/path", params={"src": "cn-beijing", "dst": "de-frankfurt"})
    assert p.status_code == 200
    assert p.json()["rtt_ms"] == 2 * p.json()["one_way_ms"]
    assert (
        alice.get("/v1/network/path", params={"src": "cn-beijing", "dst": "nowhere"}).status_code
        == 404
    )
    e = alice.get("/v1/energy/sites/cn-zhongwei", params={"hours": 6}).json()
    assert len(e["hours"]) == 6
    assert e["zone"]
