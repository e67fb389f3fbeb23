"""Per-task accounting: hand-worked cases and the invariants the issue names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.core.energy.accounting import TaskUsage, account_task, account_tasks, totals
from suanwang.core.energy.clock import epoch_hour
from suanwang.core.energy.power import PowerModel
from suanwang.core.energy.signals import MeasuredYear, builtin_book
from suanwang.core.energy.tariffs import PEAK_BANDS
from suanwang.core.errors import SuanwangError
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world.builtin import load_builtin_world

WORLD = load_builtin_world()
BOOK = builtin_book(WORLD)
SITES = {s.id: s for s in WORLD.sites}
CN_SITE = next(s for s in WORLD.sites if s.grid_zone == "CN-GZ")
DE_SITE = next(s for s in WORLD.sites if s.grid_zone == "DE")
START = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)


def usage(site: str, hours: float = 3.0, start: datetime = START, **extra: object) -> TaskUsage:
    return TaskUsage.model_validate(
        {
            "id": "t",
            "site": site,
            "start": start,
            "duration_hours": hours,
            "demand": {"compute_class": "ai", "model": "nvidia-h100", "count": 8},
            **extra,
        }
    )


def flat_book(intensity: float, price: float) -> object:
    """The built-in book with DE's signals replaced by constants (a hand-workable world)."""
    return BOOK.with_measured(
        "DE",
        intensity=MeasuredYear(2022, np.full(8760, intensity), "constant"),
        price=MeasuredYear(2022, np.full(8760, price), "constant"),
    )


def test_hand_worked_task_on_constant_signals() -> None:
    book = flat_book(intensity=400.0, price=120.0)
    acc = account_task(usage(DE_SITE.id, transfer_gb=500.0), DE_SITE, book, UNIT_TABLE)  # type: ignore[arg-type]
    it_kwh = 8 * 700.0 * 3 / 1000.0  # 16.8 kWh
    facility = it_kwh * DE_SITE.pue
    assert acc.kwh_it == pytest.approx(it_kwh)
    assert acc.kwh_facility == pytest.approx(facility)
    assert acc.kwh_network == pytest.approx(0.5)
    assert acc.kwh_total == pytest.approx(facility + 0.5)
    assert acc.gco2e_location == pytest.approx((facility + 0.5) * 400.0)
    assert acc.cost_usd == pytest.approx(facility * 0.120)
    assert acc.cost_micros == round(facility * 0.120 * 1e6)


def test_hour_lines_sum_to_the_totals_and_split_partial_hours() -> None:
    acc = account_task(usage(CN_SITE.id, hours=5.25), CN_SITE, BOOK, UNIT_TABLE, detail=True)
    assert [line.hours for line in acc.lines] == [0.5, 1.0, 1.0, 1.0, 1.0, 0.75]
    assert sum(line.it_kwh for line in acc.lines) == pytest.approx(acc.kwh_it)
    assert sum(line.facility_kwh for line in acc.lines) == pytest.approx(acc.kwh_facility)
    assert sum(line.gco2e_location for line in acc.lines) == pytest.approx(acc.gco2e_location)
    assert sum(line.cost_usd for line in acc.lines) == pytest.approx(acc.cost_usd)
    peak = sum(line.facility_kwh for line in acc.lines if line.band in PEAK_BANDS)
    assert acc.peak_share == pytest.approx(peak / acc.kwh_facility)


@settings(max_examples=40, deadline=None)
@given(
    green=st.floats(0.0, 1.0),
    hours=st.floats(0.1, 72.0),
    offset_min=st.integers(0, 59),
    transfer=st.floats(0.0, 1e4),
)
def test_location_and_market_based_differ_exactly_by_the_certified_share(
    green: float, hours: float, offset_min: int, transfer: float
) -> None:
    site = CN_SITE.model_copy(update={"green_share": green})
    u = usage(
        site.id, hours=hours, start=START + timedelta(minutes=offset_min), transfer_gb=transfer
    )
    acc = account_task(u, site, BOOK, UNIT_TABLE, detail=True)
    facility_g = sum(line.gco2e_location for line in acc.lines)
    assert acc.gco2e_location - acc.gco2e_market == pytest.approx(
        green * facility_g, rel=1e-9, abs=1e-12 * acc.gco2e_location
    )
    assert acc.gco2e_market <= acc.gco2e_location + 1e-9
    assert sum(line.hours for line in acc.lines) == pytest.approx(hours)


