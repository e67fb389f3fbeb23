"""Providers joining the grid through the API (算力并网), against a live server and a runtime
on SQLite and PostgreSQL: a provider registers a site, it becomes the owner, the runtime runs
work there at the provider's prices; heartbeats set the devices online; a provider cannot
touch another's site; bad registrations are refused with the field named and change nothing.
"""

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
from suanwang.control.runtime import Runtime
from suanwang.control.site_registry import SiteRegistry
from suanwang.control.store import Store, open_store
from suanwang.core.access import Role
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.tasks import DataClass
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world.builtin import load_builtin_world

WORLD = load_builtin_world()
SHANGHAI = next(s for s in WORLD.sites if s.country == "CN")

#: A new data centre in Nairobi with one CPU pool and one AI pool, and a private
#: jurisdiction tag so a task can ask for it alone.
NAIROBI: dict[str, Any] = {
    "name": "Acme Nairobi DC1",
    "city": "Nairobi",
    "country": "KE",
    "lat": -1.29,
    "lon": 36.82,
    "kind": "region",
    "pools": [
        {
            "compute_class": "general",
            "model": "amd-epyc-9654",
            "count": 512,
            "price_per_unit_hour_micros": 12_000,
        }
    ],
    "pue": 1.3,
    "grid_zone": "KE",
    "jurisdiction": ["KE", "acme-private"],
}


