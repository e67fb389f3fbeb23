"""The operations routes of the API against a live server (uvicorn on 127.0.0.1) over a real
SQLite store and a runtime: latency circles, the cost map, energy windows, placement
explanations, lease statements, compute vouchers, sites declared down and up.

Every answer is checked against the core function the route calls, computed here directly;
another tenant's task, lease or voucher answers exactly like an unknown id; bad input is a
4xx naming the field and changes nothing; every state-changing call is audited. The runtime
runs on a clock the tests move (a minute per tick) and the simulated backend on the same
clock, so a task runs for a known number of ticks and is billed for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select

from suanwang.api.app import ApiSettings, create_app
from suanwang.api.audit import AuditLog
from suanwang.api.tokens import TokenStore
from suanwang.control.backends.registry import make_backends
from suanwang.control.config import ControlConfig, SimOptions
from suanwang.control.metrics import Metrics
from suanwang.control.runtime import Runtime
from suanwang.control.service import ControlService
from suanwang.control.store import Store, open_store
from suanwang.control.store.schema import InboxRow
from suanwang.core.access import Role
from suanwang.core.energy.clock import epoch_hour
from suanwang.core.energy.signals import builtin_book
from suanwang.core.energy.windows import find_windows
from suanwang.core.market.settlement import Market, tenant_account
from suanwang.core.network.circles import circles
from suanwang.core.network.engine import Network
from suanwang.core.scheduling.explain import explain, why_not
from suanwang.core.scheduling.framework import Profile
from suanwang.core.scheduling.snapshot import Snapshot
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.tasks import LatencyMode, TaskSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world.builtin import load_builtin_world

WORLD = load_builtin_world()
CENTRE = "cn-shenzhen"  # a site with neighbours in each of its 1, 5 and 20 ms rings
CREDIT = ControlConfig().tenant_credit_micros
TICK = timedelta(minutes=1)


class Clock:
    """The runtime's (and the simulated backend's) time: moved by the tests."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()


@dataclass
class Live:
    url: str
    store: Store
    tmp: Path
    clock: Clock
    runtimes: list[Runtime | None]
    tokens: dict[str, str]

    @property
    def runtime(self) -> Runtime:
        rt = self.runtimes[0]
        assert rt is not None
        return rt

    @property
    def market(self) -> Market:
        return self.runtime.journal.market

    def client(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def start_runtime(self) -> Runtime:
        """A runtime over the store (a fresh one is a restart: it recovers from the store)."""
        # a task hour is a task hour on the moved clock: a 15-minute task runs 15 ticks
        cfg = ControlConfig(backends={"sim": SimOptions(kind="sim", time_scale=1.0)})
        backends = make_backends(cfg, [s.id for s in WORLD.sites], self.tmp, clock=self.clock.epoch)
        rt = Runtime(
            self.store,
            cfg,
            WORLD,
            UNIT_TABLE,
            backends,
            data_dir=self.tmp,
            clock=self.clock,
            metrics=Metrics(),
        )
        rt.recover()
        self.runtimes[0] = rt
        return rt

    def tick(self, n: int = 1) -> None:
        for _ in range(n):
            self.clock.now += TICK
            self.runtime.tick()

    def run_until(self, task: str, *states: str, ticks: int = 200) -> str:
        service = ControlService(self.store)
        for _ in range(ticks):
            self.tick()
            state = service.get(task).state
            if state in states:
                return state
        raise AssertionError(f"{task} is still {service.get(task).state}")

    def inbox(self, kind: str) -> int:
        with self.store.sessions() as s:
            return int(
                s.scalar(select(func.count()).select_from(InboxRow).where(InboxRow.kind == kind))
                or 0
            )


@pytest.fixture
def live(tmp_path: Path, serve_app: Callable[[Any], str]) -> Iterator[Live]:
    store = open_store(f"sqlite:///{tmp_path / 'store' / 'suanwang.db'}")
    ts = TokenStore(store)
    tokens = {
        "admin": ts.create("root", Role.ADMIN)[1],
        "operator": ts.create("noc", Role.OPERATOR)[1],
        "alice": ts.create("tenant-01", Role.TENANT)[1],
        "bob": ts.create("tenant-02", Role.TENANT)[1],
        "provider": ts.create("acme", Role.PROVIDER)[1],
    }
    live = Live("", store, tmp_path, Clock(), [None], tokens)
    live.start_runtime()

    def market() -> Market | None:
        rt = live.runtimes[0]
        return rt.journal.market if rt is not None else None

    app = create_app(
        ApiSettings(store=store, world=WORLD, market=market, rate_per_s=1e6, burst=1_000_000)
    )
    live.url = serve_app(app)
    try:
        yield live
    finally:
        store.close()


def task_json(tenant: str, seed: int = 1) -> dict[str, Any]:
    spec = generate_tasks(WORLD, 1, np.random.default_rng(seed), start=datetime.now(UTC))[0]
    return spec.model_copy(update={"tenant": tenant}).model_dump(mode="json")


def error(r: httpx.Response, status: int) -> dict[str, Any]:
    """The JSON error document of a ``status`` answer (never a stack trace)."""
    assert r.status_code == status, (r.status_code, r.text)
    assert "Traceback" not in r.text
    body = r.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "field"}, body
    return dict(body["error"])


