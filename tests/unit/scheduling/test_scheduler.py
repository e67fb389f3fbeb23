"""The batch scheduler: seeded scenarios on the built-in world and the tiny world, and properties
of random batches checked against the task fields and the snapshot, not only the plan's own
``violations``."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from schedkit import (
    CITIES,
    START,
    deadline_in,
    pin,
    random_tasks,
    task,
    tiny_snapshot,
)

from suanwang.core.errors import SuanwangError
from suanwang.core.network.jurisdictions import EEA
from suanwang.core.network.paths import NoPathError
from suanwang.core.scheduling.framework import Profile
from suanwang.core.scheduling.groups import TaskGroups
from suanwang.core.scheduling.plan import Plan
from suanwang.core.scheduling.scheduler import request_seed, schedule
from suanwang.core.scheduling.snapshot import CLASSES, Snapshot
from suanwang.core.scheduling.sovereignty import path_rules, site_allowed, sovereignty_of
from suanwang.core.tasks import LatencyMode, TaskSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world.builtin import load_builtin_world

EU_ADEQUATE = {"AD", "AR", "CA", "FO", "GG", "IL", "IM", "JP", "JE", "NZ", "KR", "CH", "GB"}
BEIJING, SHANGHAI, CHENGDU = CITIES[0], CITIES[1], CITIES[2]
FRANKFURT, PARIS, OSLO = CITIES[3], CITIES[4], CITIES[5]
PRICE_ONLY = Profile(name="price-only", weights={"price": 1.0})
CARBON_ONLY = Profile(name="carbon-only", weights={"carbon": 1.0})


@cache
def builtin() -> Snapshot:
    """The built-in world at 2026-03-01T00Z (built once for the module)."""
    return Snapshot.build(load_builtin_world(), UNIT_TABLE, START)


@cache
def scarce(fraction: float) -> Snapshot:
    """The built-in world with only ``fraction`` of every pool free (capacity binds)."""
    snap = builtin()
    return snap.with_free(snap.pool_capacity * fraction)


def site_of(plan: Plan, t: int) -> str:
    return plan.snap.site_ids[int(plan.snap.pool_site[plan.arrays.pool[t]])]


def country_of(plan: Plan, t: int) -> str:
    return str(plan.snap.site_country[int(plan.snap.pool_site[plan.arrays.pool[t]])])


# --- sovereignty on the built-in world ---------------------------------------------------------
def test_cn_core_and_important_data_never_leave_cn_even_when_carbon_pulls_abroad() -> None:
    tasks = [
        task(f"{dc}-{cls}-{i}", units=units, cls=cls, hours=2.0, origin=origin, data_class=dc)
        for i, origin in enumerate((BEIJING, SHANGHAI, CHENGDU))
        for dc in ("core", "important")
        for cls, units in (("ai", 800.0), ("general", 64.0), ("hpc", 20.0))
    ]
    plan = schedule(tasks, builtin(), profile=Profile.for_mode("carbon"), seed=7)
    assert len(plan.placed) == len(tasks)  # CN has room for all of them
    assert {country_of(plan, int(t)) for t in plan.placed} == {"CN"}
    # the control: the same AI task as internal data goes to a cleaner grid abroad
    free = schedule([task("x", units=800.0, cls="ai", hours=2.0, origin=BEIJING)], builtin(),
                    profile=Profile.for_mode("carbon"), seed=7)  # fmt: skip
    assert country_of(free, 0) != "CN"


@pytest.mark.parametrize("mode", ["balanced", "cost", "carbon", "latency"])
def test_eu_personal_data_goes_only_to_the_eea_or_adequate_countries(mode: str) -> None:
    tasks = [
        task(f"p{i}-{cls}", units=units, cls=cls, origin=origin, data_class="personal")
        for i, origin in enumerate((FRANKFURT, PARIS, OSLO))
        for cls, units in (("ai", 500.0), ("general", 32.0), ("hpc", 10.0))
    ]
    plan = schedule(tasks, builtin(), profile=Profile.for_mode(mode))
    allowed = EEA | EU_ADEQUATE | {"UY", "US"}
    assert len(plan.placed) == len(tasks)
    for t in plan.placed:
        assert country_of(plan, int(t)) in allowed, plan.placement(int(t))


def test_a_task_whose_rules_allow_nowhere_is_unplaced_for_sovereignty() -> None:
    moscow = next(c for c in CITIES if c[0] == "RU")  # RU personal data must stay; no RU site
    plan = schedule([task("ru", origin=moscow, data_class="personal")], builtin())
    assert plan.unplaced_by_reason() == {"sovereignty": 1}


# --- temporal shifting on the built-in world ---------------------------------------------------
def test_a_deferrable_task_shifts_to_the_lowest_carbon_window_the_horizon_has() -> None:
    snap = builtin()
    hours, deadline = 3.0, 30.0
    common = {"units": 50.0, "hours": hours, "origin": FRANKFURT, "residency": ("DE",),
              "deadline": deadline_in(deadline)}  # fmt: skip
    later = schedule([task("later", deferrable=True, **common)], snap, profile=CARBON_ONLY)
    now = schedule([task("now", **common)], snap, profile=CARBON_ONLY)
    assert site_of(later, 0) == site_of(now, 0) == "de-frankfurt"
    assert now.arrays.start_h[0] == 0
    start = int(later.arrays.start_h[0])
    # independently: the mean intensity of each 3 h window that ends by the deadline
    ci = snap.intensity[snap.site_index("de-frankfurt")]
    latest = int(np.floor(deadline - hours))
    means = np.array([ci[h : h + 3].mean() for h in range(latest + 1)])
    assert means.min() < means[0]  # the horizon has a cleaner window (the midday solar dip)
    assert start == int(np.argmin(means)) > 0
    assert later.arrays.carbon_g[0] == pytest.approx(now.arrays.carbon_g[0] * means[start] /
                                                     means[0])  # fmt: skip
    assert later.totals()["deferred"] == 1
    assert later.placement(0)["start"] == snap.start_label(start)


# --- grouping ----------------------------------------------------------------------------------
def test_identical_tasks_are_judged_once_as_a_group() -> None:
    tasks = [task(f"same-{i}", tenant=f"tenant-{i % 3}") for i in range(40)]
    plan = schedule(tasks, builtin())
    assert plan.stats["groups"] == 1
    assert len(plan.placed) == 40
    assert len({plan.placement(int(t))["scores"]["price"] for t in plan.placed}) == 1


@pytest.mark.parametrize(
    ("change", "groups"),
    [
        ({"name": "other", "tenant": "someone-else"}, 1),  # name and tenant are not placement
        ({"units": 3.0}, 2),
        ({"hours": 4.0}, 2),
        ({"origin": PARIS}, 2),
        ({"data_class": "personal"}, 2),
        ({"latency_sla": {"max_ms": 50.0, "mode": "one-way"}}, 2),
        ({"latency_sla": {"max_ms": 50.0, "mode": "round-trip"}}, 2),
        ({"budget_micros": 10_000_000}, 2),
        ({"deferrable": True}, 2),
        ({"residency": ("EU",)}, 2),
        ({"forbidden_transit": ("US",)}, 2),
    ],
)
def test_tasks_differing_in_a_placement_field_form_their_own_group(
    change: dict[str, object], groups: int
) -> None:
    first = task("first")
    fields = {"name": "second", **change}
    second = task(**fields)  # type: ignore[arg-type]
    assert TaskGroups.of([first, second], builtin()).n == groups


def test_two_tasks_with_one_name_are_an_error() -> None:
    with pytest.raises(SuanwangError, match="task name 'twin' appears twice"):
        schedule([task("twin"), task("twin", units=3.0)], builtin())


def test_an_unknown_policy_is_an_error() -> None:
    with pytest.raises(SuanwangError, match="unknown policy 'best'; choose optimal or greedy"):
        schedule([task()], builtin(), policy="best")


# --- min-cost flow against greedy --------------------------------------------------------------
def test_min_cost_flow_beats_greedy_when_two_task_types_compete_for_one_cheap_pool() -> None:
    # tiny world, price only; b-near is the cheap pool (1.0 USD) with room for one 2-unit task.
    # "near" (first, from a-home, SLA 22 ms one way) may use a (1.1 USD), b or c (5 USD);
    # "far" (from c-far, SLA 11 ms) may use b, c (5 USD) or d (5 USD).
    snap = pin(tiny_snapshot(), pool_price=np.array([1.1e6, 3000, 1.0e6, 5e6, 5e6]))
    snap = snap.with_free(np.array([10.0, 0.0, 2.0, 100.0, 8.0]))
    sla = {"mode": "one-way"}
    tasks = [
        task("near", latency_sla={"max_ms": 22.0, **sla}),
        task("far", origin=("SG", 0.0, 40.0), latency_sla={"max_ms": 11.0, **sla}),
    ]
    greedy = schedule(tasks, snap, profile=PRICE_ONLY, policy="greedy")
    optimal = schedule(tasks, snap, profile=PRICE_ONLY, policy="optimal", lower_bound=True)
    # greedy: near takes b (penalty 0), far falls back to c or d: (5 - 1) / 1 -> 1; total 1
    assert site_of(greedy, 0) == "b-near"
    assert site_of(greedy, 1) in {"c-far", "d-end"}
    assert greedy.objective == pytest.approx(1.0)
    # flow: far takes b (0), near takes a: (1.1 - 1.0) / 1.0 = 0.1; total 0.1
    assert [site_of(optimal, 0), site_of(optimal, 1)] == ["a-home", "b-near"]
    assert optimal.objective == pytest.approx(0.1)
    assert optimal.stats["winner"] == "min-cost-flow"
    assert optimal.stats["objective_greedy"] == pytest.approx(1.0)
    assert optimal.stats["lower_bound"] == pytest.approx(0.1)  # the LP proves it optimal
    assert optimal.stats["gap"] == pytest.approx(0.0, abs=1e-9)
    assert optimal.totals()["cost_micros"] == 2 * 3 * 1_100_000 + 2 * 3 * 1_000_000  # 12.6 USD


def test_the_optimal_policy_never_ends_worse_than_greedy_when_candidates_are_cut() -> None:
    # tiny world, price only, k = 1: free a-home 4, d-end 4, nothing elsewhere.
    # "pinned" (4 units, SLA 1 ms from d-end) can only use d-end; each "flex" (2 units, from
    # c-far, no SLA) keeps only its best candidate, d-end (0.8 USD), though a-home would do.
    snap = tiny_snapshot().with_free(np.array([4.0, 0.0, 0.0, 0.0, 4.0]))
    tasks = [
        task("pinned", units=4.0, origin=("GB", 0.0, 60.0),
             latency_sla={"max_ms": 1.0, "mode": "one-way"}),
        task("flex-1", origin=("SG", 0.0, 40.0)),
        task("flex-2", origin=("SG", 0.0, 40.0)),
    ]  # fmt: skip
    greedy = schedule(tasks, snap, profile=PRICE_ONLY, policy="greedy", k=1)
    optimal = schedule(tasks, snap, profile=PRICE_ONLY, policy="optimal", k=1)
    # greedy: pinned -> d-end, both flex unplaced (4.0), then repair puts them on a-home: all 3
    assert len(greedy.placed) == 3
    # flow: both flex -> d-end, pinned unplaced (2.0 < 4.0, so flow wins); repair cannot help
    assert len(optimal.placed) >= len(greedy.placed)
    assert optimal.objective <= greedy.objective + 1e-9


# --- unplaced reasons --------------------------------------------------------------------------
def test_unplaced_tasks_are_counted_by_the_filter_that_removed_their_last_pool() -> None:
    snap = builtin()
    ashburn_h100 = next(p for p in range(snap.n_pools)
                        if snap.pool_label(p) == "us-ashburn/nvidia-h100")  # fmt: skip
    free = snap.pool_free.copy()
    eight_h100 = 8 * 989.0
    free[ashburn_h100] = 3 * eight_h100  # room for three of the five FedRAMP jobs
    snap = snap.with_free(free)
    pacific = ("US", 0.0, -150.0)
    moscow = next(c for c in CITIES if c[0] == "RU")
    fedramp = {"units": None, "residency": ("US-FEDRAMP",),
               "demand": {"compute_class": "ai", "model": "nvidia-h100", "count": 8}}  # fmt: skip
    tasks = [
        *(task(f"fed-{i}", **fedramp) for i in range(5)),  # type: ignore[arg-type]
        *(task(f"far-{i}", origin=pacific, latency_sla={"max_ms": 1.0, "mode": "one-way"})
          for i in range(3)),
        *(task(f"cheap-{i}", budget_micros=1) for i in range(2)),
        *(task(f"ru-{i}", origin=moscow, data_class="personal") for i in range(2)),
        task("huge", cls="ai", units=1e9),
        *(task(f"late-{i}", hours=1.0, deadline=deadline_in(0.5)) for i in range(2)),
    ]  # fmt: skip
    plan = schedule(tasks, snap)
    expected = {"budget": 2, "capacity": 2, "deadline": 2, "latency-sla": 3,
                "resource-fit": 1, "sovereignty": 2}  # fmt: skip
    assert plan.unplaced_by_reason() == expected
    totals = plan.totals()
    assert (totals["tasks"], totals["placed"], totals["unplaced"]) == (15, 3, 12)
    assert totals["unplaced_by_reason"] == expected
    assert {site_of(plan, int(t)) for t in plan.placed} == {"us-ashburn"}
    unplaced = {u["task"]: u["reason"] for u in plan.to_dict()["unplaced"]}
    assert unplaced["huge"] == "resource-fit"
    assert unplaced["late-0"] == unplaced["late-1"] == "deadline"
    # SLA attainment counts the three SLA tasks, none of which was placed
    assert totals["sla_attainment"] == 0.0


# --- properties of random batches --------------------------------------------------------------
def independent_check(plan: Plan, tasks: list[TaskSpec]) -> None:
    """Every hard constraint, recomputed from the task fields and the snapshot."""
    snap = plan.snap
    a = plan.arrays
    units = np.array([t.demand.units for t in tasks])
    placed = plan.placed
    used = np.bincount(a.pool[placed], weights=units[placed], minlength=snap.n_pools)
    assert (used <= snap.pool_free + 1e-6).all(), "capacity"
    net = snap.network
    for t in (int(x) for x in placed):
        spec, p = tasks[t], int(a.pool[t])
        s = int(snap.pool_site[p])
        site = snap.world.sites[s]
        sov = sovereignty_of(spec)
        assert CLASSES[int(snap.pool_class[p])] is spec.demand.compute_class
        assert site_allowed(sov, site) is None, (spec, site.id)
        rules = path_rules(sov)
        # latency over the network (engine's own Dijkstra) within the data's path rules
        reach = {x.site: x.one_way_ms for x in net.latencies_from_point(
            spec.origin.lat, spec.origin.lon, rules)}  # fmt: skip
        assert reach[site.id] is not None
        assert a.origin_ms[t] == pytest.approx(reach[site.id], abs=1e-3)
        if spec.latency_sla is not None:
            sla = spec.latency_sla
            bound = sla.max_ms / (2.0 if sla.mode is LatencyMode.ROUND_TRIP else 1.0)
            assert reach[site.id] <= bound + 1e-4  # the engine rounds to 0.1 us
        compute = units[t] * spec.duration_hours * snap.pool_price[p]
        egress, floor_h = 0.0, 0.0
        if spec.input is not None and spec.input.site != site.id:
            try:
                path = net.path(spec.input.site, site.id, rules)
            except NoPathError:  # pragma: no cover - a broken rule would show here
                pytest.fail(f"{spec.name}: no path for its input to {site.id} within its rules")
            egress = spec.input.size_gb * path.price_per_gb_micros
            fastest = min(10.0, path.bottleneck_gbps or np.inf)
            floor_h = spec.input.size_gb * 8.0 / fastest / 3600.0
        assert a.cost_micros[t] == pytest.approx(compute + egress, rel=1e-9, abs=1e-3)
        if spec.budget_micros is not None:
            assert compute + egress <= spec.budget_micros + 0.5
        assert a.transfer_h[t] >= floor_h - 1e-9  # no faster than the path and one flow allow
        if spec.deadline is not None:
            end_h = START + a.start_h[t] + a.transfer_h[t] + spec.duration_hours
            assert end_h * 3600.0 <= spec.deadline.timestamp() + 1e-3
        if a.start_h[t] > 0:
            assert spec.deferrable
            assert spec.deadline is not None
    for t in np.flatnonzero(a.pool < 0):
        assert a.reason[t], tasks[int(t)].name
    assert plan.violations == ()


BATCH = {
    "seed": st.integers(0, 2**32 - 1),
    "n": st.integers(1, 25),
    "fraction": st.sampled_from([1.0, 1e-3, 3e-4]),
}


@settings(max_examples=20, deadline=None)
@given(**BATCH, policy=st.sampled_from(["optimal", "greedy"]))
def test_no_placement_breaks_a_hard_constraint(
    seed: int, n: int, fraction: float, policy: str
) -> None:
    tasks = random_tasks(seed, n)
    plan = schedule(tasks, scarce(fraction), policy=policy, seed=seed % 5)
    independent_check(plan, tasks)


@settings(max_examples=15, deadline=None)
@given(**BATCH)
def test_the_optimal_policy_is_never_worse_than_greedy_and_never_below_the_lp_bound(
    seed: int, n: int, fraction: float
) -> None:
    tasks = random_tasks(seed, n)
    snap = scarce(fraction)
    optimal = schedule(tasks, snap, lower_bound=True)
    greedy = schedule(tasks, snap, policy="greedy")
    assert optimal.stats["objective_assigned"] <= greedy.stats["objective_assigned"] + 1e-9
    # after repair too: with fewer tasks than the default k = 32 candidates, no group can fill
    # all of its candidates, so repair finds nothing new (for a small k see the xfail above)
    assert optimal.objective <= greedy.objective + 1e-9
    bound = optimal.stats["lower_bound"]
    assert bound <= optimal.stats["objective_assigned"] + 1e-6
    assert bound <= optimal.objective + 1e-6
    assert optimal.stats["gap"] >= -1e-9


@settings(max_examples=15, deadline=None)
@given(**BATCH, seed_arg=st.integers(0, 3))
def test_the_same_request_and_seed_give_the_same_plan(
    seed: int, n: int, fraction: float, seed_arg: int
) -> None:
    tasks = random_tasks(seed, n)
    first = schedule(tasks, scarce(fraction), seed=seed_arg)
    again = schedule(list(tasks), scarce(fraction), seed=seed_arg)
    np.testing.assert_array_equal(first.arrays.pool, again.arrays.pool)
    np.testing.assert_array_equal(first.arrays.start_h, again.arrays.start_h)
    assert first.to_dict() == again.to_dict()


def test_the_request_seed_depends_on_names_seed_and_start_hour() -> None:
    tasks = [task("a"), task("b")]
    base = request_seed(tasks, 0, START)
    assert request_seed(list(tasks), 0, START) == base
    assert request_seed(tasks[::-1], 0, START) != base
    assert request_seed(tasks, 1, START) != base
    assert request_seed(tasks, 0, START + 1) != base
    assert 0 <= base < 2**64


def test_a_plan_leaves_the_snapshot_unchanged() -> None:
    snap = scarce(1e-3)
    free = snap.pool_free.copy()
    version = snap.network.version
    schedule(random_tasks(3, 20), snap)
    np.testing.assert_array_equal(snap.pool_free, free)
    assert snap.network.version == version


def test_a_general_task_that_states_its_memory_can_be_placed() -> None:
    demand = {"compute_class": "general", "units": 8.0, "memory_gb": 16.0}
    plan = schedule([task("mem", units=None, demand=demand)], builtin())
    assert plan.unplaced_by_reason() == {}
