"""Forecasts of hourly signals (carbon intensity, electricity price) and their back-test.

Schedulers that shift work in time or space decide on *forecasts*, not on the measured signal.
This module supplies the forecasters they are judged with and a rolling-origin back-test that
reports each forecaster's error per grid zone.

Forecasters (all satisfy :class:`Forecaster`):

* :class:`Persistence` (``"persistence"``): every hour repeats the last observed value.
* :class:`SeasonalNaive` (``"seasonal-naive-24h"``, ``"seasonal-naive-168h"``, ...): hour ``k``
  repeats the last observed hour of the same phase, ``series[origin - period + k % period]``.
* :class:`GaussianError` (``"oracle+gaussian-10%"``; ``"oracle"`` at 0 %): the error model used
  to judge schedulers under forecast error. It reads the truth and multiplies each hour by
  ``1 + e``, ``e ~ Normal(0, pct/100)`` independent per hour; it peeks at the future by design.

Contracts:

* A series is a 1-D ``float64`` array of hourly values; index ``t`` is hour ``t`` of the series.
  A forecast made at ``origin`` for ``horizon`` hours predicts ``series[origin:origin+horizon]``.
* Non-oracle forecasters read only ``series[:origin]``: changing ``series[origin:]`` never
  changes their output, and ``origin`` may equal ``len(series)`` (forecasting past the data).
* Everything is pure and deterministic. :class:`GaussianError` draws its noise from
  ``np.random.default_rng([seed, origin])``, so a forecast depends only on (seed, origin), never
  on call order; a longer horizon extends the noise of a shorter one rather than redrawing it.
* Invalid requests (horizon < 1, too little history, an origin past the data) raise
  :class:`~suanwang.core.errors.SuanwangError` with a message that names the forecaster.
"""

from __future__ import annotations

import hashlib
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from pydantic import Field

from suanwang.core.base import Frozen
from suanwang.core.errors import SuanwangError, UnknownIdError

Series = npt.NDArray[np.float64]
"""A 1-D hourly series (or, for batch forecasts, an ``(n_origins, horizon)`` matrix)."""

Origins = npt.NDArray[np.int64]
"""Forecast origins: indices into a series."""


@runtime_checkable
class Forecaster(Protocol):
    """Predicts the next ``horizon`` hours of an hourly series from an origin hour."""

    @property
    def name(self) -> str:
        """A stable label for reports (``"persistence"``, ``"seasonal-naive-24h"``, ...)."""
        ...

    def forecast(self, series: Series, origin: int, horizon: int) -> Series:
        """``horizon`` values predicting ``series[origin:origin+horizon]``.

        Non-oracle forecasters read only ``series[:origin]``.

        Raises:
            SuanwangError: ``horizon < 1``, too little history before ``origin``, or an origin
                outside the series.
        """
        ...


@runtime_checkable
class BatchForecaster(Forecaster, Protocol):
    """A forecaster that also forecasts many origins at once (used by :func:`backtest`)."""

    def forecast_many(self, series: Series, origins: Origins, horizon: int) -> Series:
        """An ``(len(origins), horizon)`` matrix whose row ``i`` is ``forecast(origins[i])``."""
        ...


# ----------------------------------------------------------------------------- validation


def _as_series(series: npt.ArrayLike, what: str) -> Series:
    """``series`` as a 1-D float64 array, or a SuanwangError naming ``what``."""
    arr = np.asarray(series, dtype=np.float64)
    if arr.ndim != 1:
        raise SuanwangError(f"{what}: an hourly series must be 1-D, got shape {arr.shape}")
    return arr


def _as_origins(origins: npt.ArrayLike, what: str) -> Origins:
    """``origins`` as a 1-D int64 array; floats are refused rather than truncated."""
    arr = np.asarray(origins)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise SuanwangError(
            f"{what}: origins must be a 1-D array of integers, got {arr.dtype} {arr.shape}"
        )
    return arr.astype(np.int64, copy=False)


def _check_request(
    what: str,
    n_hours: int,
    origins: Origins,
    horizon: int,
    min_history: int,
    needs_truth: bool,
) -> None:
    """Raise a SuanwangError unless every origin can be forecast ``horizon`` hours ahead."""
    if horizon < 1:
        raise SuanwangError(f"{what}: horizon must be at least 1 hour, got {horizon}")
    if origins.size == 0:
        return
    lo, hi = int(origins.min()), int(origins.max())
    if lo < 0:
        raise SuanwangError(f"{what}: origin {lo} is negative")
    if lo < min_history:
        raise SuanwangError(
            f"{what}: a forecast at origin {lo} needs at least {min_history} hours of history, "
            f"but only {lo} precede it"
        )
    if needs_truth and hi + horizon > n_hours:
        raise SuanwangError(
            f"{what}: the truth for origin {hi} + {horizon} hours runs past the series end "
            f"({n_hours} hours); this forecaster needs the hours it forecasts"
        )
    if hi > n_hours:
        raise SuanwangError(f"{what}: origin {hi} is past the series end ({n_hours} hours)")