def audited(live: Live) -> set[tuple[str, str, str, str]]:
    """(principal, action, target, outcome) of every audited call."""
    return {
        (r["principal"], r["action"], r["target"], r["outcome"])
        for r in AuditLog(live.store).rows(limit=1000)
    }


# --- latency circles -------------------------------------------------------------------------
def test_latency_circles_are_the_core_rings_one_way_or_round_trip(live: Live) -> None:
    want = circles(Network.from_world(WORLD), CENTRE, (1.0, 5.0, 20.0))
    alice = live.client("alice")
    for rtt, mode in ((False, LatencyMode.ONE_WAY), (True, LatencyMode.ROUND_TRIP)):
        r = alice.get(f"/v1/network/circles/{CENTRE}", params={"rtt": rtt})
        assert r.status_code == 200, r.text
        got = r.json()
        assert (got["site"], got["mode"]) == (CENTRE, mode.value)
        expected = [
            {"within_ms": ring.within_ms, "sites": [m.model_dump() for m in ring.sites]}
            for ring in want.rings
            if ring.mode is mode
        ]
        assert got["rings"] == expected
    one_way = alice.get(f"/v1/network/circles/{CENTRE}").json()["rings"]
    assert [len(x["sites"]) for x in one_way] == [2, 4, 28]  # the city, the region, the hubs
    assert all(
        m["rtt_ms"] == pytest.approx(2 * m["one_way_ms"], abs=1e-3) for m in one_way[-1]["sites"]
    )


def test_latency_circles_take_any_radii_sorted_and_unique(live: Live) -> None:
    r = live.client("bob").get(f"/v1/network/circles/{CENTRE}", params={"rings": "20, 2.5,20"})
    assert r.status_code == 200, r.text
    want = circles(Network.from_world(WORLD), CENTRE, (2.5, 20.0))
    assert [x["within_ms"] for x in r.json()["rings"]] == [2.5, 20.0]
    assert [len(x["sites"]) for x in r.json()["rings"]] == [
        len(ring.sites) for ring in want.rings if ring.mode is LatencyMode.ONE_WAY
    ]


@pytest.mark.parametrize(
    "rings", ["0", "-1,5", "abc", "nan", "inf", "1001", ",", "1,2,3,4,5,6,7,8,9,10,11"]
)
def test_bad_ring_radii_are_a_422_naming_rings(live: Live, rings: str) -> None:
    r = live.client("alice").get(f"/v1/network/circles/{CENTRE}", params={"rings": rings})
    assert error(r, 422)["field"] == "rings"