def test_a_fully_certified_site_still_pays_for_network_carbon() -> None:
    site = DE_SITE.model_copy(update={"green_share": 1.0})
    book = flat_book(intensity=300.0, price=50.0)
    acc = account_task(usage(site.id, transfer_gb=1000.0), site, book, UNIT_TABLE)  # type: ignore[arg-type]
    assert acc.gco2e_market == pytest.approx(1.0 * 300.0)


def test_units_run_on_the_sites_largest_pool_of_the_class() -> None:
    u = TaskUsage.model_validate(
        {
            "id": "etl",
            "site": DE_SITE.id,
            "start": START,
            "duration_hours": 1,
            "demand": {"compute_class": "general", "units": 10},
        }
    )
    acc = account_task(u, DE_SITE, BOOK, UNIT_TABLE)
    pool = max((p for p in DE_SITE.pools if p.compute_class == "general"), key=lambda p: p.count)
    rating = UNIT_TABLE.model(pool.model).ratings[pool.compute_class]
    assert acc.model == pool.model
    assert acc.devices == pytest.approx(10 / rating)
    assert acc.it_watts == pytest.approx(PowerModel().it_watts(pool.model, 10 / rating, 1.0, 0.0))


def test_peak_share_is_one_inside_a_peak_window_and_zero_in_the_valley() -> None:
    sig = BOOK.signals("CN-GZ", epoch_hour(datetime(2026, 11, 22, tzinfo=UTC)), 24)
    peak = [int(h) for h, b in zip(sig.hours, sig.band_names(), strict=True) if b in PEAK_BANDS]
    valley = [int(h) for h, b in zip(sig.hours, sig.band_names(), strict=True) if b == "valley"]
    at = datetime(1970, 1, 1, tzinfo=UTC)
    in_peak = usage(CN_SITE.id, hours=1.0, start=at + timedelta(hours=peak[0]))
    in_valley = usage(CN_SITE.id, hours=1.0, start=at + timedelta(hours=valley[0]))
    assert account_task(in_peak, CN_SITE, BOOK, UNIT_TABLE).peak_share == 1.0
    assert account_task(in_valley, CN_SITE, BOOK, UNIT_TABLE).peak_share == 0.0


def test_totals_add_up_and_peak_share_is_energy_weighted() -> None:
    tasks = [usage(CN_SITE.id, hours=h) for h in (1.0, 2.5, 7.0)]
    accounts, total = account_tasks(tasks, SITES, BOOK, UNIT_TABLE)
    assert total.tasks == 3
    assert total.kwh_total == pytest.approx(sum(a.kwh_total for a in accounts))
    assert total.cost_micros == sum(a.cost_micros for a in accounts)
    weighted = sum(a.peak_share * a.kwh_facility for a in accounts) / total.kwh_facility
    assert total.peak_share == pytest.approx(weighted)
    assert totals([]).tasks == 0


def test_bad_tasks_are_clear_errors() -> None:
    with pytest.raises(SuanwangError, match="task t: unknown site 'nowhere'"):
        account_tasks([usage("nowhere")], SITES, BOOK, UNIT_TABLE)
    no_ai = next(s for s in WORLD.sites if all(p.compute_class != "ai" for p in s.pools))
    bad = TaskUsage.model_validate(
        {
            "id": "needs-ai",
            "site": no_ai.id,
            "start": START,
            "duration_hours": 1,
            "demand": {"compute_class": "ai", "units": 100},
        }
    )
    with pytest.raises(SuanwangError, match=r"task needs-ai: site .* sells no ai compute"):
        account_task(bad, no_ai, BOOK, UNIT_TABLE)
    with pytest.raises(ValueError, match="timezone"):
        usage(CN_SITE.id, start=datetime(2026, 1, 1))
