"""Specification of China's provincial data: MEE CO2 factors and time-of-use tariffs.

The expected figures below were transcribed a second time, by hand, from the same documents as
``suanwang.core.energy.china``; a test fails when the two transcriptions disagree. When a source
changes, update the data module and the figure here in the same change.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from suanwang.core.energy.china import (
    NATIONAL_FACTOR,
    NATIONAL_TYPICAL_FLAT_PRICE_PER_MWH,
    PROVINCE_FACTORS,
    PROVINCE_TOU,
    TOU_POLICY_SOURCE,
    VERIFIED_FLAT_PRICES_PER_MWH,
)
from suanwang.core.energy.clock import epoch_hour, local_hour_and_month, year_hours
from suanwang.core.energy.tariffs import (
    BAND_ORDER,
    PEAK_BANDS,
    VALLEY_BANDS,
    TouBand,
    TouSchedule,
)

CP, P, F, V, DV = (
    TouBand.CRITICAL_PEAK,
    TouBand.PEAK,
    TouBand.FLAT,
    TouBand.VALLEY,
    TouBand.DEEP_VALLEY,
)
CST = timezone(timedelta(hours=8))

# 2022 provincial average factors, kg CO2/kWh (公告2024年第33号); Tibet is the SW regional value.
EXPECTED_FACTORS = {
    "CN-BJ": 0.5580, "CN-TJ": 0.7041, "CN-HE": 0.7252, "CN-SX": 0.7096, "CN-NM": 0.6849,
    "CN-LN": 0.5626, "CN-JL": 0.4932, "CN-HL": 0.5368, "CN-SH": 0.5849, "CN-JS": 0.5978,
    "CN-ZJ": 0.5153, "CN-AH": 0.6782, "CN-FJ": 0.4092, "CN-JX": 0.5752, "CN-SD": 0.6410,
    "CN-HA": 0.6058, "CN-HB": 0.4364, "CN-HN": 0.4900, "CN-GD": 0.4403, "CN-GX": 0.4044,
    "CN-HI": 0.4184, "CN-CQ": 0.5227, "CN-SC": 0.1404, "CN-GZ": 0.4989, "CN-YN": 0.1073,
    "CN-XZ": 0.2268, "CN-SN": 0.6558, "CN-GS": 0.4772, "CN-QH": 0.1567, "CN-NX": 0.6423,
    "CN-XJ": 0.6231,
}  # fmt: skip

SITE_PROVINCES = (
    "CN-GD", "CN-NM", "CN-SH", "CN-BJ", "CN-CQ", "CN-GZ", "CN-ZJ", "CN-GX", "CN-GS",
    "CN-SC", "CN-TJ", "CN-XJ", "CN-HB", "CN-AH", "CN-HE", "CN-HA", "CN-NX",
)  # fmt: skip
"""Provinces that host our sites: each must have a schedule."""

# zone: (peak, valley, critical peak or None, deep valley or None), relative to flat,
# as transcribed from each notice (or the documented stand-in). These are the schedule-wide
# ratios; months with their own ratios are in EXPECTED_MONTH_RATIOS.
EXPECTED_RATIOS: dict[str, tuple[float, float, float | None, float | None]] = {
    "CN-AH": (1.74, 0.382, None, None),
    "CN-BJ": (1.6, 0.4, 1.92, None),
    "CN-CQ": (1.6, 0.38, 1.92, None),
    "CN-FJ": (1.58, 0.37, 1.8, None),
    "CN-GD": (1.7, 0.38, 2.125, None),
    "CN-GS": (1.5, 0.5, None, None),
    "CN-GX": (1.5, 0.5, None, None),
    "CN-GZ": (1.6, 0.4, None, None),
    "CN-HA": (1.72, 0.45, 2.064, None),
    "CN-HB": (1.5, 0.45, 2.0, None),
    "CN-HE": (1.5, 0.5, 1.8, None),
    "CN-HI": (1.7, 0.4, 2.04, None),
    "CN-HN": (1.6, 0.4, 1.92, None),
    "CN-JL": (1.55, 0.45, None, None),
    "CN-JS": (1.8, 0.35, None, None),
    "CN-NM": (1.68, 0.48, None, None),
    "CN-NX": (1.5, 0.5, None, None),
    "CN-QH": (1.63, 0.35, None, None),
    "CN-SC": (1.6, 0.4, 1.92, None),
    "CN-SD": (1.7, 0.3, 2.0, 0.1),
    "CN-SH": (1.6, 0.5, None, None),
    "CN-SN": (1.7, 0.3, 1.9, None),
    "CN-TJ": (1.5, 0.46, None, None),
    "CN-XJ": (1.75, 0.25, 2.0, 0.1),
    "CN-YN": (1.5, 0.5, None, None),
    "CN-ZJ": (1.85, 0.4, 2.05, None),
}


# --- emission factors ---------------------------------------------------------------------


def test_all_31_mainland_provinces_have_a_factor_keyed_by_iso_code() -> None:
    assert set(PROVINCE_FACTORS) == set(EXPECTED_FACTORS)
    assert len(PROVINCE_FACTORS) == 31
    for zone, factor in PROVINCE_FACTORS.items():
        assert factor.zone == zone
        assert factor.name_en
        assert factor.name_zh


@pytest.mark.parametrize(("zone", "expected"), sorted(EXPECTED_FACTORS.items()))
def test_factor_matches_the_transcribed_announcement(zone: str, expected: float) -> None:
    factor = PROVINCE_FACTORS[zone]
    assert factor.kg_co2_per_kwh == pytest.approx(expected, abs=1e-9)
    assert factor.year == 2022
    assert "2024年第33号" in factor.source


def test_factors_are_plausible_and_the_national_average_lies_between_them() -> None:
    values = [f.kg_co2_per_kwh for f in PROVINCE_FACTORS.values()]
    assert all(0.05 <= v <= 1.0 for v in values)
    assert min(values) < NATIONAL_FACTOR.kg_co2_per_kwh < max(values)
    assert NATIONAL_FACTOR.kg_co2_per_kwh == pytest.approx(0.5366)
    assert NATIONAL_FACTOR.year == 2022
    assert NATIONAL_FACTOR.zone == "CN"


def test_extremes_are_hydro_yunnan_and_coal_hebei() -> None:
    by_value = sorted(PROVINCE_FACTORS.values(), key=lambda f: f.kg_co2_per_kwh)
    assert by_value[0].zone == "CN-YN"
    assert by_value[-1].zone == "CN-HE"


def test_tibet_has_no_published_value_and_says_so() -> None:
    tibet = PROVINCE_FACTORS["CN-XZ"]
    assert "STAND-IN" in tibet.note
    assert "Southwest" in tibet.note
    others = [f for z, f in PROVINCE_FACTORS.items() if z != "CN-XZ"]
    assert all("STAND-IN" not in f.note for f in others)


# --- time-of-use schedules ----------------------------------------------------------------


def test_every_site_province_has_a_schedule() -> None:
    assert set(SITE_PROVINCES) <= set(PROVINCE_TOU)
    assert set(PROVINCE_TOU) == set(EXPECTED_RATIOS)


@pytest.mark.parametrize("zone", sorted(PROVINCE_TOU))
def test_schedule_is_a_valid_cny_schedule_at_utc_plus_8(zone: str) -> None:
    schedule = PROVINCE_TOU[zone]
    assert schedule.zone == zone
    assert schedule.utc_offset_hours == 8.0
    assert schedule.currency == "CNY"
    assert schedule.flat_price_per_mwh > 0.0
    assert schedule.source
    # Round-trips through validation: 24 h x 12 months covered exactly once.
    assert TouSchedule.model_validate(schedule.model_dump()) == schedule


@pytest.mark.parametrize(("zone", "expected"), sorted(EXPECTED_RATIOS.items()))
def test_ratios_match_the_transcribed_notice(
    zone: str, expected: tuple[float, float, float | None, float | None]
) -> None:
    peak, valley, critical, deep = expected
    ratios = PROVINCE_TOU[zone].ratios
    assert ratios[P] == pytest.approx(peak)
    assert ratios[V] == pytest.approx(valley)
    assert ratios.get(F, 1.0) == 1.0
    assert ratios.get(CP) == (None if critical is None else pytest.approx(critical))
    assert ratios.get(DV) == (None if deep is None else pytest.approx(deep))


@pytest.mark.parametrize("zone", sorted(PROVINCE_TOU))
def test_bands_are_ordered_and_meet_the_national_3_to_1_floor(zone: str) -> None:
    schedule = PROVINCE_TOU[zone]
    for period in schedule.periods:
        ratios = schedule.ratios_in(period)
        assert ratios[P] > 1.0 > ratios[V]
        assert ratios[P] / ratios[V] >= 3.0 - 1e-9  # 发改价格〔2021〕1093号
        if CP in ratios:
            assert ratios[CP] > ratios[P]
        if DV in ratios:
            assert ratios[DV] < ratios[V]


def test_critical_peak_is_at_least_20_percent_above_peak_where_the_notice_says_so() -> None:
    # Zhejiang's transcribed 2.05 vs 1.85 is only ~11 % above peak: flagged in its note.
    zones = ("CN-BJ", "CN-CQ", "CN-GD", "CN-HA", "CN-HE", "CN-HI", "CN-HN", "CN-NM", "CN-SC")
    zones += ("CN-SH",)
    for zone in zones:
        schedule = PROVINCE_TOU[zone]
        for period in schedule.periods:
            ratios = schedule.ratios_in(period)
            if any(w.band is CP for w in period.windows):
                assert ratios[CP] >= 1.2 * ratios[P] - 1e-9, zone


@pytest.mark.parametrize("zone", sorted(PROVINCE_TOU))
def test_every_local_day_has_a_peak_and_a_valley_hour(zone: str) -> None:
    schedule = PROVINCE_TOU[zone]
    hours = year_hours(2026)
    bands = schedule.bands(hours)
    local_hour, _ = local_hour_and_month(hours, 8.0)
    starts = np.flatnonzero(local_hour == 0)
    peak_idx = [BAND_ORDER.index(b) for b in PEAK_BANDS]
    valley_idx = [BAND_ORDER.index(b) for b in VALLEY_BANDS]
    for start in starts[:-1]:
        day = bands[start : start + 24]
        assert np.isin(day, peak_idx).any()
        assert np.isin(day, valley_idx).any()
    for period in schedule.periods:
        assert {w.band for w in period.windows} <= set(schedule.ratios_in(period))


@pytest.mark.parametrize("zone", sorted(PROVINCE_TOU))
def test_prices_are_flat_times_the_ratio_of_the_hours_month_and_band(zone: str) -> None:
    schedule = PROVINCE_TOU[zone]
    hours = year_hours(2026)
    prices = schedule.price_per_mwh(hours)
    bands = schedule.bands(hours)
    _, months = local_hour_and_month(hours, 8.0)
    by_month = {m: schedule.ratios_in(p) for p in schedule.periods for m in p.months}
    expected = [
        schedule.flat_price_per_mwh * by_month[int(m)][BAND_ORDER[int(b)]]
        for m, b in zip(months, bands, strict=True)
    ]
    np.testing.assert_allclose(prices, expected, rtol=1e-12)


def test_flat_prices_are_verified_or_labelled_stand_ins() -> None:
    for zone, schedule in PROVINCE_TOU.items():
        if zone in VERIFIED_FLAT_PRICES_PER_MWH:
            assert schedule.flat_price_per_mwh == VERIFIED_FLAT_PRICES_PER_MWH[zone][0]
            assert "STAND-IN national typical" not in schedule.note
        else:
            assert schedule.flat_price_per_mwh == NATIONAL_TYPICAL_FLAT_PRICE_PER_MWH
            assert "STAND-IN national typical" in schedule.note
    assert PROVINCE_TOU["CN-BJ"].flat_price_per_mwh == pytest.approx(681.335)
    assert PROVINCE_TOU["CN-CQ"].flat_price_per_mwh == pytest.approx(762.307)
    assert PROVINCE_TOU["CN-HB"].flat_price_per_mwh == pytest.approx(651.886)


def test_sources_cite_document_numbers_and_the_national_policy() -> None:
    for schedule in PROVINCE_TOU.values():
        assert "〔20" in schedule.source, schedule.zone
    assert "1093" in TOU_POLICY_SOURCE
    assert "3:1" in TOU_POLICY_SOURCE
    assert "4:1" in TOU_POLICY_SOURCE
    assert "20 %" in TOU_POLICY_SOURCE


def test_inner_mongolia_is_the_west_grid_and_hebei_the_north_grid() -> None:
    assert "蒙西" in PROVINCE_TOU["CN-NM"].note
    assert "1630" in PROVINCE_TOU["CN-NM"].source
    assert "冀北" in PROVINCE_TOU["CN-HE"].source


# --- hand-worked hours (local clock, Beijing time) ----------------------------------------

HAND_WORKED = [
    # Guangdong: peak 10-12 and 14-19, valley 0-8, critical peak Jul-Sep 11-12 and 15-17
    ("CN-GD", 6, 11, P),
    ("CN-GD", 6, 3, V),
    ("CN-GD", 6, 9, F),
    ("CN-GD", 6, 19, F),
    ("CN-GD", 7, 11, CP),
    ("CN-GD", 7, 14, P),
    ("CN-GD", 9, 16, CP),
    ("CN-GD", 10, 16, P),
    # Beijing: summer critical 11-13 and 16-17, winter critical 18-21, valley 23-7
    ("CN-BJ", 8, 12, CP),
    ("CN-BJ", 8, 16, CP),
    ("CN-BJ", 12, 19, CP),
    ("CN-BJ", 4, 19, P),
    ("CN-BJ", 4, 22, F),
    ("CN-BJ", 4, 23, V),
    # West Inner Mongolia: midday valley; Jun-Aug critical 19-21 and deep valley 13-15
    ("CN-NM", 7, 14, DV),
    ("CN-NM", 1, 14, V),
    ("CN-NM", 7, 20, CP),
    ("CN-NM", 1, 20, P),
    ("CN-NM", 7, 3, F),
    ("CN-NM", 1, 3, V),
    # Shanghai: Jul-Aug critical 12-14, Sep peak 8-15, Jan/Dec critical 19-21
    ("CN-SH", 7, 13, CP),
    ("CN-SH", 9, 13, P),
    ("CN-SH", 4, 13, F),
    ("CN-SH", 1, 20, CP),
    ("CN-SH", 4, 23, V),
    # Zhejiang (2026): midday valley 11-14; summer/winter critical 18-22
    ("CN-ZJ", 7, 19, CP),
    ("CN-ZJ", 4, 19, P),
    ("CN-ZJ", 4, 12, V),
    ("CN-ZJ", 4, 15, F),
    # Xinjiang: deep valley May-Aug 14-16, critical Jul 21-23 and Jan/Nov/Dec 19-21
    ("CN-XJ", 7, 15, DV),
    ("CN-XJ", 7, 22, CP),
    ("CN-XJ", 11, 20, CP),
    ("CN-XJ", 3, 15, V),
    ("CN-XJ", 3, 22, P),
    ("CN-XJ", 3, 2, F),
    # Sichuan: summer windows Jul-Sep, critical Jul-Aug only
    ("CN-SC", 7, 13, CP),
    ("CN-SC", 9, 13, P),
    ("CN-SC", 4, 13, F),
    ("CN-SC", 4, 23, V),
    ("CN-SC", 9, 23, F),
    # Chongqing: critical 12-14 in Jan, Jul, Aug, Dec
    ("CN-CQ", 1, 13, CP),
    ("CN-CQ", 3, 13, P),
    ("CN-CQ", 3, 5, V),
    # North Hebei, Henan, Hubei, Gansu, Ningxia
    ("CN-HE", 7, 18, CP),
    ("CN-HE", 4, 18, P),
    ("CN-HE", 4, 13, V),
    ("CN-HA", 7, 21, CP),
    ("CN-HA", 4, 12, V),
    ("CN-HA", 2, 12, F),
    ("CN-HB", 7, 21, CP),
    ("CN-HB", 4, 19, CP),
    ("CN-HB", 4, 13, V),
    ("CN-GS", 4, 12, V),
    ("CN-GS", 4, 7, P),
    ("CN-GS", 4, 2, F),
    ("CN-NX", 4, 12, V),
    ("CN-NX", 4, 8, P),
    ("CN-NX", 4, 3, F),
]


# Provinces whose notices use different ratios in different months: (zone, month, local hour,
# band, ratio to flat), one or more hours in each month set.
EXPECTED_MONTH_RATIOS = [
    # Shanghai: Feb-Jun, Oct-Nov 1.6 / 0.5; Jan, Jul-Sep, Dec 1.8 / 0.4, critical 1.8 x 1.25
    ("CN-SH", 4, 9, P, 1.6),
    ("CN-SH", 4, 23, V, 0.5),
    ("CN-SH", 7, 9, P, 1.8),
    ("CN-SH", 7, 23, V, 0.4),
    ("CN-SH", 7, 13, CP, 2.25),
    ("CN-SH", 9, 13, P, 1.8),
    ("CN-SH", 1, 20, CP, 2.25),
    ("CN-SH", 12, 9, P, 1.8),
    # Anhui: peak +74 %, but +84.3 % in Jan, Jul-Sep, Dec; valley -61.8 % all year
    ("CN-AH", 4, 17, P, 1.74),
    ("CN-AH", 4, 12, V, 0.382),
    ("CN-AH", 7, 17, P, 1.843),
    ("CN-AH", 7, 12, V, 0.382),
    ("CN-AH", 1, 16, P, 1.843),
    # West Inner Mongolia: windy Jan-May, Sep-Dec 1.68 / 0.48; calm Jun-Aug 1.54 / 0.44,
    # critical 1.54 x 1.2, deep valley 0.44 x 0.8
    ("CN-NM", 1, 20, P, 1.68),
    ("CN-NM", 1, 14, V, 0.48),
    ("CN-NM", 10, 7, P, 1.68),
    ("CN-NM", 7, 18, P, 1.54),
    ("CN-NM", 7, 12, V, 0.44),
    ("CN-NM", 7, 20, CP, 1.848),
    ("CN-NM", 7, 14, DV, 0.352),
    # Hubei: one (verified) set all year; the unverified other-month set is not modelled
    ("CN-HB", 4, 17, P, 1.5),
    ("CN-HB", 7, 17, P, 1.5),
    ("CN-HB", 4, 19, CP, 2.0),
    ("CN-HB", 4, 13, V, 0.45),
]


@pytest.mark.parametrize(("zone", "month", "hour", "band", "ratio"), EXPECTED_MONTH_RATIOS)
def test_month_specific_ratios_price_the_hour(
    zone: str, month: int, hour: int, band: TouBand, ratio: float
) -> None:
    schedule = PROVINCE_TOU[zone]
    moment = datetime(2026, month, 15, hour, 30, tzinfo=CST)
    hours = np.array([epoch_hour(moment)], dtype=np.int64)
    assert band_at(zone, moment) is band
    price = schedule.price_per_mwh(hours)[0]
    assert price == pytest.approx(schedule.flat_price_per_mwh * ratio)


def test_notes_say_the_per_month_ratios_are_modelled() -> None:
    for zone in ("CN-SH", "CN-AH", "CN-NM"):
        schedule = PROVINCE_TOU[zone]
        assert "modelled" in schedule.note, zone
        assert "used here" not in schedule.note, zone
        assert any(p.ratios for p in schedule.periods), zone
    hubei = PROVINCE_TOU["CN-HB"]
    assert "NOT VERIFIED" in hubei.note
    assert all(p.ratios is None for p in hubei.periods)


def band_at(zone: str, moment: datetime) -> TouBand:
    """The band of ``zone``'s schedule in the hour containing ``moment``."""
    index = PROVINCE_TOU[zone].bands(np.array([epoch_hour(moment)], dtype=np.int64))[0]
    return BAND_ORDER[int(index)]


@pytest.mark.parametrize(("zone", "month", "hour", "expected"), HAND_WORKED)
def test_hand_worked_local_hours(zone: str, month: int, hour: int, expected: TouBand) -> None:
    assert band_at(zone, datetime(2026, month, 15, hour, 30, tzinfo=CST)) is expected


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (datetime(2026, 6, 15, 3, tzinfo=UTC), P),  # 11:00 local, June
        (datetime(2026, 6, 14, 19, tzinfo=UTC), V),  # 03:00 local on the 15th
        (datetime(2026, 6, 30, 3, tzinfo=UTC), P),  # 11:00 local, 30 June
        (datetime(2026, 7, 1, 3, tzinfo=UTC), CP),  # 11:00 local, 1 July
        (datetime(2026, 6, 30, 19, tzinfo=UTC), V),  # 03:00 local, 1 July
    ],
)
def test_utc_hours_are_read_on_the_beijing_clock(utc: datetime, expected: TouBand) -> None:
    assert band_at("CN-GD", utc) is expected
