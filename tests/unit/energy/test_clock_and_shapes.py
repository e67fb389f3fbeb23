"""Epoch-hour calendars and synthetic shapes: specifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.core.energy.clock import (
    civil,
    day_of_year,
    epoch_hour,
    hour_start,
    same_hour_in_year,
    year_hours,
    year_start,
)
from suanwang.core.energy.shapes import ShapeParams, hourly_from_annual, synthetic_outdoor_c
from suanwang.core.errors import SuanwangError

moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


@given(moments, st.sampled_from([-8.0, 0.0, 5.5, 8.0, 12.75]))
def test_civil_matches_the_standard_library(moment: datetime, offset: float) -> None:
    hour = epoch_hour(moment)
    y, m, d, h = civil(np.array([hour]), offset)
    local = hour_start(hour) + timedelta(hours=offset)
    local = local.replace(minute=0) if offset % 1 else local
    assert (int(y[0]), int(m[0]), int(d[0]), int(h[0])) == (
        local.year,
        local.month,
        local.day,
        local.hour,
    )
    assert int(day_of_year(np.array([hour]), offset)[0]) == local.timetuple().tm_yday - 1


def test_epoch_hour_floors_and_needs_a_zone() -> None:
    assert epoch_hour(datetime(1970, 1, 1, 1, 59, tzinfo=UTC)) == 1
    with pytest.raises(SuanwangError, match="no time zone"):
        epoch_hour(datetime(2026, 1, 1))


@pytest.mark.parametrize(("year", "hours"), [(2022, 8760), (2024, 8784), (2100, 8760)])
def test_a_year_has_its_hours(year: int, hours: int) -> None:
    span = year_hours(year)
    assert span.size == hours
    assert hour_start(int(span[0])) == datetime(year, 1, 1, tzinfo=UTC)
    assert year_start(year) == span[0]


def test_same_hour_in_another_year_keeps_the_calendar_and_folds_leap_day() -> None:
    leap_day = epoch_hour(datetime(2024, 2, 29, 5, tzinfo=UTC))
    mapped = same_hour_in_year(np.array([leap_day]), 2022)
    assert hour_start(int(mapped[0])) == datetime(2022, 2, 28, 5, tzinfo=UTC)
    later = epoch_hour(datetime(2026, 11, 22, 13, tzinfo=UTC))
    back = same_hour_in_year(np.array([later]), 2022)
    assert hour_start(int(back[0])) == datetime(2022, 11, 22, 13, tzinfo=UTC)


@settings(max_examples=30, deadline=None)
@given(
    annual=st.floats(10.0, 1200.0),
    lat=st.floats(-60.0, 70.0),
    lon=st.floats(-180.0, 180.0),
    year=st.integers(2000, 2040),
    evening=st.floats(0.0, 0.3),
    solar=st.floats(0.0, 0.5),
    seasonal=st.floats(-0.4, 0.4),
)
def test_a_synthetic_shape_integrates_exactly_to_its_annual_factor(
    annual: float,
    lat: float,
    lon: float,
    year: int,
    evening: float,
    solar: float,
    seasonal: float,
) -> None:
    params = ShapeParams(evening=evening, solar=solar, seasonal=seasonal)
    values = hourly_from_annual(annual, year_hours(year), lat, lon, params)
    assert values.mean() == pytest.approx(annual, rel=1e-12)
    assert np.all(values > 0)


def test_a_window_sees_the_same_hours_as_its_year() -> None:
    year = year_hours(2026)
    whole = hourly_from_annual(500.0, year, 38.0, 106.0)
    window = hourly_from_annual(500.0, year[1000:1048], 38.0, 106.0)
    np.testing.assert_allclose(window, whole[1000:1048])


def test_a_window_across_new_year_normalizes_each_year_separately() -> None:
    span = np.arange(year_hours(2027)[0] - 24, year_hours(2027)[0] + 24, dtype=np.int64)
    values = hourly_from_annual(300.0, span, 30.0, 120.0)
    np.testing.assert_allclose(
        values[:24], hourly_from_annual(300.0, year_hours(2026), 30.0, 120.0)[-24:]
    )
    np.testing.assert_allclose(
        values[24:], hourly_from_annual(300.0, year_hours(2027), 30.0, 120.0)[:24]
    )


def test_the_default_shape_has_a_midday_dip_and_an_evening_peak() -> None:
    # A summer day at Zhongwei (UTC+7 solar): compare local noon with local 19:00.
    day = epoch_hour(datetime(2026, 7, 1, tzinfo=UTC)) - 7
    values = hourly_from_annual(600.0, np.arange(day, day + 24), 37.5, 105.2)
    assert values[12] < values[19]
    assert values.argmin() in range(9, 16)


def test_synthetic_climate_is_warmer_in_local_summer_and_afternoon() -> None:
    july = epoch_hour(datetime(2026, 7, 15, 7, tzinfo=UTC))
    january = epoch_hour(datetime(2026, 1, 15, 7, tzinfo=UTC))
    north = synthetic_outdoor_c(np.array([july, january]), 40.0, 116.0)
    south = synthetic_outdoor_c(np.array([july, january]), -34.0, 151.0)
    assert north[0] > north[1]
    assert south[0] < south[1]
