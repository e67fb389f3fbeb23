"""Time-of-use electricity tariffs (分时电价): peak / flat / valley windows and their price ratios.

A :class:`TouSchedule` says, for every local hour of every month, which band applies and what
the band's price is relative to the flat price. Chinese provinces publish such schedules in
their pricing notices (NDRC 发改价格〔2021〕1093号 asks for a peak:valley ratio of at least 3:1,
4:1 where the daily load swing exceeds 40 %, and a critical peak at least 20 % above peak).

Contracts:

* ``TouPeriod.windows`` cover the 24 local hours exactly once (validated), so every hour has
  exactly one band.
* ``TouSchedule.periods`` cover the 12 months exactly once (validated).
* Price ratios are relative to the flat band: every ratio is positive and a flat ratio, where
  given, is exactly 1 (validated). ``TouSchedule.ratios`` apply all year; a period's optional
  ``TouPeriod.ratios`` override them band by band in that period's months (bands it does not
  name keep the schedule's ratio). Every band a period's windows use has a ratio in the
  period's override or in the schedule (validated).
* :meth:`TouSchedule.bands` and :meth:`TouSchedule.price_per_mwh` are vectorized over hours
  counted from the Unix epoch in UTC (see :mod:`suanwang.core.energy.clock`); the price looks
  each hour up in a (13 months, 5 bands) ratio table built once per call.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from suanwang.core.base import Frozen
from suanwang.core.energy.clock import local_hour_and_month


class TouBand(StrEnum):
    """A tariff band, dearest first (尖峰 / 高峰 / 平段 / 低谷 / 深谷)."""

    CRITICAL_PEAK = "critical-peak"
    PEAK = "peak"
    FLAT = "flat"
    VALLEY = "valley"
    DEEP_VALLEY = "deep-valley"


BAND_ORDER: tuple[TouBand, ...] = tuple(TouBand)
"""Bands in a fixed order; ``bands()`` returns indices into this tuple."""

PEAK_BANDS = frozenset({TouBand.CRITICAL_PEAK, TouBand.PEAK})
VALLEY_BANDS = frozenset({TouBand.VALLEY, TouBand.DEEP_VALLEY})


class TouWindow(Frozen):
    """Local hours ``[start, end)`` in one band; ``end`` may be 24. Wrapping is two windows."""

    start: int = Field(ge=0, le=23)
    end: int = Field(ge=1, le=24)
    band: TouBand

    @model_validator(mode="after")
    def _ordered(self) -> TouWindow:
        if self.end <= self.start:
            raise ValueError(
                f"window {self.start}-{self.end}: end must be after start "
                "(split a window that wraps midnight into two)"
            )
        return self


def _check_ratios(ratios: dict[TouBand, float], where: str) -> None:
    """Raise ``ValueError`` unless every ratio is positive and a flat ratio is exactly 1."""
    if any(r <= 0.0 for r in ratios.values()):
        raise ValueError(f"{where}: price ratios must be positive")
    if ratios.get(TouBand.FLAT, 1.0) != 1.0:
        raise ValueError(f"{where}: the flat band's ratio is 1 by definition")


class TouPeriod(Frozen):
    """The daily windows that apply in some months (e.g. summer with a critical peak).

    ``ratios``, when given, override the schedule's ratios band by band in these months (for
    notices whose peak/valley ratios differ by season); bands not named keep the schedule's.
    """

    months: tuple[int, ...] = Field(min_length=1)
    windows: tuple[TouWindow, ...] = Field(min_length=1)
    ratios: dict[TouBand, float] | None = None

    @model_validator(mode="after")
    def _covers_day(self) -> TouPeriod:
        if any(m < 1 or m > 12 for m in self.months):
            raise ValueError(f"months must be 1-12, got {sorted(self.months)}")
        seen = np.zeros(24, dtype=np.int64)
        for w in self.windows:
            seen[w.start : w.end] += 1
        if not np.all(seen == 1):
            bad = [h for h in range(24) if seen[h] != 1]
            raise ValueError(f"windows must cover each local hour exactly once; check hours {bad}")
        if self.ratios is not None:
            _check_ratios(self.ratios, f"period for months {sorted(self.months)}")
        return self

    def band_of_hour(self) -> npt.NDArray[np.int8]:
        """Band index (into :data:`BAND_ORDER`) for local hours 0..23."""
        out = np.empty(24, dtype=np.int8)
        for w in self.windows:
            out[w.start : w.end] = BAND_ORDER.index(w.band)
        return out


class TouSchedule(Frozen):
    """A zone's time-of-use tariff.

    ``flat_price_per_mwh`` is the flat-band energy price in ``currency``; each band's price is
    ``flat x ratio``, where the ratio is the period's override (``TouPeriod.ratios``) if it
    names the band, else ``ratios[band]``. ``utc_offset_hours`` converts UTC hours to local
    clock hours (no daylight saving: China has none).
    """

    zone: str = Field(min_length=2)
    utc_offset_hours: float = Field(ge=-12.0, le=14.0)
    periods: tuple[TouPeriod, ...] = Field(min_length=1)
    ratios: dict[TouBand, float]
    flat_price_per_mwh: float = Field(gt=0.0)
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    source: str = Field(min_length=1, description="the notice the windows come from")
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> TouSchedule:
        months = sorted(m for p in self.periods for m in p.months)
        if months != list(range(1, 13)):
            raise ValueError(f"{self.zone}: periods must cover months 1-12 exactly once")
        _check_ratios(self.ratios, self.zone)
        for period in self.periods:
            known = set(self.ratios) | set(period.ratios or {})
            missing = sorted({w.band.value for w in period.windows if w.band not in known})
            if missing:
                raise ValueError(
                    f"{self.zone}: no price ratio for band(s) {missing} "
                    f"in months {sorted(period.months)}"
                )
        return self

    def ratios_in(self, period: TouPeriod) -> dict[TouBand, float]:
        """The ratios that apply in ``period``: the schedule's, overridden by the period's."""
        return {**self.ratios, **(period.ratios or {})}

    def _ratio_table(self) -> npt.NDArray[np.float64]:
        """(13, 5) price ratios by month (row 0 unused) and band index; 1.0 where unused."""
        table = np.ones((13, len(BAND_ORDER)), dtype=np.float64)
        for period in self.periods:
            merged = self.ratios_in(period)
            row = np.array([merged.get(b, 1.0) for b in BAND_ORDER], dtype=np.float64)
            for m in period.months:
                table[m] = row
        return table

    def _table(self) -> npt.NDArray[np.int8]:
        """(13, 24) band indices by month (row 0 unused) and local hour."""
        table = np.zeros((13, 24), dtype=np.int8)
        for period in self.periods:
            row = period.band_of_hour()
            for m in period.months:
                table[m] = row
        return table

    def bands(self, epoch_hours: npt.NDArray[np.int64]) -> npt.NDArray[np.int8]:
        """Band index (into :data:`BAND_ORDER`) of each UTC epoch hour."""
        hour, month = local_hour_and_month(epoch_hours, self.utc_offset_hours)
        return self._table()[month, hour]

    def price_per_mwh(self, epoch_hours: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Energy price in ``currency`` per MWh for each UTC epoch hour (month-specific ratios)."""
        hour, month = local_hour_and_month(epoch_hours, self.utc_offset_hours)
        band = self._table()[month, hour]
        ratio: npt.NDArray[np.float64] = self._ratio_table()[month, band]
        return self.flat_price_per_mwh * ratio
