"""What the dashboard draws (``/v1/map``), against a live server and a runtime: the network
now (sites with load and carbon, links with latency and cuts), the digital-divide layer, and
the task table with cost and carbon so far, scoped to the tenant."""

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
from suanwang.api.tokens import TokenStore
from suanwang.control.backends.registry import make_backends
from suanwang.control.config import ControlConfig, SimOptions
from suanwang.control.runtime import Runtime
from suanwang.control.store import open_store
from suanwang.core.access import Role
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world.builtin import load_builtin_world

WORLD = load_builtin_world()


@dataclass
class Live:
    url: str
    runtime: Runtime
    tokens: dict[str, str]

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[who]}"}, timeout=60
        )

    def run(self, ticks: int = 30) -> None:
        for _ in range(ticks):
            self.runtime.tick()
            time.sleep(0.01)


@pytest.fixture
def live(tmp_path: Path, serve_app: Callable[[Any], str]) -> Iterator[Live]:
    store = open_store(f"sqlite:///{tmp_path / 'suanwang.db'}")
    # slow enough that tasks are still running after a few ticks
    cfg = ControlConfig(backends={"sim": SimOptions(kind="sim", time_scale=60.0)})
    backends = make_backends(cfg, [s.id for s in WORLD.sites], tmp_path)
    rt = Runtime(store, cfg, WORLD, UNIT_TABLE, backends, data_dir=tmp_path)
    rt.recover()
    ts = TokenStore(store)
    tokens = {
        "admin": ts.create("root", Role.ADMIN)[1],
        "alice": ts.create("tenant-01", Role.TENANT)[1],
        "bob": ts.create("tenant-02", Role.TENANT)[1],
    }
    app = create_app(
        ApiSettings(
            store=store,
            world=WORLD,
            market=lambda: rt.journal.market,
            load=lambda: rt.site_load,
        )
    )
    try:
        yield Live(serve_app(app), rt, tokens)
    finally:
        store.close()


def submit(client: httpx.Client, tenant: str, n: int, seed: int) -> list[str]:
    specs = generate_tasks(WORLD, n, np.random.default_rng(seed), start=datetime.now(UTC))
    body = {
        "tasks": [s.model_copy(update={"tenant": tenant}).model_dump(mode="json") for s in specs]
    }
    r = client.post("/v1/tasks/batch", json=body)
    assert r.status_code == 202, r.text
    return list(r.json()["ids"])


def test_the_network_now_has_every_site_and_link_with_load_and_carbon(live: Live) -> None:
    alice = live.client("alice")
    submit(alice, "tenant-01", 40, 1)
    live.run(5)
    net = alice.get("/v1/map/network").json()
    assert {s["id"] for s in net["sites"]} == {s.id for s in WORLD.sites}
    assert {link["id"] for link in net["links"]} == {link.id for link in WORLD.links}
    assert not any(link["cut"] for link in net["links"])
    running = {sid: x.running for sid, x in live.runtime.site_load.items() if x.running}
    assert running, "some tasks run after five ticks"
    by_id = {s["id"]: s for s in net["sites"]}
    for sid, n in running.items():
        assert by_id[sid]["running"] == n
        assert by_id[sid]["used_units"] > 0
        assert 0 <= by_id[sid]["load"] <= 1
    for s in net["sites"]:
        assert s["carbon_g_per_kwh"] >= 0
        assert s["capacity_units"] > 0
    nodes = {s.id: (s.lon, s.lat) for s in WORLD.sites} | {
        lp.id: (lp.lon, lp.lat) for lp in WORLD.landing_points
    }
    for link in net["links"][:50]:
        assert [tuple(c) for c in link["coords"]] == [nodes[link["a"]], nodes[link["b"]]]
        assert link["one_way_ms"] > 0


def test_a_cable_cut_shows_on_the_map_and_a_restore_clears_it(live: Live) -> None:
    admin = live.client("admin")
    before = admin.get("/v1/map/network").json()
    tonga = {link["id"] for link in before["links"] if link["cable"] == "tonga-cable"}
    assert tonga
    path = {"src": "to-nukualofa", "dst": "fj-suva"}
    route = admin.get("/v1/network/path", params=path).json()
    assert "cable:tonga-cable" in route["srlgs"]
    key = admin.post("/v1/network/cuts", json={"cables": ["tonga-cable"]}).json()["key"]
    live.run(1)
    # every network read takes the cut in force: paths, circles and the map
    detour = admin.get("/v1/network/path", params=path)
    assert detour.status_code == 404 or (
        "cable:tonga-cable" not in detour.json()["srlgs"]
        and detour.json()["one_way_ms"] > route["one_way_ms"]
    ), detour.text
    after = admin.get("/v1/map/network").json()
    assert {link["id"] for link in after["links"] if link["cut"]} == tonga
    assert after["version"] != before["version"]
    assert [c["key"] for c in after["cuts"]] == [key]
    # Tonga's only cable is cut: the divide layer sees it
    countries = {c["code"]: c for c in admin.get("/v1/map/countries").json()}
    assert admin.delete(f"/v1/network/cuts/{key}").status_code == 202
    live.run(1)
    restored = admin.get("/v1/map/network").json()
    assert not any(link["cut"] for link in restored["links"])
    again = {c["code"]: c for c in admin.get("/v1/map/countries").json()}
    if "TO" in again and again["TO"]["best_ms"] is not None:
        assert countries["TO"]["best_ms"] is None or (
            countries["TO"]["best_ms"] >= again["TO"]["best_ms"]
        )


def test_the_divide_layer_gives_every_country_its_nearest_affordable_site(live: Live) -> None:
    countries = live.client("alice").get("/v1/map/countries").json()
    assert {c["code"] for c in countries} == {c.code for c in WORLD.countries}
    reached = [c for c in countries if c["best_ms"] is not None]
    assert len(reached) > 0.8 * len(countries)
    sites = {s.id for s in WORLD.sites}
    assert all(c["best_site"] in sites and c["best_ms"] > 0 for c in reached)
    low = [c for c in reached if c["income_group"] == "low"]
    high = [c for c in reached if c["income_group"] == "high"]
    assert low
    assert high
    assert np.median([c["best_ms"] for c in low]) > np.median([c["best_ms"] for c in high])


def test_the_task_table_shows_cost_and_carbon_so_far_and_only_ones_own(live: Live) -> None:
    alice, bob = live.client("alice"), live.client("bob")
    mine = set(submit(alice, "tenant-01", 10, 2))
    theirs = set(submit(bob, "tenant-02", 5, 3))
    live.run(5)
    for minute in range(1, 6):  # the runtime meters a running lease once a minute
        later = timedelta(seconds=61 * minute)
        live.runtime.clock = lambda later=later: datetime.now(UTC) + later
        for site in live.runtime.sites:
            live.runtime.last_seen[site] = live.runtime.clock()
        live.run(1)
    rows = alice.get("/v1/map/tasks", params={"limit": 500}).json()
    assert {r["id"] for r in rows} == mine
    assert not ({r["id"] for r in rows} & theirs)
    billed = [r for r in rows if r["cost_micros"] > 0]
    assert billed, rows
    assert all(r["carbon_g"] > 0 and r["energy_kwh"] > 0 for r in billed)
    admin = live.client("admin").get("/v1/map/tasks", params={"limit": 500}).json()
    assert {r["id"] for r in admin} == mine | theirs
