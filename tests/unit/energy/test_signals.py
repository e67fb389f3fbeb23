"""Signals per grid zone: where each number comes from, and what a pack changes."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from suanwang.core.energy.builtin_tables import GCP_ZONE_INTENSITY
from suanwang.core.energy.china import PROVINCE_FACTORS, PROVINCE_TOU
from suanwang.core.energy.clock import epoch_hour, year_hours
from suanwang.core.energy.signals import (
    CNY_PER_USD,
    FALLBACK_PRICE_USD_PER_MWH,
    WORLD_AVERAGE_G_PER_KWH,
    MeasuredYear,
    SignalOrigin,
    builtin_annual,
    builtin_book,
    derive_bands,
)
from suanwang.core.energy.tariffs import BAND_ORDER, TouBand
from suanwang.core.errors import SuanwangError, UnknownIdError
from suanwang.world.builtin import load_builtin_world

WORLD = load_builtin_world()
BOOK = builtin_book(WORLD)
NOON_2026 = epoch_hour(datetime(2026, 6, 1, 12, tzinfo=UTC))


def test_every_site_zone_has_signals_with_an_origin() -> None:
    zones = {s.grid_zone for s in WORLD.sites}
    assert zones == set(BOOK.zones)
    for zone in zones:
        sig = BOOK.signals(zone, NOON_2026, 24)
        assert sig.intensity_g_per_kwh.shape == (24,)
        assert np.all(sig.intensity_g_per_kwh > 0)
        assert np.all(np.isfinite(sig.price_usd_per_mwh))
        assert set(sig.provenance) == {"intensity", "price", "bands"}


@pytest.mark.parametrize(
    ("zone", "country", "method"),
    [
        ("CN-GZ", "CN", "mee-province"),
        ("DE", "DE", "gcp-region"),
        ("CL-SEN", "CL", "gcp-region"),
        ("US-NY-NYIS", "US", "gcp-country-proxy"),
        ("KE", "KE", "fallback"),
    ],
)
def test_the_annual_factor_follows_the_documented_order(
    zone: str, country: str, method: str
) -> None:
    assert builtin_annual(zone, country).method == method


def test_china_uses_the_official_provincial_factor_and_tariff() -> None:
    annual = builtin_annual("CN-SC", "CN")
    assert annual.g_per_kwh == pytest.approx(PROVINCE_FACTORS["CN-SC"].kg_co2_per_kwh * 1000)
    sig = BOOK.signals("CN-SC", NOON_2026, 24)
    assert sig.provenance["price"].origin is SignalOrigin.TARIFF
    tariff = PROVINCE_TOU["CN-SC"]
    expected = tariff.price_per_mwh(sig.hours) / CNY_PER_USD
    np.testing.assert_allclose(sig.price_usd_per_mwh, expected)
    np.testing.assert_array_equal(sig.bands, tariff.bands(sig.hours))


def test_the_country_proxy_is_the_mean_of_google_regions_in_the_country() -> None:
    us = [v for z, (v, _) in GCP_ZONE_INTENSITY.items() if z.split("-")[0] == "US"]
    assert builtin_annual("US-NY-NYIS", "US").g_per_kwh == pytest.approx(
        sum(us) / len(us), abs=0.01
    )


def test_a_zone_without_data_says_fallback() -> None:
    sig = BOOK.signals("KE", NOON_2026, 24)
    assert sig.provenance["price"].origin is SignalOrigin.FALLBACK
    assert np.all(sig.price_usd_per_mwh == FALLBACK_PRICE_USD_PER_MWH)
    assert np.all(sig.bands == BAND_ORDER.index(TouBand.FLAT))
    year = BOOK.signals("KE", int(year_hours(2026)[0]), 8760)
    assert year.intensity_g_per_kwh.mean() == pytest.approx(WORLD_AVERAGE_G_PER_KWH)


def test_a_measured_year_is_replayed_by_calendar_hour_and_sets_the_annual_factor() -> None:
    values = np.arange(8760, dtype=np.float64) + 1.0
    book = BOOK.with_measured("DE", intensity=MeasuredYear(2022, values, "test data"))
    hour = epoch_hour(datetime(2026, 1, 2, 3, tzinfo=UTC))
    sig = book.signals("DE", hour, 2)
    np.testing.assert_array_equal(sig.intensity_g_per_kwh, [24 + 3 + 1, 24 + 3 + 2])
    assert sig.provenance["intensity"].origin is SignalOrigin.MEASURED
    assert book.zone("DE").annual.g_per_kwh == pytest.approx(values.mean())
    assert BOOK.signals("DE", hour, 1).provenance["intensity"].origin is SignalOrigin.SYNTHETIC


def test_a_measured_year_knows_the_400_year_leap_rule() -> None:
    assert MeasuredYear(2000, np.ones(8784), "leap").values.size == 8784
    with pytest.raises(SuanwangError, match="needs 8760"):
        MeasuredYear(1900, np.ones(8784), "not leap")


def test_a_measured_year_must_be_complete() -> None:
    with pytest.raises(SuanwangError, match="needs 8760 hourly values"):
        MeasuredYear(2022, np.ones(100), "short")
    holes = np.ones(8784)
    holes[5] = np.nan
    with pytest.raises(SuanwangError, match="missing values"):
        MeasuredYear(2024, holes, "holes")


def test_unknown_zones_suggest_close_ones() -> None:
    with pytest.raises(UnknownIdError, match="CN-GZ"):
        BOOK.zone("CN-GZZ")
    with pytest.raises(SuanwangError, match="at least one hour"):
        BOOK.signals("DE", NOON_2026, 0)


def test_derived_bands_mark_six_peak_and_six_valley_hours_per_day_or_none_when_flat() -> None:
    day = np.arange(24, dtype=np.float64)
    bands = derive_bands(np.concatenate([day, np.full(24, 50.0)]))
    first, second = bands[:24], bands[24:]
    assert (first == BAND_ORDER.index(TouBand.PEAK)).sum() == 6
    assert (first == BAND_ORDER.index(TouBand.VALLEY)).sum() == 6
    assert set(first[:6]) == {BAND_ORDER.index(TouBand.VALLEY)}
    assert set(second) == {BAND_ORDER.index(TouBand.FLAT)}
