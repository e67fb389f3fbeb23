"""Built-in plugins on the tiny world (see schedkit): every filter passes and fails with its
reason, and every score's raw value is worked out by hand.

Pools of the tiny snapshot, in order: 0 a-home/xeon (10 units, 1.5 USD, 4 GB per core),
1 a-home/h100 (1,978 units), 2 b-near/xeon (4 units, 1.0 USD), 3 c-far/xeon (100 units,
0.5 USD), 4 d-end/xeon (8 units, 0.8 USD). Origin (0, 0) is a-home: 0 / 10.5 / 21 / 31.5 ms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from schedkit import (
    H100,
    START,
    XEON,
    deadline_in,
    pin,
    task,
    tiny_snapshot,
)

from suanwang.core.scheduling.facts import Facts
from suanwang.core.scheduling.framework import Context, CycleState, Profile
from suanwang.core.scheduling.groups import TaskGroups
from suanwang.core.scheduling.plugins import (
    FACTS,
    BudgetFilter,
    CarbonScore,
    DeadlineFilter,
    FactsPreFilter,
    LatencyScore,
    LatencySLAFilter,
    PriceScore,
    ResourceFit,
    SovereigntyFilter,
    SpreadScore,
    TransferFilter,
    TransferScore,
)
from suanwang.core.scheduling.snapshot import Snapshot
from suanwang.core.tasks import TaskSpec

SNAP = tiny_snapshot()
A, A_H100, B, C, D = range(5)  # pools
SITE_B = 1  # b-near's row in the site x hour signals
LABELS = ["a-home/" + XEON, "a-home/" + H100, "b-near/" + XEON, "c-far/" + XEON, "d-end/" + XEON]


def judge(t: TaskSpec, snap: Snapshot = SNAP, **facts_args: float) -> tuple[CycleState, Context]:
    """Run the facts PreFilter for one task against every pool of ``snap``."""
    groups = TaskGroups.of([t], snap)
    ctx = Context(groups, snap, np.arange(groups.n, dtype=np.int64), snap.pool_free)
    state = CycleState()
    assert FactsPreFilter(**facts_args).pre_filter(state, ctx).ok
    return state, ctx


def facts_of(t: TaskSpec, snap: Snapshot = SNAP, **facts_args: float) -> Facts:
    state, _ = judge(t, snap, **facts_args)
    out: Facts = state.read(FACTS)
    return out


def test_the_tiny_snapshot_is_as_documented() -> None:
    assert [SNAP.pool_label(p) for p in range(SNAP.n_pools)] == LABELS
    np.testing.assert_allclose(SNAP.pool_capacity, [10, 2 * 989, 4, 100, 8])
    np.testing.assert_allclose(SNAP.pool_price, [1.5e6, 3000, 1.0e6, 0.5e6, 0.8e6])
    np.testing.assert_allclose(SNAP.pool_mem_per_device, [4, 80, 0, 0, 0])  # xeon: no figure
    np.testing.assert_allclose(SNAP.site_pue, [1.5, 1.2, 1.1, 1.3])
    np.testing.assert_allclose(SNAP.intensity[:, 0], [400, 100, 600, 50])
    assert SNAP.start_hour == START


def test_power_per_unit_follows_the_power_model_before_it_is_pinned() -> None:
    snap = Snapshot.build(SNAP.world, SNAP.table, START, horizon_hours=2)
    # Xeon 8380 core = 2 vCPU x CCF Cascade Lake (0.6389 + 0.7 x (3.859 - 0.6389)) W
    core = 2 * (0.6389 + 0.7 * (3.859 - 0.6389))  # 5.78594 W per unit (rating 1.0)
    # H100: (700 W x 0.7 + 80 GB x 0.392 W/GB) / 989 units = 521.36 / 989 W per unit
    h100 = (700 * 0.7 + 80 * 0.392) / 989
    np.testing.assert_allclose(
        snap.pool_watts_per_unit,
        [core + 4 * 0.392, h100, core, core, core],  # a-home's cores hold 4 GB each
        rtol=1e-12,
    )


# --- filters -----------------------------------------------------------------------------------
def _demand(model: str, count: float, cls: str = "general", **kw: Any) -> dict[str, Any]:
    return {"compute_class": cls, "model": model, "count": count, **kw}


IN_B = {"site": "b-near", "size_gb": 100.0}
IN_A = {"site": "a-home", "size_gb": 100.0}
SG = ("SG", 0.0, 40.0)  # at c-far
PERSONAL = {"data_class": "personal"}

FILTERS: list[tuple[str, object, TaskSpec, int, str | None]] = [
    # case, filter, task, pool, None (passes) or a substring of the reason it fails with
    # resource-fit: class, hardware model, memory per device, free units
    ("fit", ResourceFit(), task(units=2.0), A, None),
    ("class: general task, ai pool", ResourceFit(), task(units=2.0), A_H100,
     "pool nvidia-h100 sells ai, the task needs general"),
    ("class: ai task, general pool", ResourceFit(), task(units=989.0, cls="ai"), B,
     "pool intel-xeon-8380 sells general, the task needs ai"),
    ("class: ai task, ai pool", ResourceFit(), task(units=989.0, cls="ai"), A_H100, None),
    ("model matches", ResourceFit(), task(units=None, demand=_demand(XEON, 2)), B, None),
    ("model differs", ResourceFit(), task(units=None, demand=_demand("amd-epyc-9654", 2)), B,
     "the task needs amd-epyc-9654, the pool has intel-xeon-8380"),
    ("memory: 2 cores x 4 GB = 8 GB", ResourceFit(), task(units=None, demand=_demand(
        XEON, 2, memory_gb=8.0)), A, None),
    ("memory: 9 GB > 8 GB", ResourceFit(), task(units=None, demand=_demand(
        XEON, 2, memory_gb=9.0)), A, "needs 9 GB of device memory, 2 intel-xeon-8380 devices "
     "hold 8 GB"),
    ("memory: half an H100 holds 40 GB", ResourceFit(), task(units=None, demand=_demand(
        H100, 0.5, cls="ai", memory_gb=41.0)), A_H100,
     "needs 41 GB of device memory, 0.5 nvidia-h100 devices hold 40 GB"),
    ("memory: one H100 holds 80 GB", ResourceFit(), task(units=None, demand=_demand(
        H100, 1, cls="ai", memory_gb=80.0)), A_H100, None),
    ("capacity: 10 of 10 free", ResourceFit(), task(units=10.0), A, None),
    ("capacity: 12 > 10 free", ResourceFit(), task(units=12.0), A,
     "needs 12 units, 10 free in intel-xeon-8380"),
    ("capacity: 12 of 100", ResourceFit(), task(units=12.0), C, None),
    # sovereignty: rules, residency, forbidden countries, and the paths from origin and input
    ("no rule for internal data", SovereigntyFilter(), task(), C, None),
    ("EU personal data in FR", SovereigntyFilter(), task(**PERSONAL), B, None),
    ("EU personal data in SG", SovereigntyFilter(), task(**PERSONAL), C,
     "rule eu-personal-data (GDPR Chapter V art. 45 adequacy decisions): personal data from "
     "DE may only go to EEA, AD, AR"),
    ("GB is adequate but only reachable through SG", SovereigntyFilter(), task(**PERSONAL), D,
     "no network path from the task's origin to d-end that stays within AD, AR, AT"),
    ("residency EU in GB", SovereigntyFilter(), task(residency=("EU",)), D,
     "residency allows EU; site's jurisdiction is GB, GDPR"),
    ("residency eu (any case) in FR", SovereigntyFilter(), task(residency=("eu",)), B, None),
    ("forbidden country hosts the site", SovereigntyFilter(), task(forbidden_transit=("FR",)),
     B, "the task forbids data in FR (forbidden_transit); site is in FR"),
    ("origin cut off by a forbidden country", SovereigntyFilter(),
     task(origin=SG, forbidden_transit=("FR",), input=IN_A), A,
     "no network path from the task's origin to a-home that avoids FR"),
    ("input cut off by a forbidden country", SovereigntyFilter(),
     task(origin=SG, forbidden_transit=("FR",), input=IN_A), C,
     "no network path from the input data to c-far that avoids FR"),
    ("rules that leave no country", SovereigntyFilter(),
     task(origin=("CN", 0.0, 0.0), data_class="core", forbidden_transit=("CN",)), A,
     "data (core from CN) may go nowhere: the rules (cn-core-data) allow only countries it "
     "forbids"),
    # latency-sla: one-way bound, or a round trip (twice the one-way latency)
    ("no SLA", LatencySLAFilter(), task(), D, None),
    ("one-way 10.5 <= 11", LatencySLAFilter(),
     task(latency_sla={"max_ms": 11.0, "mode": "one-way"}), B, None),
    ("one-way 10.5 > 10", LatencySLAFilter(),
     task(latency_sla={"max_ms": 10.0, "mode": "one-way"}), B,
     "one-way latency 10.5 ms exceeds the SLA of 10 ms"),
    ("round trip 21 <= 21", LatencySLAFilter(),
     task(latency_sla={"max_ms": 21.0, "mode": "round-trip"}), B, None),
    ("round trip 21 > 20", LatencySLAFilter(),
     task(latency_sla={"max_ms": 20.0, "mode": "round-trip"}), B,
     "round-trip latency 21.0 ms exceeds the SLA of 20 ms"),
    ("round trip 42 > 41", LatencySLAFilter(),
     task(latency_sla={"max_ms": 41.0, "mode": "round-trip"}), C,
     "round-trip latency 42.0 ms exceeds the SLA of 41 ms"),
    ("one-way 21 <= 41 (the same bound read one way)", LatencySLAFilter(),
     task(latency_sla={"max_ms": 41.0, "mode": "one-way"}), C, None),
    # transfer: the input's path needs min_gbps free (bc has 0.05 Gbps)
    ("no input", TransferFilter(), task(), C, None),
    ("input over ab (100 Gbps)", TransferFilter(), task(input=IN_B), A, None),
    ("input already at the site", TransferFilter(), task(input=IN_B), B, None),
    ("input over bc (0.05 Gbps)", TransferFilter(), task(input=IN_B), C,
     "only 0.05 Gbps free on the input path (needs 0.1)"),
    ("input over bc, cd", TransferFilter(), task(input=IN_B), D,
     "only 0.05 Gbps free on the input path (needs 0.1)"),
    ("a lower minimum lets bc carry it", TransferFilter(min_gbps=0.01), task(input=IN_B), C,
     None),
    ("an empty input moves nothing", TransferFilter(),
     task(input={"site": "b-near", "size_gb": 0.0}), C, None),
    # deadline: start + transfer + run time; 100 GB over ab at one flow's 10 Gbps = 0.0222 h
    ("3 h run, deadline 3 h", DeadlineFilter(), task(deadline=deadline_in(3)), A, None),
    ("3 h run, deadline 2.5 h", DeadlineFilter(), task(deadline=deadline_in(2.5)), A,
     "would finish 3.00 h from now (transfer 0.00 h), after the deadline 2.50 h from now"),
    ("transfer makes it late", DeadlineFilter(), task(deadline=deadline_in(3), input=IN_B), A,
     "would finish 3.02 h from now (transfer 0.02 h), after the deadline 3.00 h from now"),
    ("input at the site: no transfer", DeadlineFilter(),
     task(deadline=deadline_in(3), input=IN_B), B, None),
    ("transfer over bc: 100 GB / 0.05 Gbps = 4.44 h", DeadlineFilter(),
     task(deadline=deadline_in(7), input=IN_B), C,
     "would finish 7.44 h from now (transfer 4.44 h)"),
    # budget: 2 units x 3 h x price (+ egress: GB x USD/GB along the path)
    ("2 x 3 x 1.5 = 9 USD <= 9", BudgetFilter(), task(budget_micros=9_000_000), A, None),
    ("9 USD > 8", BudgetFilter(), task(budget_micros=8_000_000), A,
     "costs 9.00 USD (compute 9.00 + egress 0.00), over the budget of 8.00 USD"),
    ("2 x 3 x 1.0 = 6 USD <= 8", BudgetFilter(), task(budget_micros=8_000_000), B, None),
    ("9 + 100 GB x 0.02 = 11 USD > 10", BudgetFilter(),
     task(budget_micros=10_000_000, input=IN_B), A,
     "costs 11.00 USD (compute 9.00 + egress 2.00), over the budget of 10.00 USD"),
    ("3 + 100 GB x 0.05 = 8 USD > 7.5", BudgetFilter(),
     task(budget_micros=7_500_000, input=IN_B), C,
     "costs 8.00 USD (compute 3.00 + egress 5.00)"),
    ("4.8 + 100 GB x (0.05 + 0.01) = 10.8 USD <= 10.8", BudgetFilter(),
     task(budget_micros=10_800_000, input=IN_B), D, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("plugin", "t", "pool", "why"),
    [pytest.param(p, t, pool, why, id=case) for case, p, t, pool, why in FILTERS],
)
def test_filter(plugin: Any, t: TaskSpec, pool: int, why: str | None) -> None:
    state, ctx = judge(t)
    ok = plugin.filter(state, ctx)
    assert ok.shape == (1, SNAP.n_pools)
    if why is None:
        assert ok[0, pool]
    else:
        assert not ok[0, pool]
        assert why in plugin.reason(state, ctx, 0, pool)


def test_every_filter_rejects_in_one_line() -> None:
    for _case, plugin, t, pool, why in FILTERS:
        if why is not None:
            state, ctx = judge(t)
            assert "\n" not in plugin.reason(state, ctx, 0, pool)


# --- scores ------------------------------------------------------------------------------------
NO_INPUT = task()  # 2 units for 3 h from a-home's coordinates
WITH_INPUT = task(input=IN_B)  # the same, with 100 GB at b-near
NAN = np.nan

SCORES: list[tuple[str, object, TaskSpec, list[float]]] = [
    # case, score plugin, task, raw value per pool (a, a/h100, b, c, d)
    ("price: units x hours x USD/unit-hour", PriceScore(), NO_INPUT,
     [9e6,        # 2 x 3 h x 1.5 USD = 9 USD = 9,000,000 micros
      18_000,     # 2 x 3 x 0.003 USD (the AI pool prices AI units; resource-fit rejects it)
      6e6,        # 2 x 3 x 1.0
      3e6,        # 2 x 3 x 0.5
      4.8e6]),    # 2 x 3 x 0.8
    ("price: plus egress", PriceScore(), WITH_INPUT,
     [11e6,       # 9 + 100 GB x 0.02 (ab)
      2_018_000,  # 0.018 + 2
      6e6,        # the data is already there
      8e6,        # 3 + 100 x 0.05 (bc)
      10.8e6]),   # 4.8 + 100 x (0.05 + 0.01) (bc, cd)
    ("carbon: units x W x h / 1000 x PUE x g/kWh", CarbonScore(), NO_INPUT,
     [36.0,       # 2 x 10 W x 3 h / 1000 = 0.06 kWh x 1.5 x 400
      36.0,       # same site, same pinned 10 W per unit
      7.2,        # 0.06 x 1.2 x 100
      39.6,       # 0.06 x 1.1 x 600
      3.9]),      # 0.06 x 1.3 x 50
    ("carbon: plus 0.001 kWh/GB moved, at the site's intensity", CarbonScore(),
     task(input={"site": "a-home", "size_gb": 100.0}),
     [36.0,       # the data is already at a-home: nothing moves, no network energy
      36.0,
      17.2,       # 7.2 + 100 GB x 0.001 kWh x 100 (no PUE on the network)
      99.6,       # 39.6 + 0.1 x 600
      8.9]),      # 3.9 + 0.1 x 50
    ("latency: one-way ms from the origin", LatencyScore(), NO_INPUT,
     [0.0, 0.0, 10.5, 21.0, 31.5]),  # 0, 1, 2, 3 hops of 10.5 ms
    ("latency: from c-far's coordinates", LatencyScore(), task(origin=SG),
     [21.0, 21.0, 10.5, 0.0, 10.5]),
    ("transfer-time: GB x 8 / min(bottleneck, 10 Gbps) / 3600", TransferScore(), WITH_INPUT,
     [100 * 8 / 10 / 3600,    # ab has 100 Gbps but one flow takes at most 10: 0.0222 h
      100 * 8 / 10 / 3600,
      0.0,                    # the data is already there
      100 * 8 / 0.05 / 3600,  # bc's 0.05 Gbps: 4.444 h
      100 * 8 / 0.05 / 3600]),
    ("transfer-time: no input", TransferScore(), NO_INPUT, [0.0] * 5),
    ("spread: utilisation with the task placed, 1 - (free - units) / capacity", SpreadScore(),
     NO_INPUT,
     [0.2,          # 1 - (10 - 2) / 10
      2 / 1978,     # 1 - (1978 - 2) / 1978
      0.5,          # 1 - (4 - 2) / 4
      0.02,         # 1 - (100 - 2) / 100
      0.25]),       # 1 - (8 - 2) / 8
]  # fmt: skip


@pytest.mark.parametrize(
    ("plugin", "t", "expected"),
    [pytest.param(p, t, e, id=case) for case, p, t, e in SCORES],
)
def test_score_raw_values(plugin: Any, t: TaskSpec, expected: list[float]) -> None:
    state, ctx = judge(t)
    np.testing.assert_allclose(plugin.score(state, ctx)[0], expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("plugin", "unit", "floor"),
    [
        (PriceScore(), "micro-USD", 10_000.0),
        (CarbonScore(), "gCO2e", 1.0),
        (LatencyScore(), "ms", 5.0),
        (TransferScore(), "h", 0.05),
        (SpreadScore(), "utilisation", 0.1),
    ],
)
def test_every_score_names_its_unit_and_floor(plugin: Any, unit: str, floor: float) -> None:
    assert (plugin.unit, plugin.floor) == (unit, floor)


def test_spread_reads_the_free_capacity_of_the_decision() -> None:
    t = task()
    groups = TaskGroups.of([t], SNAP)
    free = SNAP.pool_free.copy()
    free[A] = 5.0  # half of a-home's cores already promised in this decision
    ctx = Context(groups, SNAP, np.arange(1), free)
    state = CycleState()
    FactsPreFilter().pre_filter(state, ctx)
    assert SpreadScore().score(state, ctx)[0, A] == pytest.approx(0.7)  # 1 - (5 - 2) / 10
    free[A] = 1.0
    state = CycleState()
    FactsPreFilter().pre_filter(state, ctx)
    assert not ResourceFit().filter(state, ctx)[0, A]
    assert ResourceFit().reason(state, ctx, 0, A) == "needs 2 units, 1 free in intel-xeon-8380"


def test_the_framework_normalises_scores_over_the_feasible_pools() -> None:
    from suanwang.core.scheduling.evaluate import Framework

    fw = Framework(Profile(name="price-only", weights={"price": 1.0}))
    ev = fw.evaluate(TaskGroups.of([task()], SNAP), SNAP)
    assert ev.feasible[0].tolist() == [True, False, True, True, True]  # the AI pool is out
    assert ev.reason(0, A_H100).startswith("resource-fit: pool nvidia-h100 sells ai")
    assert ev.reason(0, C) == ""
    # best feasible price 3 USD (c): a (9 - 3) / 3 -> 1, b (6 - 3) / 3 = 1, d 1.8 / 3 = 0.6
    np.testing.assert_allclose(ev.penalty["price"][0], [1.0, 1.0, 1.0, 0.0, 0.6])
    np.testing.assert_allclose(ev.cost[0], [1.0, np.inf, 1.0, 0.0, 0.6])
    assert ev.scores_of(0, D) == {"price": 40.0}


# --- temporal shifting (the facts PreFilter's start hours) ------------------------------------
def _dip(hours: list[int], low: float = 20.0) -> Snapshot:
    ci = SNAP.intensity.copy()
    ci[SITE_B, hours] = low
    return pin(SNAP, intensity=ci)


DIP = _dip([5, 6, 7])  # b-near at 20 g/kWh from 05:00 to 08:00, 100 otherwise
AT_B = {"residency": ("FR",), "hours": 3.0}

SHIFTS: list[tuple[str, TaskSpec, int]] = [
    # case, task (3 h at b-near), start hour chosen
    ("not deferrable: now", task(**AT_B, deadline=deadline_in(12)), 0),
    ("deferrable, no deadline: now", task(**AT_B, deferrable=True), 0),
    ("deferrable, deadline 12 h: into the dip", task(**AT_B, deferrable=True,
                                                     deadline=deadline_in(12)), 5),
    ("latest start floor(7.9 - 3) = 4: mean (100 + 20 + 20) / 3",
     task(**AT_B, deferrable=True, deadline=deadline_in(7.9)), 4),
    ("latest start 3: mean (100 + 100 + 20) / 3 still beats 100",
     task(**AT_B, deferrable=True, deadline=deadline_in(6)), 3),
    ("latest start 2: the dip is out of reach, no deferral for nothing",
     task(**AT_B, deferrable=True, deadline=deadline_in(5)), 0),
]  # fmt: skip


@pytest.mark.parametrize(("t", "start"), [pytest.param(t, s, id=c) for c, t, s in SHIFTS])
def test_a_deferrable_task_starts_in_the_lowest_carbon_window_before_its_deadline(
    t: TaskSpec, start: int
) -> None:
    f = facts_of(t, DIP, shift_carbon=1.0, shift_price=0.0)
    assert f.start_h[0, B] == start
    assert f.start_h[0, A] == 0  # a-home's signal is flat: never deferred


def test_carbon_is_counted_over_the_deferred_run() -> None:
    t = task(**AT_B, deferrable=True, deadline=deadline_in(12))
    f = facts_of(t, DIP, shift_carbon=1.0, shift_price=0.0)
    # 2 units x 10 W x 3 h / 1000 x PUE 1.2 = 0.072 kWh, all three hours at 20 g/kWh
    assert f.carbon_g[0, B] == pytest.approx(0.072 * 20)
    f_now = facts_of(t, DIP, shift_carbon=0.0, shift_price=0.0)  # no shifting at all
    assert f_now.start_h[0, B] == 0
    assert f_now.carbon_g[0, B] == pytest.approx(0.072 * 100)


def test_a_flat_signal_never_defers() -> None:
    t = task(**AT_B, deferrable=True, deadline=deadline_in(20))
    assert (facts_of(t, SNAP, shift_carbon=1.0, shift_price=0.5).start_h == 0).all()


def test_the_price_signal_also_shifts_when_weighed() -> None:
    el = SNAP.elec_price.copy()
    el[SITE_B, 9:12] = 5.0  # cheap electricity at b-near from 09:00 to 12:00
    snap = pin(SNAP, elec_price=el)
    t = task(**AT_B, deferrable=True, deadline=deadline_in(20))
    assert facts_of(t, snap, shift_carbon=1.0, shift_price=1.0).start_h[0, B] == 9
    assert facts_of(t, snap, shift_carbon=1.0, shift_price=0.0).start_h[0, B] == 0


def test_a_deferred_run_is_judged_on_signals_that_cover_it() -> None:
    ci = SNAP.intensity.copy()
    ci[SITE_B, 23] = 10.0  # only the last hour of the 24 h horizon is low
    snap = pin(SNAP, intensity=ci)
    t = task(residency=("FR",), hours=6.0, deferrable=True, deadline=deadline_in(100))
    f = facts_of(t, snap, shift_carbon=1.0, shift_price=0.0)
    start = int(f.start_h[0, B])
    # the chosen window should lie inside the known horizon: the best full window starts at
    # 18 (mean (5 x 100 + 10) / 6 = 85); today it starts at 23 and claims 10 g/kWh for 6 h
    assert start + 6 <= snap.horizon_hours
    assert f.carbon_g[0, B] >= 0.144 * 85 - 1e-9  # 2 x 10 W x 6 h / 1000 x 1.2 = 0.144 kWh


def test_no_network_energy_when_the_input_is_already_at_the_site() -> None:
    f = facts_of(task(input=IN_B))
    # 2 units x 10 W x 3 h / 1000 x PUE 1.2 = 0.072 kWh at 100 g/kWh: 7.2 g, nothing moved
    assert f.egress_micros[0, B] == 0.0
    assert f.transfer_h[0, B] == 0.0
    assert f.energy_kwh[0, B] == pytest.approx(0.072)
    assert f.carbon_g[0, B] == pytest.approx(7.2)


def test_a_memory_request_on_a_pool_without_a_memory_figure_is_not_rejected() -> None:
    state, ctx = judge(task(units=None, demand=_demand(XEON, 2, memory_gb=1.0)))
    fit = ResourceFit().filter(state, ctx)[0]
    assert fit[B], ResourceFit().reason(state, ctx, 0, B)