@dataclass
class Live:
    url: str
    store: Store
    runtime: Runtime
    tokens: dict[str, str]

    def client(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def registry(self) -> SiteRegistry:
        return SiteRegistry(self.store, WORLD)


@pytest.fixture
def live(store_url: str, tmp_path: Path, serve_app: Callable[[Any], str]) -> Iterator[Live]:
    store = open_store(store_url)
    cfg = ControlConfig(backends={"sim": SimOptions(kind="sim", time_scale=3600.0 * 3600)})
    backends = make_backends(cfg, [s.id for s in WORLD.sites], tmp_path)
    rt = Runtime(store, cfg, WORLD, UNIT_TABLE, backends, data_dir=tmp_path)
    rt.recover()
    ts = TokenStore(store)
    tokens = {
        "admin": ts.create("root", Role.ADMIN)[1],
        "acme": ts.create("acme", Role.PROVIDER)[1],
        "globex": ts.create("globex", Role.PROVIDER)[1],
        "alice": ts.create("tenant-01", Role.TENANT)[1],
    }
    app = create_app(ApiSettings(store=store, world=WORLD, market=lambda: rt.journal.market))
    try:
        yield Live(serve_app(app), store, rt, tokens)
    finally:
        store.close()


def private_task(seed: int = 1) -> dict[str, Any]:
    """A small CPU task that only a site tagged ``acme-private`` may run."""
    spec = generate_tasks(WORLD, 50, np.random.default_rng(seed), start=datetime.now(UTC))
    cpu = next(t for t in spec if t.demand.compute_class == "general" and t.latency_sla is None)
    return cpu.model_copy(
        update={
            "tenant": "tenant-01",
            "residency": ("acme-private",),
            "input": None,
            "deadline": None,
            "budget_micros": None,
            "forbidden_transit": (),
            "data_class": DataClass.PUBLIC,
        }
    ).model_dump(mode="json")


def run_until(live: Live, alice: httpx.Client, task: str, states: set[str]) -> str:
    state = ""
    for _ in range(80):
        live.runtime.tick()
        state = alice.get(f"/v1/tasks/{task}").json()["state"]
        if state in states:
            break
        time.sleep(0.02)
    return state


def test_a_provider_registers_a_site_and_work_runs_there_at_its_price(live: Live) -> None:
    acme, alice = live.client("acme"), live.client("alice")
    r = acme.put("/v1/sites/ke-acme-nairobi", json=NAIROBI)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["created"] is True
    assert body["site"]["owner"] == "acme"
    assert body["site"]["operator"] == "acme"
    # linked to the nearest Kenyan site (or the nearest site anywhere)
    assert body["links"], body
    listed = {s["id"]: s for s in alice.get("/v1/sites").json()}
    assert listed["ke-acme-nairobi"]["pools"][0]["price_per_unit_hour_micros"] == 12_000
    path = alice.get(
        "/v1/network/path", params={"src": "ke-acme-nairobi", "dst": SHANGHAI.id}
    ).json()
    assert path["nodes"][0] == "ke-acme-nairobi"
    assert path["one_way_ms"] > 0

    r = alice.post("/v1/tasks", json=private_task())
    assert r.status_code == 202, r.text
    task = r.json()["id"]
    assert run_until(live, alice, task, {"succeeded", "failed"}) == "succeeded"
    view = alice.get(f"/v1/tasks/{task}").json()
    assert view["site"] == "ke-acme-nairobi"
    lease = live.runtime.journal.market.leases[f"{task}.1"]
    assert lease.terms.site == "ke-acme-nairobi"
    assert lease.terms.price_micros_per_unit_hour == 12_000
    # the audit log says who registered the site
    rows = [r for r in AuditLog(live.store).rows() if r["action"] == "sites.register"]
    assert [(r["principal"], r["target"], r["outcome"]) for r in rows] == [
        ("acme", "ke-acme-nairobi", "created")
    ]


def test_a_price_change_reaches_new_leases(live: Live) -> None:
    acme, alice = live.client("acme"), live.client("alice")
    assert acme.put("/v1/sites/ke-acme-nairobi", json=NAIROBI).status_code == 201
    r = acme.patch(
        "/v1/sites/ke-acme-nairobi/pools",
        json={"pools": [{"index": 0, "price_per_unit_hour_micros": 9_000}]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["pools"][0]["price_per_unit_hour_micros"] == 9_000
    task = alice.post("/v1/tasks", json=private_task(2)).json()["id"]
    assert run_until(live, alice, task, {"succeeded", "failed"}) == "succeeded", str(
        alice.get(f"/v1/tasks/{task}").json()
    )
    assert live.runtime.journal.market.leases[f"{task}.1"].terms.price_micros_per_unit_hour == 9000


def test_heartbeats_set_the_devices_online(live: Live) -> None:
    acme, alice = live.client("acme"), live.client("alice")
    assert acme.put("/v1/sites/ke-acme-nairobi", json=NAIROBI).status_code == 201
    r = acme.post(
        "/v1/sites/ke-acme-nairobi/heartbeat",
        json={"online": [0], "metrics": {"utilisation": 0.97}, "agent": "test/1"},
    )
    assert r.status_code == 202, r.text
    assert r.json()["every_s"] > 0
    site = alice.get("/v1/sites/ke-acme-nairobi").json()
    assert site["heartbeat"]["online"] == [0]
    assert site["heartbeat"]["metrics"] == {"utilisation": 0.97}
    # nothing online: the private task waits
    task = alice.post("/v1/tasks", json=private_task(3)).json()["id"]
    assert run_until(live, alice, task, {"succeeded"}) == "queued"
    # devices come back: it runs
    acme.post("/v1/sites/ke-acme-nairobi/heartbeat", json={"online": [512]})
    assert run_until(live, alice, task, {"succeeded"}) == "succeeded"
    # a capacity change is audited, a plain beat is not
    beats = [r["outcome"] for r in AuditLog(live.store).rows() if r["action"] == "sites.heartbeat"]
    assert beats == ["capacity", "capacity"]
    acme.post("/v1/sites/ke-acme-nairobi/heartbeat", json={"online": [512]})
    beats = [r["outcome"] for r in AuditLog(live.store).rows() if r["action"] == "sites.heartbeat"]
    assert len(beats) == 2


def test_a_stale_heartbeat_no_longer_limits_capacity(live: Live) -> None:
    """The backend says whether a site is alive; an agent's capacity report expires after
    the grace period, and the site is then used at its registered capacity."""
    acme, alice = live.client("acme"), live.client("alice")
    assert acme.put("/v1/sites/ke-acme-nairobi", json=NAIROBI).status_code == 201
    acme.post("/v1/sites/ke-acme-nairobi/heartbeat", json={"online": [0]})
    task = alice.post("/v1/tasks", json=private_task(4)).json()["id"]
    assert run_until(live, alice, task, {"succeeded"}) == "queued"
    later = timedelta(seconds=live.runtime.config.heartbeat_grace_s + 5)
    live.runtime.clock = lambda: datetime.now(UTC) + later
    for site in live.runtime.sites:  # the backend still answers for every site
        live.runtime.last_seen[site] = live.runtime.clock()
    assert run_until(live, alice, task, {"succeeded"}) == "succeeded"


def test_a_provider_changes_only_its_own_sites(live: Live) -> None:
    acme, globex, admin = live.client("acme"), live.client("globex"), live.client("admin")
    assert acme.put("/v1/sites/ke-acme-nairobi", json=NAIROBI).status_code == 201
    for method, path, body in (
        ("PUT", "/v1/sites/ke-acme-nairobi", NAIROBI),
        ("PATCH", "/v1/sites/ke-acme-nairobi/pools", {"pools": [{"index": 0, "count": 1}]}),
        ("POST", "/v1/sites/ke-acme-nairobi/heartbeat", {"online": [0]}),
        ("POST", f"/v1/sites/{SHANGHAI.id}/heartbeat", {}),  # a built-in site: no owner
    ):
        r = globex.request(method, path, json=body)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["error"]["code"] == "forbidden"
    # an admin hands the built-in site to globex, which may then beat for it
    r = admin.put(f"/v1/sites/{SHANGHAI.id}/owner", json={"provider": "globex"})
    assert r.status_code == 200, r.text
    assert globex.post(f"/v1/sites/{SHANGHAI.id}/heartbeat", json={}).status_code == 202
    # nothing of acme's changed; refusals are audited
    assert live.registry().world().site("ke-acme-nairobi").pools[0].count == 512
    refused = [r for r in AuditLog(live.store).rows() if r["outcome"] == "forbidden"]
    assert {r["principal"] for r in refused} == {"globex"}
    assert len(refused) == 4


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"connect_to": ["no-such-node"]}, 422, "connect_to.0"),
        ({"country": "QQ"}, 422, None),  # not in the country table
        ({"pools": []}, 422, "pools"),
        ({"pue": 0.5}, 422, "pue"),
        ({"lat": 123}, 422, "lat"),
        ({"pools": [{**NAIROBI["pools"][0], "currency": "EUR"}]}, 422, "pools.0.currency"),
    ],
)
def test_a_bad_registration_is_refused_and_changes_nothing(
    live: Live, change: dict[str, Any], status: int, field: str | None
) -> None:
    acme = live.client("acme")
    before = live.registry().fingerprint()
    r = acme.put("/v1/sites/ke-acme-nairobi", json={**NAIROBI, **change})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    if field is not None:
        assert str(error["field"]).endswith(field), error
    assert live.registry().fingerprint() == before
    assert live.registry().owner("ke-acme-nairobi") is None


