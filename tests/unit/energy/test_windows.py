"""Renewable-surplus windows and best blocks."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanwang.core.energy.clock import epoch_hour, hour_start
from suanwang.core.energy.forecast import Persistence
from suanwang.core.energy.signals import builtin_book
from suanwang.core.energy.tariffs import VALLEY_BANDS
from suanwang.core.energy.windows import best_block, find_windows, low_carbon_threshold, runs
from suanwang.core.errors import SuanwangError
from suanwang.world.builtin import load_builtin_world

BOOK = builtin_book(load_builtin_world())
START = epoch_hour(datetime(2026, 11, 22, tzinfo=UTC))


@given(st.lists(st.booleans(), max_size=60))
def test_runs_are_exactly_the_true_stretches(flags: list[bool]) -> None:
    mask = np.array(flags, dtype=bool)
    rebuilt = np.zeros(mask.size, dtype=bool)
    previous_end = -1
    for a, b in runs(mask):
        assert a > previous_end  # disjoint and separated by a False
        rebuilt[a:b] = True
        previous_end = b
    np.testing.assert_array_equal(rebuilt, mask)


@given(st.lists(st.floats(-100, 100), min_size=1, max_size=50), st.integers(1, 50))
def test_best_block_is_the_minimum_mean_run(values: list[float], length: int) -> None:
    array = np.array(values)
    if length > array.size:
        with pytest.raises(SuanwangError):
            best_block(array, length)
        return
    i, mean = best_block(array, length)
    means = [array[j : j + length].mean() for j in range(array.size - length + 1)]
    assert mean == pytest.approx(min(means), abs=1e-9)
    assert array[i : i + length].mean() == pytest.approx(min(means), abs=1e-9)


@pytest.mark.parametrize("zone", ["CN-NX", "CN-SC", "DE", "KE", "US-CAL-CISO"])
def test_windows_hold_exactly_the_surplus_hours(zone: str) -> None:
    report = find_windows(BOOK, zone, START, 72)
    sig = BOOK.signals(zone, START, 72)
    surplus = (sig.intensity_g_per_kwh <= report.threshold_g_per_kwh) | sig.is_band(VALLEY_BANDS)
    in_windows = np.zeros(72, dtype=bool)
    for w in report.windows:
        a = epoch_hour(w.start) - START
        in_windows[a : a + w.hours] = True
        assert w.end == hour_start(START + a + w.hours)
    np.testing.assert_array_equal(in_windows, surplus)
    assert report.surplus_hours == int(surplus.sum())
    assert report.greenest.mean_intensity_g_per_kwh <= sig.intensity_g_per_kwh[:4].mean() + 1e-9


def test_the_threshold_is_the_zones_own_percentile() -> None:
    clean, dirty = (low_carbon_threshold(BOOK, z, START, 20.0) for z in ("CN-SC", "CN-NX"))
    assert clean < dirty
    assert low_carbon_threshold(BOOK, "CN-NX", START, 10.0) < dirty
    with pytest.raises(SuanwangError, match="percentile"):
        low_carbon_threshold(BOOK, "CN-NX", START, 100.0)


def test_china_valley_tariff_hours_count_as_surplus_even_when_not_low_carbon() -> None:
    report = find_windows(BOOK, "CN-GD", START, 24, percentile=1.0)
    assert report.windows
    assert all(w.valley_hours > 0 for w in report.windows)


def test_a_forecaster_sees_only_the_past() -> None:
    report = find_windows(BOOK, "DE", START, 24, forecaster=Persistence())
    history = BOOK.signals("DE", START - 1, 1)
    assert report.forecast == "persistence"
    assert report.greenest.mean_intensity_g_per_kwh == pytest.approx(
        float(history.intensity_g_per_kwh[0])
    )
    assert "forecast by persistence" in report.provenance["intensity"].source
