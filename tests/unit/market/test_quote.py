"""Quotes on the built-in world: offers, exact money, and why nothing fits.

Every expectation follows from geography, law or arithmetic (a CN core-data task stays in CN;
a budget below the cheapest price has no offer; half a GPU costs half), or from the scheduler's
own verdicts (``explain``), never from numbers copied from an earlier run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from suanwang.core.energy.clock import epoch_hour, hour_start
from suanwang.core.errors import SuanwangError
from suanwang.core.market.money import rate_cumulative
from suanwang.core.market.quote import Offer, Quote, money_text, quote
from suanwang.core.scheduling.explain import explain
from suanwang.core.scheduling.framework import Profile
from suanwang.core.scheduling.snapshot import Snapshot
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.tasks import TaskSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world.builtin import load_builtin_world

START = epoch_hour(datetime(2026, 7, 1, 4, tzinfo=UTC))
FRANKFURT = {"country": "DE", "lat": 50.11, "lon": 8.68}
BEIJING = {"country": "CN", "lat": 39.90, "lon": 116.40}
MOSCOW = {"country": "RU", "lat": 55.75, "lon": 37.62}
MID_ATLANTIC = {"country": "PT", "lat": 40.0, "lon": -30.0}  # far from every site
H100 = {"compute_class": "ai", "model": "nvidia-h100", "count": 1}


@cache
def world() -> Any:
    return load_builtin_world()


@cache
def snap() -> Snapshot:
    return Snapshot.build(world(), UNIT_TABLE, START)


def task(name: str = "t", **fields: Any) -> TaskSpec:
    """An H100 task for 2 hours from Frankfurt, unless ``fields`` say otherwise."""
    spec: dict[str, Any] = {
        "name": name,
        "tenant": "acme",
        "demand": H100,
        "duration_hours": 2.0,
        "origin": FRANKFURT,
        **fields,
    }
    return TaskSpec.model_validate(spec)


def one(t: TaskSpec, top: int = 1000, profile: Profile | None = None) -> Quote:
    (q,) = quote([t], snap(), profile, top=top)
    return q


def exact(x: Decimal) -> int:
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


# --- offers ---------------------------------------------------------------------------------------
def test_cn_core_data_is_offered_only_in_cn() -> None:
    demand = {"compute_class": "ai", "units": 500.0}
    core = one(task("core", origin=BEIJING, data_class="core", demand=demand))
    public = one(task("public", origin=BEIJING, data_class="public", demand=demand))
    assert core.offers
    assert {o.country for o in core.offers} == {"CN"}
    assert {o.country for o in public.offers} > {"CN"}  # the law, not geography, keeps it home
    cn_sites = {s.id for s in world().sites if s.country == "CN"}
    assert {o.site for o in core.offers} <= cn_sites
    assert core.feasible_sites < public.feasible_sites
    assert core.rejected_by["sovereignty"] > 0


def test_offers_are_sorted_cheapest_first_one_per_site_and_capped() -> None:
    tasks = generate_tasks(world(), 120, np.random.default_rng(3), start=hour_start(START))
    for q in quote(tasks, snap(), top=4):
        keys = [(o.total_micros, o.site) for o in q.offers]
        assert keys == sorted(keys)
        assert len({o.site for o in q.offers}) == len(q.offers) <= min(4, q.feasible_sites)
        assert q.best == (q.offers[0] if q.offers else None)
        assert bool(q.offers) == (q.feasible_sites > 0) == q.has_offer
        assert bool(q.no_offer) != q.has_offer
        for o in q.offers:
            assert o.total_micros == o.compute_micros + o.egress_micros
            assert o.within_budget
        if not q.has_offer:
            assert q.summary.startswith(f"No site can take {q.task}: ")
            assert sum(r.sites for r in q.no_offer) == len(world().sites)


def test_top_keeps_the_cheapest_of_all_offers() -> None:
    t = task()
    every, three = one(t), one(t, top=3)
    assert three.offers == every.offers[:3]
    assert three.feasible_sites == every.feasible_sites == len(every.offers)


def test_money_is_exact_units_times_hours_times_price() -> None:
    q = one(task(duration_hours=0.3))
    for o in q.offers:
        want = Decimal("989") * Decimal("0.3") * o.price_per_unit_hour_micros
        assert o.compute_micros == exact(want)
        assert (o.units, o.devices, o.hours, o.egress_micros) == (989.0, 1.0, 0.3, 0)


def test_money_is_billed_like_a_lease_milli_units_and_whole_seconds() -> None:
    cpu = {"compute_class": "general", "units": 1 / 3}
    q = one(task(demand=cpu, duration_hours=1 / 7))
    assert q.offers
    for o in q.offers:
        assert o.units == 0.333  # milli-units, rounded once
        seconds = 514  # 3600 / 7 = 514.29 s
        want = Decimal(333) * seconds * o.price_per_unit_hour_micros / 3_600_000
        assert o.compute_micros == exact(want)
        assert o.compute_micros == rate_cumulative(333 * seconds, o.price_per_unit_hour_micros)


def test_half_a_gpu_costs_exactly_half() -> None:
    for hours in (2.0, 3.0):  # 3 h: odd micros at some sites, so the half rounds half-even
        whole = one(task("whole", duration_hours=hours))
        half = one(task("half", duration_hours=hours, demand={**H100, "count": 0.5}))
        assert [(o.site, o.pool) for o in half.offers] == [(o.site, o.pool) for o in whole.offers]
        for w, h in zip(whole.offers, half.offers, strict=True):
            assert (h.units, h.devices) == (494.5, 0.5)
            assert h.compute_micros == exact(Decimal(w.compute_micros) / 2)
            assert h.total_micros == h.compute_micros
        if hours == 2.0:
            pairs = zip(whole.offers, half.offers, strict=True)
            assert all(2 * h.compute_micros == w.compute_micros for w, h in pairs)


def test_egress_is_input_gb_times_an_integer_price_per_gb() -> None:
    gb = Decimal("1234.5")
    q = one(task(input={"site": "us-ashburn", "size_gb": 1234.5}))
    by_site = {o.site: o for o in q.offers}
    assert by_site["us-ashburn"].egress_micros == 0  # the data is already there
    moved = [o for o in q.offers if o.site != "us-ashburn"]
    assert moved
    assert all(o.egress_micros > 0 for o in moved)
    for o in q.offers:
        per_gb = (Decimal(o.egress_micros) / gb).to_integral_value()
        assert o.egress_micros == exact(gb * per_gb)
        assert o.total_micros == o.compute_micros + o.egress_micros


def test_identical_tasks_get_the_same_offers_nothing_is_reserved() -> None:
    big = {**H100, "count": 1000}
    a, b = quote([task("a", demand=big), task("b", demand=big)], snap(), top=5)
    assert a.offers == b.offers
    assert a.offers
    assert (a.task, b.task) == ("a", "b")


def test_used_capacity_moves_the_best_offer() -> None:
    q = one(task())
    best = q.best
    assert best is not None
    site = world().site(best.site)
    index = next(i for i, p in enumerate(site.pools) if p.model == best.pool)
    full = Snapshot.build(world(), UNIT_TABLE, START, used={(site.id, index): 1e12})
    (after,) = quote([task()], full, top=1000)
    assert best.site not in {o.site for o in after.offers}
    assert after.best == q.offers[1]


def test_the_best_site_agrees_with_explain() -> None:
    tasks = generate_tasks(world(), 40, np.random.default_rng(11), start=hour_start(START))
    for mode in ("balanced", "carbon"):
        profile = Profile.for_mode(mode)
        for t, q in zip(tasks, quote(tasks, snap(), profile, top=1000), strict=True):
            ex = explain(t, snap(), profile)
            feasible = {v.site for v in ex.sites if v.feasible}
            assert {o.site for o in q.offers} == feasible, t.name
            assert q.rejected_by == ex.rejected_by
            assert q.feasible_sites == ex.feasible_sites
            assert q.mode == mode
            if q.best is not None:
                assert ex.verdict(q.best.site).feasible  # type: ignore[union-attr]


# --- no offer -------------------------------------------------------------------------------------
def test_a_tiny_budget_names_the_cheapest_price() -> None:
    free = one(task("free"))
    tight = one(task("tight", budget_micros=1_000_000))
    assert free.best is not None
    assert free.best.total_micros > 1_000_000
    assert not tight.has_offer
    assert tight.best is None
    budget = tight.no_offer[0]  # the nearest miss comes first
    assert budget.filter == "budget"
    assert budget.examples[0] == free.best.site
    assert budget.sites == free.feasible_sites
    price = money_text(free.best.total_micros, "USD")
    assert f"would cost {price}" in budget.message
    assert "over the budget of 1.00 USD" in budget.message
    assert f"cheapest {price} vs a budget of 1.00 USD" in tight.summary


def test_a_budget_below_a_cent_is_shown_exactly() -> None:
    q = one(task(budget_micros=1_000))
    assert "over the budget of 0.001 USD" in q.no_offer[0].message


def test_an_impossible_latency_sla_names_the_best_latency() -> None:
    free = one(task("free", origin=MID_ATLANTIC))
    best = min(o.latency_ms for o in free.offers)
    nearest = min(free.offers, key=lambda o: (o.latency_ms, o.site))
    sla = {"max_ms": best / 2, "mode": "one-way"}
    q = one(task("fast", origin=MID_ATLANTIC, latency_sla=sla))
    assert not q.has_offer
    reason = q.no_offer[0]
    assert reason.filter == "latency-sla"
    assert reason.examples[0] == nearest.site
    assert f"{best:.1f} ms one-way" in reason.message
    assert f"best latency {best:.1f} ms one-way vs an SLA of {best / 2:g} ms" in q.summary
    rtt = one(task("rtt", origin=MID_ATLANTIC, latency_sla={**sla, "mode": "round-trip"}))
    assert f"{2 * best:.1f} ms round-trip" in rtt.no_offer[0].message


def test_sovereignty_with_no_allowed_site_says_so() -> None:
    general = {"compute_class": "general", "units": 4.0}
    q = one(task(origin=MOSCOW, data_class="personal", demand=general))
    assert not q.has_offer
    reason = q.no_offer[0]
    assert reason.filter == "sovereignty"
    selling = [s for s in world().sites if any(p.compute_class == "general" for p in s.pools)]
    assert reason.sites == len(selling)  # the others sell no general compute (resource-fit)
    assert sum(r.sites for r in q.no_offer) == len(world().sites)
    assert "personal data from RU must stay in RU" in reason.message
    assert "no site of the world is allowed" in reason.message
    assert "ru-personal-data" in reason.example_reason


def test_cn_core_data_on_hardware_cn_lacks_points_at_both_causes() -> None:
    q = one(task(origin=BEIJING, data_class="core"))  # no CN site sells H100s
    assert not q.has_offer
    by_filter = {r.filter: r for r in q.no_offer}
    assert set(by_filter) == {"sovereignty", "resource-fit"}
    n_cn = sum(1 for s in world().sites if s.country == "CN")
    sov = by_filter["sovereignty"]
    assert "core data from CN must stay in CN" in sov.message
    assert f"{n_cn} sites are allowed (CN): rejected by resource-fit ({n_cn})" in sov.message
    assert "none of nvidia-h100" in by_filter["resource-fit"].message
    assert "none sells nvidia-h100" in q.summary


def test_resource_fit_names_the_memory_and_the_capacity_shortfall() -> None:
    mem = one(task(demand={**H100, "memory_gb": 200.0}))
    (fit,) = mem.no_offer
    assert fit.filter == "resource-fit"
    assert fit.sites == len(world().sites)
    assert "at most 80 GB of device memory vs 200 GB needed" in mem.summary
    huge = one(task(demand={**H100, "count": 1_000_000}))
    (fit,) = huge.no_offer
    most = max(
        p.count * 989.0
        for s in world().sites
        for p in s.pools
        if p.model == "nvidia-h100" and p.compute_class == "ai"
    )
    assert f"at most {most:,.0f} units free vs 989,000,000 needed" in huge.summary


def test_a_deadline_too_close_names_the_earliest_finish() -> None:
    q = one(task(deadline=hour_start(START) + timedelta(hours=1)))
    reason = q.no_offer[0]
    assert reason.filter == "deadline"
    assert "earliest finish 2.00 h vs a deadline 1.00 h from now" in q.summary


# --- values ---------------------------------------------------------------------------------------
def test_quotes_round_trip_through_json() -> None:
    tasks = [task("a"), task("b", budget_micros=1)]
    for q in quote(tasks, snap(), top=2):
        assert Quote.model_validate(q.model_dump(mode="json")) == q


def test_a_quote_must_be_consistent() -> None:
    q = one(task(), top=2)
    assert q.best is not None
    with pytest.raises(ValidationError, match="best must be the first offer"):
        Quote.model_validate({**q.model_dump(), "best": q.offers[1].model_dump()})
    with pytest.raises(ValidationError, match="compute_micros \\+ egress_micros"):
        Offer.model_validate({**q.best.model_dump(), "total_micros": 1})


def test_money_text() -> None:
    assert money_text(12_400_000, "USD") == "12.40 USD"
    assert money_text(1_234_567_890) == "1,234.57"
    assert money_text(4_200) == "0.0042"
    assert money_text(0, "EUR") == "0.00 EUR"
    assert money_text(12_345) == "0.01"  # half-even at the cent: 0.012345 -> 0.01


def test_bad_requests_raise() -> None:
    with pytest.raises(SuanwangError, match="at least one offer"):
        quote([task()], snap(), top=0)
    with pytest.raises(SuanwangError, match="appears twice"):
        quote([task("x"), task("x")], snap())
    assert quote([], snap()) == []


def test_the_budget_miss_passes_every_other_check_whatever_the_filter_order() -> None:
    first = Profile(name="budget-first", filters=("budget", "resource-fit", "sovereignty"))
    cpu = {"compute_class": "general", "units": 8.0}
    free = one(task("free", demand=cpu, origin=BEIJING, data_class="core"), profile=first)
    assert free.best is not None
    tight = one(
        task("tight", demand=cpu, origin=BEIJING, data_class="core", budget_micros=1),
        profile=first,
    )
    budget = next(r for r in tight.no_offer if r.filter == "budget")
    assert f"{free.best.site} ({free.best.pool}), would cost" in budget.message
    assert free.best.country == "CN"