def _one(forecaster: BatchForecaster, series: Series, origin: int, horizon: int) -> Series:
    """``forecast`` in terms of ``forecast_many`` (so the two can never disagree)."""
    out = forecaster.forecast_many(series, np.array([operator.index(origin)]), horizon)
    row: Series = out[0]
    return row


# ----------------------------------------------------------------------------- forecasters


@dataclass(frozen=True, slots=True)
class Persistence:
    """Repeats the last observed value, ``series[origin - 1]``, for every hour ahead."""

    @property
    def name(self) -> str:
        """Always ``"persistence"``."""
        return "persistence"

    def forecast(self, series: Series, origin: int, horizon: int) -> Series:
        """See :meth:`Forecaster.forecast`; needs ``origin >= 1``."""
        return _one(self, series, origin, horizon)

    def forecast_many(self, series: Series, origins: Origins, horizon: int) -> Series:
        """See :meth:`BatchForecaster.forecast_many`."""
        s = _as_series(series, self.name)
        o = _as_origins(origins, self.name)
        _check_request(self.name, s.size, o, horizon, min_history=1, needs_truth=False)
        return np.repeat(s[o - 1][:, None], horizon, axis=1)


@dataclass(frozen=True, slots=True)
class SeasonalNaive:
    """Hour ``k`` ahead repeats the last observed hour of the same phase.

    The forecast is ``series[origin - period + (k % period)]``: with ``period=24`` tomorrow is
    a copy of today, with ``period=168`` next week is a copy of this week. Needs
    ``origin >= period``. Exact on any series that is periodic with ``period``.
    """

    period: int = 24

    def __post_init__(self) -> None:
        if isinstance(self.period, bool) or not isinstance(self.period, int | np.integer):
            raise SuanwangError(f"seasonal-naive: period must be an integer, got {self.period!r}")
        if self.period < 1:
            raise SuanwangError(
                f"seasonal-naive: period must be at least 1 hour, got {self.period}"
            )

    @property
    def name(self) -> str:
        """``"seasonal-naive-<period>h"``, e.g. ``"seasonal-naive-24h"``."""
        return f"seasonal-naive-{self.period}h"

    def forecast(self, series: Series, origin: int, horizon: int) -> Series:
        """See :meth:`Forecaster.forecast`; needs ``origin >= period``."""
        return _one(self, series, origin, horizon)

    def forecast_many(self, series: Series, origins: Origins, horizon: int) -> Series:
        """See :meth:`BatchForecaster.forecast_many`."""
        s = _as_series(series, self.name)
        o = _as_origins(origins, self.name)
        _check_request(self.name, s.size, o, horizon, min_history=self.period, needs_truth=False)
        phase = np.arange(horizon, dtype=np.int64) % self.period
        out: Series = s[o[:, None] - self.period + phase[None, :]]
        return out