def test_circles_around_an_unknown_site_are_a_404_naming_the_site(live: Live) -> None:
    err = error(live.client("alice").get("/v1/network/circles/nowhere"), 404)
    assert err["field"] == "site"
    assert "nowhere" in err["message"]


# --- the cost map ----------------------------------------------------------------------------
def test_the_cost_map_of_named_sites_is_the_core_matrix(live: Live) -> None:
    names = ["cn-beijing", "de-frankfurt", CENTRE]
    cm = Network.from_world(WORLD).cost_map()
    r = live.client("alice").get("/v1/network/costmap", params={"sites": ",".join(names)})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["rows"] == got["columns"] == names
    assert got["total_sites"] == len(WORLD.sites)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            ia, ib = cm.index(a), cm.index(b)
            assert got["one_way_ms"][i][j] == round(float(cm.one_way_ms[ia, ib]), 3)
            assert got["price_per_gb_micros"][i][j] == round(
                float(cm.price_per_gb_micros[ia, ib]), 3
            )
    assert [got["one_way_ms"][i][i] for i in range(3)] == [0.0, 0.0, 0.0]
    assert got["one_way_ms"][0][1] > 50  # Beijing to Frankfurt


def test_the_whole_cost_map_comes_in_pages_of_rows_against_every_site(live: Live) -> None:
    alice = live.client("alice")
    first = alice.get("/v1/network/costmap")
    assert first.status_code == 200
    page = first.json()
    ids = sorted(s.id for s in WORLD.sites)
    assert page["columns"] == list(Network.from_world(WORLD).cost_map().sites)
    assert sorted(page["columns"]) == ids
    assert len(page["rows"]) == 50
    assert len(first.content) < 150_000  # 50 rows of 129 sites; the whole map is ~290 kB
    rows: list[str] = []
    for offset in range(0, len(ids), 50):
        got = alice.get("/v1/network/costmap", params={"offset": offset}).json()
        assert got["offset"] == offset
        assert all(len(row) == len(ids) for row in got["one_way_ms"])
        rows += got["rows"]
    assert rows == page["columns"]
    assert alice.get("/v1/network/costmap", params={"offset": 10_000}).json()["rows"] == []


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"sites": "cn-beijing,nowhere"}, 404, "sites"),
        ({"sites": " , "}, 422, "sites"),
        ({"sites": ",".join(["cn-beijing"] * 2 + [f"x{i}" for i in range(100)])}, 422, "sites"),
        ({"sites": ",".join(s.id for s in WORLD.sites)}, 422, "sites"),  # too long
        ({"limit": 0}, 422, "limit"),
        ({"limit": 201}, 422, "limit"),
        ({"offset": -1}, 422, "offset"),
    ],
)
def test_bad_cost_map_queries_name_the_field(
    live: Live, params: dict[str, Any], status: int, field: str
) -> None:
    assert (
        error(live.client("alice").get("/v1/network/costmap", params=params), status)["field"]
        == field
    )


# --- energy windows --------------------------------------------------------------------------
def test_energy_windows_are_find_windows_on_the_sites_grid_zone(live: Live) -> None:
    site = WORLD.site("cn-zhongwei")
    r = live.client("provider").get(
        "/v1/energy/windows", params={"site": site.id, "hours": 48, "duration_h": 6}
    )
    assert r.status_code == 200, r.text
    got = r.json()
    start = datetime.fromisoformat(got["start"].replace("Z", "+00:00"))
    want = find_windows(builtin_book(WORLD), site.grid_zone, epoch_hour(start), 48, block_hours=6)
    assert got == {"site": site.id, **want.model_dump(mode="json")}
    assert got["zone"] == site.grid_zone
    assert got["greenest"]["hours"] == got["cheapest"]["hours"] == 6
    assert abs((start - datetime.now(UTC)).total_seconds()) <= 3600


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({}, 422, "site"),
        ({"site": "nowhere"}, 404, "site"),
        ({"site": "cn-zhongwei", "hours": 0}, 422, "hours"),
        ({"site": "cn-zhongwei", "hours": 169}, 422, "hours"),
        ({"site": "cn-zhongwei", "duration_h": 0}, 422, "duration_h"),
        ({"site": "cn-zhongwei", "percentile": 100}, 422, "percentile"),
    ],
)
def test_bad_energy_window_queries_name_the_field(
    live: Live, params: dict[str, Any], status: int, field: str
) -> None:
    r = live.client("alice").get("/v1/energy/windows", params=params)
    assert error(r, status)["field"] == field


