"""Explanations (explain, why_not) agree with the scheduler; pipelines are placed jointly with
their transfers; gangs are placed all or nothing, through Reserve and Permit."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from pydantic import ValidationError
from schedkit import CITIES, START, deadline_in, pin, random_tasks, task, tiny_snapshot

from suanwang.core.errors import UnknownIdError
from suanwang.core.scheduling.explain import explain, why_not
from suanwang.core.scheduling.framework import Code, Context, CycleState, Profile
from suanwang.core.scheduling.groups import TaskGroups
from suanwang.core.scheduling.jobs import Gang, Pipeline, place_gang, place_pipeline
from suanwang.core.scheduling.plan import Plan
from suanwang.core.scheduling.plugins import FREE, CapacityReserve, GangPermit
from suanwang.core.scheduling.scheduler import schedule
from suanwang.core.scheduling.snapshot import CLASSES, Snapshot
from suanwang.core.tasks import TaskSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world.builtin import load_builtin_world

TINY = tiny_snapshot()
PRICE_ONLY = Profile(name="price-only", weights={"price": 1.0})
BEIJING, FRANKFURT = CITIES[0], CITIES[3]
H100_UNITS = 989.0


@cache
def builtin() -> Snapshot:
    return Snapshot.build(load_builtin_world(), UNIT_TABLE, START)


def site_of(plan: Plan, t: int) -> str:
    return plan.snap.site_ids[int(plan.snap.pool_site[plan.arrays.pool[t]])]


# --- explain on the tiny world (scores by hand) ------------------------------------------------
def test_explain_ranks_every_site_with_its_scores() -> None:
    ex = explain(task(), TINY, PRICE_ONLY)
    # 2 units x 3 h: a 9, b 6, c 3, d 4.8 USD; best 3: penalties 1 (2.0 clipped), 1, 0, 0.6
    assert [(v.site, v.score, v.rank) for v in ex.sites] == [
        ("c-far", 100.0, 1),
        ("d-end", 40.0, 2),
        ("a-home", 0.0, 3),  # equal scores rank by site id
        ("b-near", 0.0, 4),
    ]
    assert (ex.chosen, ex.runner_up, ex.feasible_sites) == ("c-far", "d-end", 4)
    assert ex.rejected_by == {}
    assert ex.verdict("a-home").pool == "intel-xeon-8380"  # not the AI pool that rejects it
    assert ex.verdict("d-end").scores == {"price": 40.0}
    assert ex.mode == "balanced"
    assert ex.task == "t"
    assert ex.verdict("z-nowhere") is None


def test_explain_gives_the_rejected_sites_their_filters_reason() -> None:
    ex = explain(task(data_class="personal"), TINY, PRICE_ONLY)
    # only a (9 USD) and b (6 USD) may take EU personal data: a's penalty (9 - 6) / 6 = 0.5
    assert [(v.site, v.score) for v in ex.sites if v.feasible] == [("b-near", 100.0),
                                                                   ("a-home", 50.0)]  # fmt: skip
    assert ex.rejected_by == {"sovereignty": 2}
    assert ex.verdict("c-far").reason.startswith("sovereignty: rule eu-personal-data")
    assert ex.verdict("d-end").reason.startswith(
        "sovereignty: no network path from the task's origin to d-end that stays within"
    )
    assert [v.site for v in ex.sites] == ["b-near", "a-home", "c-far", "d-end"]


WHY_NOT: list[tuple[TaskSpec, str, str]] = [
    # task, site, the one line
    (task(), "c-far", "c-far is the best site for t (score 100; runner-up d-end at 40)"),
    (task(), "d-end",
     "d-end can take t but ranks 2 of 4 (score 40 vs 100 for c-far; behind on price 40 vs 100)"),
    (task(), "b-near",
     "b-near can take t but ranks 4 of 4 (score 0 vs 100 for c-far; behind on price 0 vs 100)"),
    (task(data_class="personal"), "c-far",
     "c-far cannot take t: sovereignty: rule eu-personal-data (GDPR Chapter V art. 45 adequacy "
     "decisions): personal data from DE may only go to EEA"),
    (task(units=12.0), "a-home",
     "a-home cannot take t: resource-fit: needs 12 units, 10 free in intel-xeon-8380"),
    (task(latency_sla={"max_ms": 20.0, "mode": "round-trip"}), "c-far",
     "c-far cannot take t: latency-sla: round-trip latency 42.0 ms exceeds the SLA of 20 ms"),
    (task(budget_micros=5_000_000), "b-near",
     "b-near cannot take t: budget: costs 6.00 USD (compute 6.00 + egress 0.00), over the "
     "budget of 5.00 USD"),
    (task(latency_sla={"max_ms": 1.0, "mode": "one-way"}), "a-home",
     "a-home is the best site for t (score 100)"),  # the only feasible site: no runner-up
]  # fmt: skip


@pytest.mark.parametrize(("t", "site", "line"), WHY_NOT)
def test_why_not_answers_in_one_line(t: TaskSpec, site: str, line: str) -> None:
    got = why_not(t, site, TINY, PRICE_ONLY)
    assert got.startswith(line)
    assert "\n" not in got


def test_why_not_an_unknown_site_is_an_error_with_suggestions() -> None:
    with pytest.raises(UnknownIdError, match="unknown site 'c-fa'; did you mean c-far"):
        why_not(task(), "c-fa", TINY)


# --- explain agrees with schedule on the built-in world ----------------------------------------
@pytest.mark.parametrize(
    ("t", "mode"),
    [
        (task("ai", units=500.0, cls="ai", origin=FRANKFURT), "balanced"),
        (task("core", units=32.0, origin=BEIJING, data_class="core"), "balanced"),
        (
            task(
                "edge",
                units=8.0,
                origin=FRANKFURT,
                latency_sla={"max_ms": 10.0, "mode": "round-trip"},
            ),
            "latency",
        ),
        (task("green", units=200.0, cls="ai", origin=BEIJING), "carbon"),
        (task("cheap", units=64.0, cls="hpc", origin=FRANKFURT), "cost"),
    ],
)
def test_explain_chooses_what_schedule_places_for_a_single_task(t: TaskSpec, mode: str) -> None:
    profile = Profile.for_mode(mode)
    ex = explain(t, builtin(), profile)
    plan = schedule([t], builtin(), profile=profile)
    assert ex.chosen == site_of(plan, 0)
    assert ex.runner_up == plan.runner_up[0]
    assert ex.sites[0].scores == plan.placement(0)["scores"]
    assert why_not(t, ex.chosen, builtin(), profile).startswith(f"{ex.chosen} is the best site")
    assert len(ex.sites) == len(builtin().site_ids)
    assert sum(ex.rejected_by.values()) == len(ex.sites) - ex.feasible_sites


def test_a_core_data_task_is_told_why_it_cannot_go_abroad() -> None:
    t = task("core", units=32.0, origin=BEIJING, data_class="core")
    line = why_not(t, "de-frankfurt", builtin())
    assert line == (
        "de-frankfurt cannot take core: sovereignty: rule cn-core-data (PRC Data Security Law "
        "2021 art. 21/31; PIPL 2021 art. 38-40): core data from CN must stay in CN; site is in DE"
    )
    ex = explain(t, builtin())
    snap = builtin()
    general = {int(s) for s, c in zip(snap.pool_site, snap.pool_class, strict=True)
               if CLASSES[int(c)].value == "general"}  # fmt: skip
    abroad = [s for s, c in enumerate(snap.site_country) if c != "CN"]
    # a foreign site with a general pool fails on sovereignty; one without (e.g. an HPC centre)
    # fails first on resource-fit, the filter that rejects its most promising pool
    assert ex.rejected_by["sovereignty"] == sum(1 for s in abroad if s in general)
    assert ex.verdict("us-oak-ridge").reason.startswith(  # type: ignore[union-attr]
        "resource-fit: pool amd-mi250x sells hpc, the task needs general"
    )


@pytest.mark.parametrize("seed", range(12))
def test_explain_and_schedule_agree_on_random_single_tasks_up_to_ties(seed: int) -> None:
    t = random_tasks(seed, 1)[0]
    ex = explain(t, builtin())
    plan = schedule([t], builtin())
    if ex.chosen is None:
        assert len(plan.placed) == 0
        assert plan.arrays.reason[0] in ex.rejected_by
        return
    best = ex.sites[0].score
    placed = ex.verdict(site_of(plan, 0))
    assert placed is not None
    assert placed.feasible
    assert placed.score == best
    if plan.runner_up[0] is not None:
        second = max(v.score or 0.0 for v in ex.sites if v.feasible and v.site != placed.site)
        assert ex.verdict(plan.runner_up[0]).score == second  # type: ignore[union-attr]


# --- Reserve and Permit ------------------------------------------------------------------------
def _ctx(*tasks: TaskSpec) -> tuple[CycleState, Context]:
    groups = TaskGroups.of(list(tasks), TINY)
    state = CycleState()
    state.write(FREE, TINY.pool_free.copy())
    return state, Context(groups, TINY, np.arange(groups.n, dtype=np.int64), TINY.pool_free)


def test_capacity_reserve_takes_units_from_the_scratch_copy_and_gives_them_back() -> None:
    state, ctx = _ctx(task())  # 2 units
    b = 2  # b-near's pool: 4 units
    assert CapacityReserve().reserve(state, ctx, 0, b).ok
    assert CapacityReserve().reserve(state, ctx, 0, b).ok
    third = CapacityReserve().reserve(state, ctx, 0, b)
    assert third.code is Code.UNSCHEDULABLE
    assert third.reasons == ("b-near/intel-xeon-8380: needs 2 units, 0 free",)
    assert third.plugin == "capacity"
    CapacityReserve().unreserve(state, ctx, 0, b)
    assert state.read(FREE)[b] == 2.0
    assert TINY.pool_free[b] == 4.0  # the snapshot itself never changes


@pytest.mark.parametrize(
    ("permit", "pools", "why"),
    [
        (GangPermit(), [0, 2, 3], None),  # a, b, c: distinct sites
        (GangPermit(), [0, 1], "two members would share a site"),  # both pools at a-home
        (GangPermit(distinct_sites=False), [0, 1], None),
        (GangPermit(max_spread_ms=21.0), [0, 3], None),  # a to c: 2 hops = 21 ms
        (GangPermit(max_spread_ms=15.0), [0, 3], "member sites are 21.0 ms apart (limit 15 ms)"),
        (GangPermit(max_spread_ms=15.0), [2, 3, 4], "member sites are 21.0 ms apart"),  # b to d
        (GangPermit(max_spread_ms=15.0), [3], None),  # one member has no spread
    ],
)
def test_gang_permit(permit: GangPermit, pools: list[int], why: str | None) -> None:
    state, ctx = _ctx(task())
    status = permit.permit(state, ctx, [(0, p) for p in pools])
    if why is None:
        assert status.ok
    else:
        assert status.code is Code.UNSCHEDULABLE
        assert status.reasons[0].startswith(why)
        assert status.plugin == "gang"


# --- pipelines ---------------------------------------------------------------------------------
PREP = task("prep", units=32.0, hours=2.0, origin=FRANKFURT,
            latency_sla={"max_ms": 5.0, "mode": "one-way"})  # fmt: skip
TRAIN = task("train", units=8 * H100_UNITS, cls="ai", hours=10.0, origin=FRANKFURT)


def test_a_pipeline_preprocesses_near_the_origin_and_trains_on_an_ai_pool() -> None:
    snap = builtin()
    pipe = Pipeline(name="fine-tune", stages=(PREP, TRAIN), transfer_gb=(500.0,))
    job = place_pipeline(pipe, snap, Profile.for_mode("carbon"))
    assert job.placed
    prep, train = job.tasks
    reach = {x.site: x.one_way_ms for x in snap.network.latencies_from_point(*FRANKFURT[1:])}
    assert reach[prep.site] is not None
    assert reach[prep.site] <= 5.0
    pool = next(p for p in snap.pools_of(snap.site_index(train.site))
                if snap.pool_model[p] == train.pool)  # fmt: skip
    assert CLASSES[int(snap.pool_class[pool])].value == "ai"
    assert prep.site != train.site  # carbon pulls training to a cleaner grid
    (hop,) = job.transfers
    path = snap.network.path(prep.site, train.site)
    rate = min(10.0, path.bottleneck_gbps or np.inf)  # one flow's cap
    assert (hop["from"], hop["to"], hop["gb"]) == (prep.site, train.site, 500.0)
    assert hop["hours"] == pytest.approx(500 * 8 / rate / 3600, abs=1e-4)
    assert hop["egress_micros"] == pytest.approx(500 * path.price_per_gb_micros, abs=1)
    assert prep.start_h == 0.0
    assert train.start_h == pytest.approx(2.0 + hop["hours"], abs=1e-4)
    assert job.end_h == pytest.approx(2.0 + hop["hours"] + 10.0, abs=1e-4)


def test_a_pipeline_chain_accounts_for_every_hop() -> None:
    job = place_pipeline(
        Pipeline(name="p", stages=(PREP, TRAIN), transfer_gb=(500.0,)), builtin(),
        Profile.for_mode("balanced"),
    )  # fmt: skip
    assert job.placed
    (hop,) = job.transfers
    assert (hop["from"], hop["to"]) == (job.tasks[0].site, job.tasks[1].site)
    if hop["from"] == hop["to"]:  # staying put moves nothing
        assert hop["hours"] == 0.0
        assert hop["egress_micros"] == 0
    assert job.end_h == pytest.approx(2.0 + hop["hours"] + 10.0, abs=1e-4)  # back to back


def test_a_pipeline_whose_chain_misses_the_deadline_is_not_placed() -> None:
    # each stage fits alone (10 h of training by 11 h), but 2 h of preparation come first
    late = TRAIN.model_copy(update={"deadline": deadline_in(11.0)})
    job = place_pipeline(Pipeline(name="p", stages=(PREP, late), transfer_gb=(500.0,)), builtin())
    assert not job.placed
    assert job.tasks == ()
    assert job.objective is None
    assert job.reason.startswith("deadline: the best chain ends ")  # 2 h + transfer + 10 h
    assert job.reason.endswith("after the deadline 11.00 h")


def test_a_pipeline_with_a_stage_nobody_can_run_says_which() -> None:
    nowhere = task("nowhere", cls="ai", units=1e9)
    job = place_pipeline(Pipeline(name="p", stages=(PREP, nowhere), transfer_gb=(1.0,)), builtin())
    assert not job.placed
    assert job.reason.startswith("stage 2 (nowhere): resource-fit: needs 1,000,000,000 units")


def test_a_tiny_pipeline_by_hand() -> None:
    # price only; prep is pinned to a-home by a 1 ms SLA, training (4 units x 10 h) is free to go:
    # a 60, b 40, c 20, d 32 USD; moving 5 GB to c costs 5 x (0.02 + 0.05) = 0.35 USD and takes
    # 5 x 8 / 0.05 Gbps (bc) = 800 s = 0.2222 h
    prep = task("prep", hours=1.0, latency_sla={"max_ms": 1.0, "mode": "one-way"})
    train = task("train", units=4.0, hours=10.0)
    job = place_pipeline(Pipeline(name="p", stages=(prep, train), transfer_gb=(5.0,)), TINY,
                         PRICE_ONLY)  # fmt: skip
    assert [(s.site, s.cost_micros) for s in job.tasks] == [("a-home", 3_000_000),
                                                            ("c-far", 20_000_000)]  # fmt: skip
    assert job.transfers == ({"from": "a-home", "to": "c-far", "gb": 5.0, "hours": 0.2222,
                              "egress_micros": 350_000},)  # fmt: skip
    assert job.end_h == pytest.approx(11.2222)


def test_a_price_only_pipeline_takes_the_chain_that_costs_less() -> None:
    # training at a-home now costs 0.9 USD/unit-hour: 4 x 10 x 0.9 = 36 USD there, against
    # 20 USD at c-far + 20 GB x 0.07 USD/GB = 1.4 USD of egress = 21.4 USD
    snap = pin(TINY, pool_price=np.array([0.9e6, 3000, 1.0e6, 0.5e6, 0.8e6]))
    prep = task("prep", hours=1.0, latency_sla={"max_ms": 1.0, "mode": "one-way"})
    train = task("train", units=4.0, hours=10.0)
    job = place_pipeline(Pipeline(name="p", stages=(prep, train), transfer_gb=(20.0,)), snap,
                         PRICE_ONLY)  # fmt: skip
    assert job.tasks[1].site == "c-far"


def test_pipelines_are_validated() -> None:
    with pytest.raises(ValidationError, match="give one transfer size per pair"):
        Pipeline(name="p", stages=(PREP, TRAIN), transfer_gb=(1.0, 2.0))
    with pytest.raises(ValidationError, match="transfer sizes must be >= 0 GB"):
        Pipeline(name="p", stages=(PREP, TRAIN), transfer_gb=(-1.0,))
    with pytest.raises(ValidationError, match="at least 2 items"):
        Pipeline(name="p", stages=(PREP,), transfer_gb=())


# --- gangs -------------------------------------------------------------------------------------
def _members(n: int, h100: int, **fields: object) -> tuple[TaskSpec, ...]:
    return tuple(task(f"m{i}", units=h100 * H100_UNITS, cls="ai", origin=FRANKFURT,
                      **fields) for i in range(n))  # type: ignore[arg-type]  # fmt: skip


def test_a_gang_too_big_for_the_world_is_not_placed_and_takes_nothing() -> None:
    snap = builtin()
    free, version = snap.pool_free.copy(), snap.network.version
    # 15,000 H100s each: only us-ashburn (20,000) holds one, and not two
    job = place_gang(Gang(name="big", members=_members(2, 15_000), distinct_sites=False), snap)
    assert not job.placed
    assert job.tasks == ()
    assert job.objective is None
    assert job.reason == "gang not placed: member m1: no site left that fits"
    np.testing.assert_array_equal(snap.pool_free, free)
    assert snap.network.version == version
    # two of 7,000 do fit, together in us-ashburn
    two = place_gang(Gang(name="two", members=_members(2, 7_000), distinct_sites=False), snap)
    assert [s.site for s in two.tasks] == ["us-ashburn", "us-ashburn"]


def test_a_gang_on_distinct_sites_uses_one_site_per_member() -> None:
    gang = Gang(name="g", members=_members(4, 4))
    job = place_gang(gang, builtin())
    assert job.placed
    assert [s.task for s in job.tasks] == ["m0", "m1", "m2", "m3"]
    assert len({s.site for s in job.tasks}) == 4
    together = place_gang(gang.model_copy(update={"distinct_sites": False}), builtin())
    assert together.placed
    assert len({s.site for s in together.tasks}) < 4  # without the rule they bunch up
    assert together.objective is not None
    assert job.objective is not None
    assert together.objective <= job.objective + 1e-9  # a looser rule never costs more


@pytest.mark.parametrize("spread", [10.0, 20.0])
def test_a_gang_respects_its_maximum_spread(spread: float) -> None:
    snap = builtin()
    job = place_gang(Gang(name="g", members=_members(4, 4), max_spread_ms=spread), snap)
    assert job.placed
    idx = [snap.site_index(s.site) for s in job.tasks]
    worst = snap.network.cost_map().one_way_ms[np.ix_(idx, idx)].max()
    assert worst <= spread
    assert len(set(idx)) == 4
    free = place_gang(Gang(name="g", members=_members(4, 4)), snap)  # the limit binds
    idx = [snap.site_index(s.site) for s in free.tasks]
    assert snap.network.cost_map().one_way_ms[np.ix_(idx, idx)].max() > spread


def test_a_gang_whose_spread_cannot_be_met_is_not_placed() -> None:
    job = place_gang(Gang(name="g", members=_members(4, 4), max_spread_ms=3.0), builtin())
    assert not job.placed
    assert job.reason.startswith("gang not placed: member m")


def test_gangs_are_validated() -> None:
    with pytest.raises(ValidationError, match="at least 2 items"):
        Gang(name="g", members=_members(1, 1))
    with pytest.raises(ValidationError, match="greater than 0"):
        Gang(name="g", members=_members(2, 1), max_spread_ms=0.0)