@dataclass(frozen=True, slots=True)
class GaussianError:
    """The truth times ``1 + e``, ``e ~ Normal(0, error_pct / 100)`` independent per hour.

    This is the error model for judging schedulers under forecast error: it **peeks at the
    truth by design** (it reads ``series[origin:origin+horizon]``), so it needs
    ``origin + horizon <= len(series)`` but no history. ``error_pct=0`` is the perfect oracle.

    The factor ``1 + e`` is clipped at 0, so a forecast never flips the sign of the truth:
    non-negative signals (carbon intensity) stay non-negative, negative prices stay negative.

    Noise for origin ``o`` comes from ``np.random.default_rng([seed, o])``: it is the same on
    every call, independent of call order, and the first ``h`` hours of a longer horizon equal
    a horizon of ``h``. Two instances with the same seed and different ``error_pct`` share
    their standard-normal draws (common random numbers). Give each zone its own stream with
    :meth:`for_zone`, or errors across zones at the same hour are perfectly correlated and a
    choice *between* zones is never disturbed.
    """

    error_pct: float
    seed: int

    def __post_init__(self) -> None:
        if not np.isfinite(self.error_pct) or self.error_pct < 0:
            raise SuanwangError(
                f"gaussian error: error_pct must be a finite percentage >= 0, got {self.error_pct}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer):
            raise SuanwangError(f"gaussian error: seed must be an integer, got {self.seed!r}")
        if self.seed < 0:
            raise SuanwangError(f"gaussian error: seed must be >= 0, got {self.seed}")

    @property
    def name(self) -> str:
        """``"oracle+gaussian-<pct>%"`` (e.g. ``"oracle+gaussian-10%"``), or ``"oracle"`` at 0."""
        return "oracle" if self.error_pct == 0 else f"oracle+gaussian-{self.error_pct:g}%"

    def for_zone(self, zone: str) -> GaussianError:
        """The same error model on a noise stream of its own for ``zone`` (stable hash)."""
        digest = hashlib.blake2b(f"{self.seed}\x00{zone}".encode(), digest_size=8).digest()
        return GaussianError(self.error_pct, int.from_bytes(digest, "big"))

    def factors(self, origin: int, horizon: int) -> Series:
        """The ``horizon`` multiplicative factors ``max(1 + e, 0)`` used at ``origin``."""
        if self.error_pct == 0:
            return np.ones(horizon, dtype=np.float64)
        rng = np.random.default_rng([self.seed, operator.index(origin)])
        e = rng.normal(0.0, self.error_pct / 100.0, size=horizon)
        return np.maximum(1.0 + e, 0.0)

    def forecast(self, series: Series, origin: int, horizon: int) -> Series:
        """See :meth:`Forecaster.forecast`; needs ``origin + horizon <= len(series)``."""
        return _one(self, series, origin, horizon)

    def forecast_many(self, series: Series, origins: Origins, horizon: int) -> Series:
        """See :meth:`BatchForecaster.forecast_many`."""
        s = _as_series(series, self.name)
        o = _as_origins(origins, self.name)
        _check_request(self.name, s.size, o, horizon, min_history=0, needs_truth=True)
        truth: Series = s[o[:, None] + np.arange(horizon, dtype=np.int64)[None, :]]
        if self.error_pct == 0 or o.size == 0:
            return truth
        noise = np.stack([self.factors(int(origin), horizon) for origin in o])
        out: Series = truth * noise
        return out


def forecast_matrix(
    forecaster: Forecaster, series: Series, origins: Origins, horizon: int
) -> Series:
    """Forecasts at every origin as an ``(len(origins), horizon)`` matrix.

    Uses ``forecast_many`` when the forecaster has one, else calls ``forecast`` per origin.

    Raises:
        SuanwangError: the forecaster refuses a request or returns the wrong shape.
    """
    s = _as_series(series, forecaster.name)
    o = _as_origins(origins, forecaster.name)
    if isinstance(forecaster, BatchForecaster):
        out = np.asarray(forecaster.forecast_many(s, o, horizon), dtype=np.float64)
    elif o.size == 0:
        out = np.zeros((0, horizon), dtype=np.float64)
    else:
        out = np.stack(
            [np.asarray(forecaster.forecast(s, int(x), horizon), dtype=np.float64) for x in o]
        )
    if out.shape != (o.size, horizon):
        raise SuanwangError(
            f"{forecaster.name}: expected forecasts of shape {(o.size, horizon)}, got {out.shape}"
        )
    return out


# ----------------------------------------------------------------------------- registry

FORECASTER_SPECS: tuple[str, ...] = (
    "persistence",
    "seasonal-naive-24h",
    "seasonal-naive-168h",
    "gaussian-10",
    "oracle",
)
"""Example specs accepted by :func:`parse_forecaster`; see there for the full grammar."""

_SPEC_HELP = (
    "persistence, seasonal-naive-<hours>h (e.g. seasonal-naive-24h, seasonal-naive-168h), "
    "gaussian-<pct> (e.g. gaussian-10; also oracle+gaussian-10%), oracle"
)

_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], int], Forecaster]], ...] = (
    (re.compile(r"persistence"), lambda m, seed: Persistence()),
    (re.compile(r"seasonal-naive-(\d+)h"), lambda m, seed: SeasonalNaive(int(m.group(1)))),
    (
        re.compile(r"(?:oracle\+)?gaussian-(\d+(?:\.\d*)?|\.\d+)%?"),
        lambda m, seed: GaussianError(float(m.group(1)), seed),
    ),
    (re.compile(r"oracle"), lambda m, seed: GaussianError(0.0, seed)),
)