# --- placement explanations ------------------------------------------------------------------
def expected_explanation(spec: TaskSpec, hour: str, mode: str = "balanced") -> dict[str, Any]:
    at = datetime.fromisoformat(hour.replace("Z", "+00:00"))
    snap = Snapshot.build(WORLD, UNIT_TABLE, epoch_hour(at))
    return explain(spec, snap, Profile.for_mode(mode)).model_dump(mode="json")


def test_a_tasks_explanation_is_the_core_one_before_and_after_the_runtime_takes_it(
    live: Live,
) -> None:
    alice = live.client("alice")
    body = task_json("tenant-01", 1)
    task = alice.post("/v1/tasks", json=body).json()["id"]
    spec = TaskSpec.model_validate(body)
    waiting = alice.get(f"/v1/tasks/{task}/explain")  # still in the inbox
    assert waiting.status_code == 200, waiting.text
    got = waiting.json()
    assert got["task"] == task
    assert got["why_not"] is None
    assert got["explanation"] == expected_explanation(spec, got["hour"])
    assert got["explanation"]["chosen"] is not None
    assert got["explanation"]["feasible_sites"] > 1
    live.tick()
    taken = alice.get(f"/v1/tasks/{task}/explain", params={"mode": "cost"}).json()
    assert taken["explanation"] == expected_explanation(spec, taken["hour"], "cost")
    assert taken["explanation"]["mode"] == "cost"
    assert live.client("operator").get(f"/v1/tasks/{task}/explain").status_code == 200


def test_asked_about_a_site_the_explanation_says_why_not_in_one_line(live: Live) -> None:
    alice = live.client("alice")
    body = task_json("tenant-01", 1)
    spec = TaskSpec.model_validate(body)
    task = alice.post("/v1/tasks", json=body).json()["id"]
    got = alice.get(f"/v1/tasks/{task}/explain", params={"site": "ar-buenos-aires"}).json()
    at = datetime.fromisoformat(got["hour"].replace("Z", "+00:00"))
    snap = Snapshot.build(WORLD, UNIT_TABLE, epoch_hour(at))
    assert got["why_not"] == why_not(spec, "ar-buenos-aires", snap)
    assert got["why_not"].startswith("ar-buenos-aires cannot take")
    assert "latency-sla" in got["why_not"]
    err = error(alice.get(f"/v1/tasks/{task}/explain", params={"site": "nowhere"}), 404)
    assert err["field"] == "site"
    assert (
        error(alice.get(f"/v1/tasks/{task}/explain", params={"mode": "fast"}), 422)["field"]
        == "mode"
    )


def test_another_tenants_task_explanation_answers_like_an_unknown_task(live: Live) -> None:
    task = live.client("alice").post("/v1/tasks", json=task_json("tenant-01")).json()["id"]
    bob = live.client("bob")
    theirs = error(bob.get(f"/v1/tasks/{task}/explain", params={"site": "nowhere"}), 404)
    unknown = error(bob.get("/v1/tasks/t-0000000000000000/explain"), 404)
    assert theirs["message"].replace(task, "<id>") == unknown["message"].replace(
        "t-0000000000000000", "<id>"
    )
    assert theirs["field"] == unknown["field"]
    assert error(live.client("provider").get(f"/v1/tasks/{task}/explain"), 403)


