"""Renewable-surplus windows (源荷互动) and the greenest / cheapest blocks ahead.

An hour is a **surplus hour** of a zone when either

* its carbon intensity is at or below the zone's ``percentile``-th percentile over the
  calendar year of the query start (the zone's own distribution: a clean grid and a dirty grid
  each have their own greenest hours), or
* it falls in a valley or deep-valley tariff band (China's 低谷/深谷 windows exist to absorb
  surplus renewable output; elsewhere the band is derived from the price).

Consecutive surplus hours form a :class:`Window`. A query looks ahead ``hours`` from
``start_hour`` either on the signals as modelled (the default; for synthetic and tariff signals
these are known in advance) or on a forecaster's view of them
(:mod:`~suanwang.core.energy.forecast`), so a scheduler sees what it would see live.

Contracts: pure; windows are sorted, disjoint and inside the horizon; blocks are the exact
minimum-mean contiguous runs of the requested length (ties: the earliest).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np
import numpy.typing as npt
from pydantic import Field

from suanwang.core.base import Frozen
from suanwang.core.energy.clock import civil, hour_start, year_hours
from suanwang.core.energy.forecast import Forecaster
from suanwang.core.energy.signals import (
    Provenance,
    SignalBook,
    SignalOrigin,
    ZoneSignals,
    derive_bands,
    local_days_span,
)
from suanwang.core.energy.tariffs import VALLEY_BANDS
from suanwang.core.errors import SuanwangError

LOOKBACK_HOURS = 28 * 24
"""History a forecaster sees before the query start."""


class Window(Frozen):
    """Consecutive surplus hours ``[start, end)``."""

    start: datetime
    end: datetime
    hours: int
    mean_intensity_g_per_kwh: float
    mean_price_usd_per_mwh: float
    low_carbon_hours: int
    valley_hours: int


class Block(Frozen):
    """The best contiguous run of ``hours`` hours by one signal."""

    start: datetime
    end: datetime
    hours: int
    mean_intensity_g_per_kwh: float
    mean_price_usd_per_mwh: float


class WindowReport(Frozen):
    """Surplus windows and best blocks of one zone over a horizon."""

    zone: str
    start: datetime
    hours: int
    percentile: float
    threshold_g_per_kwh: float
    surplus_hours: int
    windows: tuple[Window, ...]
    greenest: Block
    cheapest: Block
    forecast: str = Field(description="'as modelled' or the forecaster's name")
    provenance: dict[str, Provenance]


def best_block(values: npt.NDArray[np.float64], length: int) -> tuple[int, float]:
    """(start index, mean) of the contiguous run of ``length`` values with the lowest mean."""
    if not 1 <= length <= values.size:
        raise SuanwangError(f"block length must be 1..{values.size} hours, got {length}")
    sums = np.convolve(values, np.ones(length), mode="valid")
    i = int(np.argmin(sums))
    return i, float(sums[i] / length)


def runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Half-open index ranges ``[a, b)`` of the consecutive ``True`` runs in ``mask``."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def low_carbon_threshold(book: SignalBook, zone: str, start_hour: int, percentile: float) -> float:
    """The ``percentile``-th percentile of ``zone``'s intensity over the start's calendar year."""
    if not 0.0 < percentile < 100.0:
        raise SuanwangError(f"percentile must be between 0 and 100, got {percentile}")
    year = int(civil(np.array([start_hour], dtype=np.int64))[0][0])
    values, _ = book.zone(zone).intensity(year_hours(year))
    return float(np.percentile(values, percentile))


def forecast_signals(
    book: SignalBook, zone: str, start_hour: int, hours: int, forecaster: Forecaster
) -> ZoneSignals:
    """The zone's signals over the horizon as ``forecaster`` predicts them from the history."""
    history = book.signals(zone, start_hour - LOOKBACK_HOURS, LOOKBACK_HOURS + hours)
    ci = forecaster.forecast(history.intensity_g_per_kwh, LOOKBACK_HOURS, hours)
    price = forecaster.forecast(history.price_usd_per_mwh, LOOKBACK_HOURS, hours)
    bands = history.bands[LOOKBACK_HOURS:]
    if history.provenance["bands"].origin == SignalOrigin.PROFILE:
        # Bands derived from the price must come from the forecast price, not the real one.
        # The whole local days around the horizon need a price each hour: observed before the
        # start, forecast within the horizon, and the last forecast value after it (np.interp
        # is exact on integer hours and holds the end values outside).
        model = book.zone(zone)
        span = local_days_span(history.hours[LOOKBACK_HOURS:], model.lon)
        known = np.interp(
            span, history.hours, np.concatenate((history.price_usd_per_mwh[:LOOKBACK_HOURS], price))
        )
        bands = derive_bands(known)[history.hours[LOOKBACK_HOURS:] - span[0]]
    note = f"; forecast by {forecaster.name} from the previous {LOOKBACK_HOURS // 24} days"
    provenance = {
        key: Provenance(origin=p.origin, source=p.source + note)
        for key, p in history.provenance.items()
    }
    return replace(
        history,
        hours=history.hours[LOOKBACK_HOURS:],
        intensity_g_per_kwh=ci,
        price_usd_per_mwh=price,
        bands=bands,
        provenance=provenance,
    )


def find_windows(
    book: SignalBook,
    zone: str,
    start_hour: int,
    hours: int = 48,
    *,
    percentile: float = 20.0,
    block_hours: int = 4,
    forecaster: Forecaster | None = None,
) -> WindowReport:
    """Surplus windows and the greenest and cheapest ``block_hours`` blocks ahead."""
    if hours < 1:
        raise SuanwangError(f"look ahead at least one hour, got {hours}")
    threshold = low_carbon_threshold(book, zone, start_hour, percentile)
    signals = (
        book.signals(zone, start_hour, hours)
        if forecaster is None
        else forecast_signals(book, zone, start_hour, hours, forecaster)
    )
    ci, price = signals.intensity_g_per_kwh, signals.price_usd_per_mwh
    low = ci <= threshold
    valley = signals.is_band(VALLEY_BANDS)
    surplus = low | valley
    windows = tuple(
        Window(
            start=hour_start(start_hour + a),
            end=hour_start(start_hour + b),
            hours=b - a,
            mean_intensity_g_per_kwh=float(ci[a:b].mean()),
            mean_price_usd_per_mwh=float(price[a:b].mean()),
            low_carbon_hours=int(low[a:b].sum()),
            valley_hours=int(valley[a:b].sum()),
        )
        for a, b in runs(surplus)
    )
    length = min(block_hours, hours)

    def block(values: npt.NDArray[np.float64]) -> Block:
        i, _ = best_block(values, length)
        return Block(
            start=hour_start(start_hour + i),
            end=hour_start(start_hour + i + length),
            hours=length,
            mean_intensity_g_per_kwh=float(ci[i : i + length].mean()),
            mean_price_usd_per_mwh=float(price[i : i + length].mean()),
        )

    provenance = dict(signals.provenance)
    provenance["threshold"] = Provenance(
        origin=SignalOrigin(provenance["intensity"].origin),
        source=f"{percentile:g}th percentile of the zone's intensity over the calendar year",
    )
    return WindowReport(
        zone=zone,
        start=hour_start(start_hour),
        hours=hours,
        percentile=percentile,
        threshold_g_per_kwh=threshold,
        surplus_hours=int(surplus.sum()),
        windows=windows,
        greenest=block(ci),
        cheapest=block(price),
        forecast="as modelled" if forecaster is None else forecaster.name,
        provenance=provenance,
    )