def parse_forecaster(spec: str, seed: int = 0) -> Forecaster:
    """The forecaster named by ``spec`` (case-insensitive, surrounding blanks ignored).

    Grammar: ``persistence`` | ``seasonal-naive-<hours>h`` | ``gaussian-<pct>`` (also written
    ``oracle+gaussian-<pct>%``, the forecaster's own name) | ``oracle`` (= ``gaussian-0``).
    ``seed`` seeds the Gaussian error model; other forecasters ignore it. Every forecaster's
    ``name`` parses back to an equal forecaster.

    Raises:
        UnknownIdError: ``spec`` matches nothing; the message lists the valid specs.
        SuanwangError: a well-formed spec with a bad value (``seasonal-naive-0h``).
    """
    text = spec.strip().lower()
    for pattern, build in _PATTERNS:
        match = pattern.fullmatch(text)
        if match:
            return build(match, seed)
    error = UnknownIdError("forecaster", spec, FORECASTER_SPECS)
    error.args = (f"{error.args[0]}; valid: {_SPEC_HELP}",)
    raise error


def forecasters_by_name(names: str | Iterable[str], seed: int = 0) -> tuple[Forecaster, ...]:
    """Parse forecaster specs for a CLI: a list, or one comma-separated string.

    Raises:
        UnknownIdError: a spec matches nothing (the message lists the valid specs).
        SuanwangError: no specs, or two specs naming the same forecaster.
    """
    items = names.split(",") if isinstance(names, str) else list(names)
    specs = [s for item in items for s in item.split(",") if s.strip()]
    if not specs:
        raise SuanwangError(f"no forecasters given; valid: {_SPEC_HELP}")
    out = tuple(parse_forecaster(s, seed) for s in specs)
    _require_unique_names(out)
    return out


def _require_unique_names(forecasters: Sequence[Forecaster]) -> None:
    seen: set[str] = set()
    for f in forecasters:
        if f.name in seen:
            raise SuanwangError(f"forecaster {f.name!r} is listed twice")
        seen.add(f.name)


# ----------------------------------------------------------------------------- back-test

Metric = Literal["mape_pct", "mae", "rmse"]


class BacktestRow(Frozen):
    """One forecaster's error on one zone, pooled over every origin and hour ahead.

    ``mape_pct`` ignores hours whose truth is within the back-test's ``zero_tolerance`` of 0
    (counted in ``n_mape_skipped``); it is ``None`` when every hour was skipped.
    ``bias`` is the mean of forecast − truth (positive: the forecaster over-predicts).
    """

    zone: str = Field(min_length=1)
    forecaster: str = Field(min_length=1)
    n_forecasts: int = Field(ge=1, description="rolling origins scored")
    n_hours: int = Field(ge=1, description="n_forecasts × horizon")
    mae: float = Field(ge=0)
    rmse: float = Field(ge=0)
    mape_pct: float | None = Field(default=None, ge=0)
    n_mape_skipped: int = Field(default=0, ge=0)
    bias: float