def test_a_spec_is_explained_without_submitting_it(live: Live) -> None:
    body = task_json("tenant-02", 3)
    r = live.client("bob").post("/v1/market/explain", json={"task": body, "mode": "latency"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["task"] == body["name"]
    assert got["explanation"] == expected_explanation(
        TaskSpec.model_validate(body), got["hour"], "latency"
    )
    assert live.inbox("submit") == 0  # nothing was submitted
    r = live.client("bob").post("/v1/market/explain", json={"task": body, "surprise": 1})
    assert error(r, 422)["field"] == "surprise"
    r = live.client("bob").post("/v1/market/explain", json={"task": {**body, "duration_hours": -1}})
    assert error(r, 422)["field"] == "task.duration_hours"
    assert error(live.client("provider").post("/v1/market/explain", json={"task": body}), 403)


# --- lease statements ------------------------------------------------------------------------
def test_a_leases_statements_are_the_markets_and_only_its_tenant_sees_them(live: Live) -> None:
    alice = live.client("alice")
    task = alice.post("/v1/tasks", json=task_json("tenant-01")).json()["id"]
    assert live.run_until(task, "succeeded") == "succeeded"
    lease = live.market.leases[f"{task}.1"]
    r = alice.get(f"/v1/leases/{lease.id}/statements")
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["lease"], got["tenant"], got["currency"]) == (lease.id, "tenant-01", "USD")
    assert len(got["statements"]) == len(lease.statements) >= 10  # a 15-minute task, metered
    for view, st in zip(got["statements"], lease.statements, strict=True):
        assert view["seq"] == st.seq
        assert view["usage_micros"] == st.usage_micros
        assert view["paid_cum_micros"] == st.paid_cum_micros
        start = datetime.fromisoformat(view["period_start"].replace("Z", "+00:00"))
        assert start.timestamp() == st.period_start
    assert got["statements"][-1]["paid_cum_micros"] == lease.paid_cum_micros > 0
    assert sum(s["usage_micros"] + s["correction_micros"] for s in got["statements"]) == (
        lease.statements[-1].due_cum_micros
    )
    assert alice.get("/v1/leases").json()[0]["statements"] == len(got["statements"])
    bob = live.client("bob")
    theirs = error(bob.get(f"/v1/leases/{lease.id}/statements"), 404)
    unknown = error(bob.get("/v1/leases/t-0000000000000000.1/statements"), 404)
    assert theirs["message"].replace(lease.id, "<id>") == unknown["message"].replace(
        "t-0000000000000000.1", "<id>"
    )
    assert live.client("operator").get(f"/v1/leases/{lease.id}/statements").status_code == 200


def test_money_routes_answer_503_without_a_runtime_in_the_process(live: Live) -> None:
    live.runtimes[0] = None
    alice = live.client("alice")
    assert error(alice.get("/v1/vouchers"), 503)["code"] == "unavailable"
    assert error(alice.get("/v1/leases/x/statements"), 503)["code"] == "unavailable"


# --- vouchers --------------------------------------------------------------------------------
def grant(live: Live, **body: Any) -> str:
    r = live.client("operator").post("/v1/vouchers", json={"tenant": "tenant-01", **body})
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def test_a_voucher_granted_through_the_api_is_in_the_market_after_the_next_tick(
    live: Live,
) -> None:
    vid = grant(live, amount_micros=5_000_000, share_bps=2500, classes=["ai"], valid_days=30)
    alice = live.client("alice")
    assert alice.get("/v1/vouchers").json() == []  # queued, not granted yet
    assert vid not in live.market.vouchers
    live.tick()
    mine = alice.get("/v1/vouchers").json()
    assert [v["id"] for v in mine] == [vid]
    v = mine[0]
    assert (v["tenant"], v["grant_micros"], v["balance_micros"]) == (
        "tenant-01",
        5_000_000,
        5_000_000,
    )
    assert (v["share_bps"], v["classes"], v["currency"], v["expired"]) == (
        2500,
        ["ai"],
        "USD",
        False,
    )
    assert v["issuer"] == "operator:noc"
    issued = datetime.fromisoformat(v["issued_at"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(v["expires_at"].replace("Z", "+00:00"))
    assert issued == live.clock.now
    assert expires - issued == timedelta(days=30)
    core = live.market.vouchers[vid]
    assert live.market.ledger.balance(core.account) == 5_000_000
    assert alice.get(f"/v1/vouchers/{vid}").json() == v
    assert ("noc", "vouchers.grant", vid, "accepted") in audited(live)
    # the tenant had never submitted: it is added with its starting credit, as a submission would
    assert alice.get("/v1/balance").json()["balance_micros"] == CREDIT


def test_another_tenants_voucher_is_invisible_and_operators_see_every_one(live: Live) -> None:
    vid = grant(live, amount_micros=1_000_000)
    live.tick()
    bob = live.client("bob")
    assert bob.get("/v1/vouchers").json() == []
    assert bob.get("/v1/vouchers", params={"tenant": "tenant-01"}).json() == []
    theirs = error(bob.get(f"/v1/vouchers/{vid}"), 404)
    unknown = error(bob.get("/v1/vouchers/grant-0000000000000000.tenant-01"), 404)
    assert theirs["message"].replace(vid, "<id>") == unknown["message"].replace(
        "grant-0000000000000000.tenant-01", "<id>"
    )
    op = live.client("operator")
    assert [v["id"] for v in op.get("/v1/vouchers").json()] == [vid]
    assert [v["id"] for v in op.get("/v1/vouchers", params={"tenant": "tenant-01"}).json()] == [vid]
    assert op.get("/v1/vouchers", params={"tenant": "tenant-02"}).json() == []
    assert op.get(f"/v1/vouchers/{vid}").status_code == 200
    assert error(live.client("provider").get("/v1/vouchers"), 403)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount_micros": 0}, "amount_micros"),
        ({"amount_micros": -5}, "amount_micros"),
        ({"amount_micros": 10**13}, "amount_micros"),
        ({"amount_micros": "lots"}, "amount_micros"),
        ({"amount_micros": 1, "share_bps": 0}, "share_bps"),
        ({"amount_micros": 1, "share_bps": 10_001}, "share_bps"),
        ({"amount_micros": 1, "classes": ["quantum"]}, "classes.0"),
        ({"amount_micros": 1, "valid_days": 0}, "valid_days"),
        ({"amount_micros": 1, "valid_days": -30}, "valid_days"),
        ({"amount_micros": 1, "tenant": "Tenant_01"}, "tenant"),
        ({"amount_micros": 1, "tenant": ""}, "tenant"),
        ({"amount_micros": 1, "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"tenant": "tenant-01"}, "amount_micros"),
    ],
)
def test_a_bad_voucher_grant_is_a_422_naming_the_field_and_grants_nothing(
    live: Live, body: dict[str, Any], field: str
) -> None:
    r = live.client("admin").post("/v1/vouchers", json={"tenant": "tenant-01", **body})
    assert error(r, 422)["field"] == field
    live.tick()
    assert live.inbox("voucher") == 0
    assert live.market.vouchers == {}


def test_tenants_may_not_grant_vouchers_and_the_refusal_is_audited(live: Live) -> None:
    r = live.client("alice").post("/v1/vouchers", json={"tenant": "tenant-01", "amount_micros": 1})
    assert error(r, 403)["code"] == "forbidden"
    assert ("tenant-01", "vouchers.grant", "/v1/vouchers", "forbidden") in audited(live)
    assert live.inbox("voucher") == 0


@pytest.mark.parametrize("share_bps", [5000, 10_000])
def test_a_voucher_pays_its_share_of_the_tenants_next_task(live: Live, share_bps: int) -> None:
    vid = grant(live, amount_micros=50_000_000, share_bps=share_bps)
    live.tick()
    alice = live.client("alice")
    task = alice.post("/v1/tasks", json=task_json("tenant-01")).json()["id"]
    assert live.run_until(task, "succeeded") == "succeeded"
    lease = live.market.leases[f"{task}.1"]
    assert lease.paid_cum_micros > 0
    voucher = alice.get(f"/v1/vouchers/{vid}").json()
    from_voucher = 50_000_000 - voucher["balance_micros"]
    from_cash = CREDIT - alice.get("/v1/balance").json()["balance_micros"]
    assert from_voucher + from_cash == lease.paid_cum_micros
    assert from_voucher == lease.paid_cum_micros * share_bps // 10_000
    assert live.market.balance("tenant-01") == CREDIT - from_cash


def test_a_granted_voucher_survives_a_runtime_restart(live: Live) -> None:
    vid = grant(live, amount_micros=50_000_000)
    live.tick()
    task = live.client("alice").post("/v1/tasks", json=task_json("tenant-01")).json()["id"]
    live.run_until(task, "succeeded")
    alice = live.client("alice")
    before = alice.get(f"/v1/vouchers/{vid}").json()
    assert 0 < before["balance_micros"] < 50_000_000
    old = live.runtime
    live.start_runtime()  # recover: replays the market journal and checks the ledger
    assert live.runtime is not old
    assert live.market.vouchers[vid] == old.journal.market.vouchers[vid]
    assert live.market.programs == old.journal.market.programs
    assert alice.get(f"/v1/vouchers/{vid}").json() == before
    assert alice.get("/v1/balance").json()["balance_micros"] == old.journal.market.balance(
        "tenant-01"
    )
    assert live.market.ledger.balance(tenant_account("tenant-01")) == old.journal.market.balance(
        "tenant-01"
    )
    # and it still pays: the next task draws on it again
    task = alice.post("/v1/tasks", json=task_json("tenant-01", 2)).json()["id"]
    live.run_until(task, "running")  # its lease is funded, half from the voucher
    assert alice.get(f"/v1/vouchers/{vid}").json()["balance_micros"] < before["balance_micros"]


# --- sites down and up -----------------------------------------------------------------------
def test_operators_declare_a_site_down_and_up(live: Live) -> None:
    op = live.client("operator")
    site = "cn-zhongwei"
    r = op.post(f"/v1/sites/{site}/down")
    assert r.status_code == 202, r.text
    assert r.json()["site"] == site
    service = ControlService(live.store)
    live.tick()
    assert service.sites_down() == [site]
    assert site in live.runtime.down
    assert op.post(f"/v1/sites/{site}/up").status_code == 202
    live.tick()
    assert service.sites_down() == []
    assert site not in live.runtime.down
    seen = audited(live)
    assert ("noc", "sites.down", site, "accepted") in seen
    assert ("noc", "sites.up", site, "accepted") in seen


def test_an_unknown_site_is_a_404_naming_the_site_audited_and_nothing_queued(live: Live) -> None:
    for verb in ("down", "up"):
        err = error(live.client("admin").post(f"/v1/sites/nowhere/{verb}"), 404)
        assert err["field"] == "site"
        assert ("root", f"sites.{verb}", "nowhere", "rejected") in audited(live)
    assert live.inbox("site_down") == live.inbox("site_up") == 0


@pytest.mark.parametrize("who", ["alice", "provider"])
def test_tenants_and_providers_may_not_declare_sites_down(live: Live, who: str) -> None:
    site = WORLD.sites[0].id
    for verb in ("down", "up"):
        assert error(live.client(who).post(f"/v1/sites/{site}/{verb}"), 403)["code"] == "forbidden"
    rows = [r for r in AuditLog(live.store).rows(limit=100) if r["action"] == "sites.down"]
    assert [r["outcome"] for r in rows] == ["forbidden", "forbidden"]
    assert live.inbox("site_down") == live.inbox("site_up") == 0


# --- found on the way (outside these routes) ---------------------------------------------------
def test_registering_a_site_with_a_long_id_is_not_a_server_error(live: Live) -> None:
    body = WORLD.sites[0].model_dump(mode="json", exclude={"id", "source"})
    r = live.client("admin").put(f"/v1/sites/{'a' * 80}", json=body)
    assert r.status_code == 201, r.text
    assert all(len(link) <= 80 for link in r.json()["links"])
