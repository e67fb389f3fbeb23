"""The synthetic workload: a deterministic, quantised, realistic mix of tasks for a world."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from suanwang.core.scheduling.workload import (
    SLA_MS,
    TIER_SHARES,
    Tier,
    ceil_125,
    generate_tasks,
    population_origins,
    quantise_hours,
    tier_of,
)
from suanwang.core.tasks import DataClass, DataSector, TaskSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.units import ComputeClass
from suanwang.world.builtin import load_builtin_world

WORLD = load_builtin_world()
START = datetime(2026, 3, 1, tzinfo=UTC)
N = 3000


def tasks(seed: int = 1, n: int = N, **kwargs: str) -> list[TaskSpec]:
    return generate_tasks(WORLD, n, np.random.default_rng(seed), start=START, **kwargs)


@pytest.fixture(scope="module")
def mix() -> list[TaskSpec]:
    return tasks()


def units_of(task: TaskSpec) -> float:
    d = task.demand
    if d.units is not None:
        return d.units
    assert d.model is not None
    assert d.count is not None
    return d.count * UNIT_TABLE.model(d.model).rating(d.compute_class)


def test_the_same_seed_gives_the_same_tasks_and_another_seed_other_tasks() -> None:
    assert tasks(seed=5, n=400) == tasks(seed=5, n=400)
    assert tasks(seed=5, n=400) != tasks(seed=6, n=400)


def test_names_are_unique_and_numbered_from_one(mix: list[TaskSpec]) -> None:
    assert [t.name for t in mix] == [f"t{i:06d}" for i in range(1, N + 1)]
    assert [t.name for t in tasks(n=3, id_prefix="job-")] == [
        "job-000001",
        "job-000002",
        "job-000003",
    ]


def test_every_task_validates(mix: list[TaskSpec]) -> None:
    for task in mix:
        assert TaskSpec.model_validate(task.model_dump()) == task


def test_all_four_tiers_appear_in_about_their_shares(mix: list[TaskSpec]) -> None:
    counts = Counter(tier_of(t) for t in mix)
    for tier, share in TIER_SHARES:
        assert counts[tier] / N == pytest.approx(share, abs=0.04), tier


def test_tiers_have_their_shape(mix: list[TaskSpec]) -> None:
    allowed_sla = {ms for ms, _ in SLA_MS}
    for task in mix:
        tier = tier_of(task)
        if tier is Tier.INFERENCE:
            assert task.latency_sla is not None
            assert task.latency_sla.max_ms in allowed_sla
            assert task.duration_hours <= 24
            assert task.deadline is None
            assert task.input is None
        else:
            assert task.latency_sla is None
        if tier is Tier.HPC:
            assert task.demand.compute_class is ComputeClass.HPC
        if tier is Tier.TRAINING:
            assert task.demand.compute_class is ComputeClass.AI
            assert task.input is not None


def test_inference_shares_gpus_in_quarters(mix: list[TaskSpec]) -> None:
    gpu_counts = {
        t.demand.count
        for t in mix
        if tier_of(t) is Tier.INFERENCE and t.demand.model is not None and t.demand.count
    }
    fractional_units = [
        t
        for t in mix
        if tier_of(t) is Tier.INFERENCE
        and t.demand.compute_class is ComputeClass.AI
        and t.demand.units is not None
        and t.demand.units < 65.0  # less than one T4: a quarter or half GPU
    ]
    assert gpu_counts <= {0.25, 0.5, 1.0, 2.0}
    assert fractional_units


def test_many_tasks_are_identical_apart_from_their_name(mix: list[TaskSpec]) -> None:
    groups = Counter(t.model_dump_json(exclude={"name"}) for t in mix)
    assert len(groups) < 0.6 * N
    assert groups.most_common(1)[0][1] >= 20


def test_values_come_from_small_sets(mix: list[TaskSpec]) -> None:
    for task in mix:
        assert task.duration_hours == quantise_hours(task.duration_hours)
        if task.input is not None:
            assert task.input.size_gb == ceil_125(task.input.size_gb)
        if task.budget_micros is not None:
            assert task.budget_micros == ceil_125(task.budget_micros)


def test_every_model_constrained_demand_names_a_model_the_world_sells(
    mix: list[TaskSpec],
) -> None:
    sold = {(p.compute_class, p.model) for s in WORLD.sites for p in s.pools}
    constrained = [t.demand for t in mix if t.demand.model is not None]
    assert 0.05 * N < len(constrained) < 0.5 * N  # mostly units, some hardware constraints
    for demand in constrained:
        assert (demand.compute_class, demand.model) in sold


def test_origins_are_country_label_points_weighted_by_population(mix: list[TaskSpec]) -> None:
    countries = {c.code: c for c in WORLD.countries}
    for task in mix:
        country = countries[task.origin.country]
        assert (task.origin.lat, task.origin.lon) == (country.lat, country.lon)
        assert task.origin.site is None
    share = sum(t.origin.country in ("CN", "IN") for t in mix) / N
    assert 0.25 < share < 0.45  # about 35 % of the world's people


def test_population_origins_skip_countries_without_people_or_a_label_point() -> None:
    origins, p = population_origins(WORLD)
    assert "TW" not in {o.country for o in origins}  # no World Bank population
    assert p.sum() == pytest.approx(1.0)
    assert (p > 0).all()


def test_input_data_sits_in_the_origin_country_when_it_has_a_site(mix: list[TaskSpec]) -> None:
    hosting = {s.country for s in WORLD.sites}
    with_input = [t for t in mix if t.input is not None]
    assert with_input
    for task in with_input:
        assert task.input is not None
        if task.origin.country in hosting:
            assert WORLD.site(task.input.site).country == task.origin.country


def test_deadlines_leave_room_for_the_run(mix: list[TaskSpec]) -> None:
    for task in mix:
        if task.deferrable:
            assert task.deadline is not None
        if task.deadline is not None:
            assert task.deadline >= START + timedelta(hours=1.5 * task.duration_hours)
            assert task.deadline <= START + timedelta(hours=4 * task.duration_hours)
    assert any(t.deferrable for t in mix)
    assert any(t.interruptible for t in mix)


def test_budgets_are_generous_against_the_median_price(mix: list[TaskSpec]) -> None:
    prices: dict[ComputeClass, list[int]] = {c: [] for c in ComputeClass}
    for site in WORLD.sites:
        for pool in site.pools:
            prices[pool.compute_class].append(pool.price_per_unit_hour_micros)
    median = {c: float(np.median(v)) for c, v in prices.items()}
    budgeted = [t for t in mix if t.budget_micros is not None]
    assert 0.2 * N < len(budgeted) < 0.6 * N
    for task in budgeted:
        assert task.budget_micros is not None
        cost = units_of(task) * task.duration_hours * median[task.demand.compute_class]
        assert task.budget_micros >= 1.5 * cost


def test_data_classes_sectors_and_residency_are_mixed(mix: list[TaskSpec]) -> None:
    assert {t.data_class for t in mix} == set(DataClass)
    sectors = Counter(t.sector for t in mix)
    assert set(sectors) == set(DataSector)
    assert sectors[DataSector.GENERAL] > N / 2
    tags = {tag for s in WORLD.sites for tag in s.jurisdiction}
    resident = [t for t in mix if t.residency]
    assert 0 < len(resident) < 0.2 * N
    for task in resident:
        assert set(task.residency) <= tags


def test_no_tasks_and_bad_arguments() -> None:
    assert tasks(n=0) == []
    with pytest.raises(ValueError, match="n must be"):
        tasks(n=-1)
    with pytest.raises(ValueError, match="timezone"):
        generate_tasks(WORLD, 5, np.random.default_rng(0), start=datetime(2026, 1, 1))


def test_ceil_125_rounds_up_on_the_1_2_5_series() -> None:
    assert [ceil_125(x) for x in (0.3, 1, 1.01, 2, 3, 7, 10, 11, 45_000)] == [
        0.5,
        1,
        2,
        2,
        5,
        10,
        10,
        20,
        50_000,
    ]
    assert [quantise_hours(h) for h in (0.01, 0.25, 0.26, 1.0)] == [0.25, 0.25, 0.5, 1.0]
