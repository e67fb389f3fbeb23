"""Synthetic hourly shapes that turn an annual carbon factor into an hourly series.

Where no measured hourly data exists (no pack, and always for China's provinces, whose
official factors are annual), the hourly intensity is

    CI(t) = annual x raw(t) / mean(raw over the calendar year of t)

so the hours of each calendar year average *exactly* to the annual factor (a time average:
an annual factor is a generation-weighted average, and we treat the two as equal). ``raw`` is a
product of three documented, assumed (not measured) effects, on local solar time
(UTC + longitude / 15):

* **evening peak**: ``1 + evening x exp(-((h - 19.5) / 2.5)^2)``: fossil peakers follow the
  evening demand peak (about 19:00-20:00, after sunset);
* **solar dip**: ``1 - solar x daylight(h) x season_sun(day)``: midday PV lowers intensity,
  more in the local summer;
* **season**: ``1 + seasonal x cos(2 pi (day - winter_peak) / 365.25)``: heating-season
  coal, winter in the northern hemisphere; a negative ``seasonal`` with ``wet_season`` moved
  models hydro provinces whose summer rains clean the grid.

The amplitudes are per-zone parameters (:class:`ShapeParams`) and are deliberately modest:
they are there so that time-shifting has something realistic to find, and the output always
labels such series *synthetic*.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
from pydantic import Field

from suanwang.core.base import Frozen
from suanwang.core.energy.clock import civil, day_of_year, year_hours


class ShapeParams(Frozen):
    """Amplitudes of the synthetic shape (fractions of the annual mean)."""

    evening: float = Field(default=0.06, ge=0.0, le=0.5)
    solar: float = Field(default=0.10, ge=0.0, le=0.6)
    seasonal: float = Field(default=0.05, ge=-0.5, le=0.5)
    winter_peak_day: int = Field(
        default=15, ge=0, le=365, description="day of year the seasonal term peaks (NH winter)"
    )


DEFAULT_SHAPE = ShapeParams()


def raw_shape(
    epoch_hours: npt.NDArray[np.int64], lat: float, lon: float, params: ShapeParams
) -> npt.NDArray[np.float64]:
    """The unnormalized shape at each epoch hour for a zone centred at (lat, lon)."""
    offset = lon / 15.0
    _, _, _, hour = civil(epoch_hours, offset)
    h = hour.astype(np.float64) + 0.5
    day = day_of_year(epoch_hours, offset).astype(np.float64)
    peak_day = params.winter_peak_day if lat >= 0 else (params.winter_peak_day + 182) % 365
    evening = 1.0 + params.evening * np.exp(-(((h - 19.5) / 2.5) ** 2))
    daylight = np.clip(np.sin(np.pi * (h - 6.0) / 12.0), 0.0, None)
    summer_sun = 1.0 - 0.5 * np.cos(2.0 * np.pi * (day - (peak_day + 182.6)) / 365.25)
    solar = 1.0 - params.solar * daylight * summer_sun / 1.5
    season = 1.0 + params.seasonal * np.cos(2.0 * np.pi * (day - peak_day) / 365.25)
    out: npt.NDArray[np.float64] = evening * solar * season
    return out


def hourly_from_annual(
    annual: float,
    epoch_hours: npt.NDArray[np.int64],
    lat: float,
    lon: float,
    params: ShapeParams = DEFAULT_SHAPE,
) -> npt.NDArray[np.float64]:
    """Hourly intensities that average exactly to ``annual`` over every UTC calendar year.

    The normalizer is computed over the whole calendar year of each hour, so any window of
    hours gets the same values it would have as part of its year.
    """
    hours = np.asarray(epoch_hours, dtype=np.int64)
    out = np.empty(hours.shape, dtype=np.float64)
    years, _, _, _ = civil(hours)
    for year in np.unique(years):
        mask = years == year
        mean = year_mean(int(year), lat, lon, params)
        out[mask] = annual * raw_shape(hours[mask], lat, lon, params) / mean
    return out


@lru_cache(maxsize=4096)
def year_mean(year: int, lat: float, lon: float, params: ShapeParams) -> float:
    """Mean of :func:`raw_shape` over calendar year ``year`` (memoized: it is pure)."""
    return float(raw_shape(year_hours(year), lat, lon, params).mean())


def synthetic_outdoor_c(
    epoch_hours: npt.NDArray[np.int64], lat: float, lon: float
) -> npt.NDArray[np.float64]:
    """A synthetic outdoor temperature (degC) for PUE models that depend on it.

    Annual mean ``28 - 0.45 |lat|``, seasonal swing ``0.25 |lat|`` (warmest near day 196 in the
    north, day 15 in the south), daily swing 4 degC warmest at 15:00 solar time. Assumed, not
    measured: replace with a weather feed in live mode.
    """
    offset = lon / 15.0
    _, _, _, hour = civil(epoch_hours, offset)
    day = day_of_year(epoch_hours, offset).astype(np.float64)
    warmest = 196.0 if lat >= 0 else 15.0
    mean = 28.0 - 0.45 * abs(lat)
    season = 0.25 * abs(lat) * np.cos(2.0 * np.pi * (day - warmest) / 365.25)
    daily = 4.0 * np.cos(2.0 * np.pi * (hour.astype(np.float64) + 0.5 - 15.0) / 24.0)
    out: npt.NDArray[np.float64] = mean + season + daily
    return out
