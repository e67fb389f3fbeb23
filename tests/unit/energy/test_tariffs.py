"""Time-of-use schedules with per-period price ratios (generic, hand-built schedules)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from pydantic import ValidationError

from suanwang.core.energy.clock import epoch_hour, year_hours
from suanwang.core.energy.tariffs import TouBand, TouPeriod, TouSchedule, TouWindow

CP, P, F, V = TouBand.CRITICAL_PEAK, TouBand.PEAK, TouBand.FLAT, TouBand.VALLEY
CST = timezone(timedelta(hours=8))
SUMMER = (6, 7, 8)
OTHER = (1, 2, 3, 4, 5, 9, 10, 11, 12)
FLAT_PRICE = 500.0


def _windows(*spec: tuple[int, int, TouBand]) -> tuple[TouWindow, ...]:
    return tuple(TouWindow(start=s, end=e, band=b) for s, e, b in spec)


DAY = _windows((0, 8, V), (8, 17, F), (17, 21, P), (21, 24, F))
SUMMER_DAY = _windows((0, 8, V), (8, 17, F), (17, 19, P), (19, 21, CP), (21, 24, F))


def _schedule(
    summer_ratios: dict[TouBand, float] | None,
    ratios: dict[TouBand, float] | None = None,
    summer_windows: tuple[TouWindow, ...] = DAY,
) -> TouSchedule:
    return TouSchedule(
        zone="XX",
        utc_offset_hours=8.0,
        periods=(
            TouPeriod(months=SUMMER, windows=summer_windows, ratios=summer_ratios),
            TouPeriod(months=OTHER, windows=DAY),
        ),
        ratios={F: 1.0, P: 1.5, V: 0.5} if ratios is None else ratios,
        flat_price_per_mwh=FLAT_PRICE,
        source="hand-built",
    )


def _price(schedule: TouSchedule, month: int, hour: int) -> float:
    moment = datetime(2026, month, 15, hour, 30, tzinfo=CST)
    return float(schedule.price_per_mwh(np.array([epoch_hour(moment)], dtype=np.int64))[0])


SUMMER_PEAK = _schedule({P: 1.8})
SUMMER_CRITICAL = _schedule({P: 1.7, CP: 2.1, V: 0.4}, summer_windows=SUMMER_DAY)


@pytest.mark.parametrize(
    ("schedule", "month", "hour", "ratio"),
    [
        (SUMMER_PEAK, 7, 18, 1.8),  # summer peak: the period's override
        (SUMMER_PEAK, 1, 18, 1.5),  # winter peak: the schedule's ratio
        (SUMMER_PEAK, 7, 3, 0.5),  # summer valley: not overridden, the schedule's
        (SUMMER_PEAK, 7, 12, 1.0),  # flat
        (SUMMER_PEAK, 5, 18, 1.5),  # the months either side of the summer period
        (SUMMER_PEAK, 6, 18, 1.8),
        (SUMMER_PEAK, 9, 18, 1.5),
        (SUMMER_CRITICAL, 8, 20, 2.1),  # a band only the summer period uses and prices
        (SUMMER_CRITICAL, 8, 18, 1.7),
        (SUMMER_CRITICAL, 8, 3, 0.4),
        (SUMMER_CRITICAL, 12, 20, 1.5),
        (SUMMER_CRITICAL, 12, 3, 0.5),
        (_schedule(None), 7, 18, 1.5),  # no override: one set all year
    ],
)
def test_price_uses_the_months_ratio(
    schedule: TouSchedule, month: int, hour: int, ratio: float
) -> None:
    assert _price(schedule, month, hour) == pytest.approx(FLAT_PRICE * ratio)


def test_price_is_vectorized_over_a_year() -> None:
    hours = year_hours(2026)
    prices = SUMMER_PEAK.price_per_mwh(hours)
    assert prices.shape == hours.shape
    assert prices.dtype == np.float64
    assert set(np.unique(prices)) == {FLAT_PRICE * r for r in (0.5, 1.0, 1.5, 1.8)}
    # Summer: 92 days x 4 peak hours at 1.8.
    assert int(np.sum(prices == FLAT_PRICE * 1.8)) == 92 * 4


def test_ratios_in_merges_the_override_over_the_schedule() -> None:
    summer, other = SUMMER_CRITICAL.periods
    assert SUMMER_CRITICAL.ratios_in(summer) == {F: 1.0, P: 1.7, V: 0.4, CP: 2.1}
    assert SUMMER_CRITICAL.ratios_in(other) == {F: 1.0, P: 1.5, V: 0.5}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: TouPeriod(months=SUMMER, windows=DAY, ratios={P: 0.0}), "positive"),
        (lambda: TouPeriod(months=SUMMER, windows=DAY, ratios={V: -0.5}), "positive"),
        (lambda: TouPeriod(months=SUMMER, windows=DAY, ratios={F: 1.1}), "flat"),
        (lambda: _schedule(None, ratios={F: 1.0, P: 1.5, V: 0.0}), "positive"),
        (lambda: _schedule(None, ratios={F: 0.9, P: 1.5, V: 0.5}), "flat"),
        # the summer period uses a critical peak that neither it nor the schedule prices
        (lambda: _schedule({P: 1.8}, summer_windows=SUMMER_DAY), "critical-peak"),
        # the valley has a ratio only in summer, but the other months use it too
        (lambda: _schedule({V: 0.4}, ratios={F: 1.0, P: 1.5}), "valley"),
    ],
)
def test_invalid_ratios_are_rejected(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        build()


@pytest.mark.parametrize(
    ("utc", "ratio"),
    [
        (datetime(2026, 5, 31, 10, tzinfo=UTC), 1.5),  # 18:00 local, 31 May
        (datetime(2026, 6, 1, 10, tzinfo=UTC), 1.8),  # 18:00 local, 1 June
        (datetime(2026, 8, 31, 10, tzinfo=UTC), 1.8),  # 18:00 local, 31 August
        (datetime(2026, 8, 31, 17, tzinfo=UTC), 0.5),  # 01:00 local, 1 September
    ],
)
def test_the_ratio_follows_the_local_month(utc: datetime, ratio: float) -> None:
    hours = np.array([epoch_hour(utc)], dtype=np.int64)
    assert SUMMER_PEAK.price_per_mwh(hours)[0] == pytest.approx(FLAT_PRICE * ratio)