def test_pools_are_appended_never_removed_and_heartbeats_must_fit_them(live: Live) -> None:
    acme = live.client("acme")
    assert acme.put("/v1/sites/ke-acme-nairobi", json=NAIROBI).status_code == 201
    gpu = next(p for s in WORLD.sites for p in s.pools if p.compute_class == "ai")
    extra = {**NAIROBI, "pools": [*NAIROBI["pools"], gpu.model_dump(mode="json")]}
    r = acme.put("/v1/sites/ke-acme-nairobi", json=extra)
    assert r.status_code == 200, r.text
    assert r.json()["created"] is False
    r = acme.put("/v1/sites/ke-acme-nairobi", json={**NAIROBI, "pools": [extra["pools"][1]]})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "pools"
    for beat, field in (({"online": [1]}, "online"), ({"online": [513, 0]}, "online.0")):
        r = acme.post("/v1/sites/ke-acme-nairobi/heartbeat", json=beat)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == field
    r = acme.patch("/v1/sites/ke-acme-nairobi/pools", json={"pools": [{"index": 7, "count": 3}]})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "pools.0.index"
    assert live.registry().world().site("ke-acme-nairobi").pools[0].count == 512


def test_registered_sites_survive_a_runtime_restart(live: Live, tmp_path: Path) -> None:
    acme, alice = live.client("acme"), live.client("alice")
    assert acme.put("/v1/sites/ke-acme-nairobi", json=NAIROBI).status_code == 201
    task = alice.post("/v1/tasks", json=private_task(5)).json()["id"]
    assert run_until(live, alice, task, {"succeeded"}) == "succeeded"
    cfg = live.runtime.config
    backends = make_backends(cfg, [s.id for s in WORLD.sites], tmp_path)
    again = Runtime(live.store, cfg, WORLD, UNIT_TABLE, backends, data_dir=tmp_path)
    again.recover()
    assert "ke-acme-nairobi" in again.sites
    assert again.engine.tasks[task].site == "ke-acme-nairobi"