class BacktestReport(Frozen):
    """Rows of a back-test, zones in input order and forecasters in input order within each."""

    horizon: int = Field(ge=1)
    step: int = Field(ge=1)
    warmup: int = Field(ge=0)
    rows: tuple[BacktestRow, ...]

    def zones(self) -> tuple[str, ...]:
        """The zones, in input order."""
        return tuple(dict.fromkeys(r.zone for r in self.rows))

    def row(self, zone: str, forecaster: str) -> BacktestRow:
        """The row for ``zone`` and the forecaster named ``forecaster``.

        Raises:
            UnknownIdError: no such row.
        """
        for r in self.rows:
            if r.zone == zone and r.forecaster == forecaster:
                return r
        known = [f"{r.zone}/{r.forecaster}" for r in self.rows]
        raise UnknownIdError("back-test row", f"{zone}/{forecaster}", known)

    def best_by_zone(self, metric: Metric = "mape_pct") -> dict[str, str]:
        """The forecaster with the lowest ``metric`` in each zone (first listed wins ties).

        Zones where ``metric`` is undefined for every forecaster (MAPE of an all-zero series)
        are left out.
        """
        best: dict[str, tuple[float, str]] = {}
        for r in self.rows:
            value = getattr(r, metric)
            if value is None:
                continue
            if r.zone not in best or value < best[r.zone][0]:
                best[r.zone] = (float(value), r.forecaster)
        return {zone: name for zone, (_, name) in best.items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: the settings, the rows, and the best forecaster per zone by MAPE."""
        out = self.model_dump(mode="json")
        out["best_by_mape"] = self.best_by_zone("mape_pct")
        return out


def rolling_origins(n_hours: int, horizon: int = 24, step: int = 24, warmup: int = 168) -> Origins:
    """Origins ``warmup, warmup + step, ...`` while ``origin + horizon <= n_hours``.

    There are ``(n_hours - horizon - warmup) // step + 1`` of them when
    ``n_hours >= warmup + horizon``, else none.
    """
    return np.arange(warmup, n_hours - horizon + 1, step, dtype=np.int64)


def _score(zone: str, name: str, truth: Series, predicted: Series, zero_tol: float) -> BacktestRow:
    err = predicted - truth
    abs_err = np.abs(err)
    scale = np.abs(truth)
    usable = scale > zero_tol
    n_usable = int(np.count_nonzero(usable))
    mape = float(100.0 * np.mean(abs_err[usable] / scale[usable])) if n_usable else None
    return BacktestRow(
        zone=zone,
        forecaster=name,
        n_forecasts=truth.shape[0],
        n_hours=truth.size,
        mae=float(np.mean(abs_err)),
        rmse=float(np.sqrt(np.mean(err * err))),
        mape_pct=mape,
        n_mape_skipped=truth.size - n_usable,
        bias=float(np.mean(err)),
    )


def backtest(
    series_by_zone: Mapping[str, Series],
    forecasters: Sequence[Forecaster],
    horizon: int = 24,
    step: int = 24,
    warmup: int = 168,
    zero_tolerance: float = 1e-6,
) -> BacktestReport:
    """Rolling-origin back-test of every forecaster on every zone's hourly series.

    Origins are :func:`rolling_origins` of each series; at each, a ``horizon``-hour forecast is
    compared with the truth and the errors of all origins and hours are pooled into one
    :class:`BacktestRow` per (zone, forecaster): MAE, RMSE, MAPE (percent; hours with
    ``|truth| <= zero_tolerance`` skipped and counted) and bias (mean forecast − truth).

    ``warmup`` must leave each forecaster enough history (168 suits seasonal-naive-168h).

    Raises:
        SuanwangError: bad settings, no zones or forecasters, duplicate forecaster names, a
            series that is not 1-D, has non-finite values or is shorter than
            ``warmup + horizon``, or a forecaster that refuses an origin or returns
            non-finite values (the message names the zone and forecaster).
    """
    if horizon < 1 or step < 1 or warmup < 0:
        raise SuanwangError(
            f"back-test needs horizon >= 1, step >= 1 and warmup >= 0; "
            f"got horizon={horizon}, step={step}, warmup={warmup}"
        )
    if not np.isfinite(zero_tolerance) or zero_tolerance < 0:
        raise SuanwangError(f"zero_tolerance must be finite and >= 0, got {zero_tolerance}")
    if not series_by_zone:
        raise SuanwangError("back-test needs at least one zone's series")
    if not forecasters:
        raise SuanwangError(f"back-test needs at least one forecaster; valid: {_SPEC_HELP}")
    _require_unique_names(forecasters)

    rows: list[BacktestRow] = []
    ahead = np.arange(horizon, dtype=np.int64)
    for zone, raw in series_by_zone.items():
        series = _as_series(raw, f"zone {zone!r}")
        bad = np.flatnonzero(~np.isfinite(series))
        if bad.size:
            raise SuanwangError(
                f"zone {zone!r}: {bad.size} non-finite values (first at hour {int(bad[0])}); "
                "fill or drop gaps before back-testing"
            )
        if series.size < warmup + horizon:
            raise SuanwangError(
                f"zone {zone!r}: the series has {series.size} hours; a back-test needs at least "
                f"warmup + horizon = {warmup} + {horizon} = {warmup + horizon}"
            )
        origins = rolling_origins(series.size, horizon, step, warmup)
        truth = series[origins[:, None] + ahead[None, :]]
        for forecaster in forecasters:
            try:
                predicted = forecast_matrix(forecaster, series, origins, horizon)
            except SuanwangError as exc:
                raise SuanwangError(
                    f"back-test of {forecaster.name!r} on zone {zone!r}: {exc}"
                ) from exc
            if not np.all(np.isfinite(predicted)):
                raise SuanwangError(
                    f"back-test of {forecaster.name!r} on zone {zone!r}: non-finite forecasts"
                )
            rows.append(_score(zone, forecaster.name, truth, predicted, zero_tolerance))
    return BacktestReport(horizon=horizon, step=step, warmup=warmup, rows=tuple(rows))
