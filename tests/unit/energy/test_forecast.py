"""Specification of hourly-signal forecasters and their rolling-origin back-test."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.core.energy.forecast import (
    BacktestReport,
    BatchForecaster,
    Forecaster,
    GaussianError,
    Persistence,
    SeasonalNaive,
    backtest,
    forecast_matrix,
    forecasters_by_name,
    parse_forecaster,
    rolling_origins,
)
from suanwang.core.errors import SuanwangError, UnknownIdError

DAY = np.array([300, 280, 260, 250, 250, 260, 320, 400, 450, 430, 380, 330] * 2, dtype=float)
"""A made-up 24-hour carbon-intensity shape in gCO2/kWh (two identical half-days)."""
DAY[12:] += np.arange(12) * 5.0  # break the 12-hour symmetry: period is exactly 24


def periodic(days: int) -> np.ndarray:
    """``days`` repetitions of :data:`DAY`."""
    return np.tile(DAY, days)


def ramp(n: int) -> np.ndarray:
    """0, 1, 2, ... as floats: every hour differs from the last."""
    return np.arange(n, dtype=float)


# ----------------------------------------------------------------------------- forecasters


def test_persistence_on_a_constant_series_is_exact() -> None:
    series = np.full(100, 512.5)
    out = Persistence().forecast(series, origin=40, horizon=30)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.full(30, 512.5))


def test_persistence_repeats_the_last_observed_value() -> None:
    np.testing.assert_array_equal(Persistence().forecast(ramp(10), 4, 3), [3.0, 3.0, 3.0])


def test_seasonal_naive_is_exact_on_a_periodic_series_and_persistence_is_not() -> None:
    series = periodic(10)
    truth = series[48 + 5 : 48 + 5 + 36]
    np.testing.assert_array_equal(SeasonalNaive(24).forecast(series, 53, 36), truth)
    assert not np.array_equal(Persistence().forecast(series, 53, 36), truth)


def test_seasonal_naive_uses_the_same_phase_of_the_last_period() -> None:
    # series[origin - period + (k % period)]: origin 10, period 4 -> hours 6, 7, 8, 9, 6, 7
    out = SeasonalNaive(4).forecast(ramp(20), origin=10, horizon=6)
    np.testing.assert_array_equal(out, [6, 7, 8, 9, 6, 7])


@pytest.mark.parametrize(
    ("forecaster", "name"),
    [
        (Persistence(), "persistence"),
        (SeasonalNaive(), "seasonal-naive-24h"),
        (SeasonalNaive(168), "seasonal-naive-168h"),
        (GaussianError(10, seed=1), "oracle+gaussian-10%"),
        (GaussianError(2.5, seed=1), "oracle+gaussian-2.5%"),
        (GaussianError(0, seed=1), "oracle"),
    ],
)
def test_names(forecaster: Forecaster, name: str) -> None:
    assert forecaster.name == name
    assert isinstance(forecaster, Forecaster)
    assert isinstance(forecaster, BatchForecaster)


@pytest.mark.parametrize(
    ("forecaster", "origin", "horizon", "message"),
    [
        (Persistence(), 0, 24, "at least 1 hours of history"),
        (SeasonalNaive(24), 23, 24, "at least 24 hours of history"),
        (SeasonalNaive(168), 100, 24, "at least 168 hours of history"),
        (Persistence(), 10, 0, "horizon must be at least 1"),
        (SeasonalNaive(24), 48, -1, "horizon must be at least 1"),
        (Persistence(), 201, 1, "past the series end"),
        (Persistence(), -1, 1, "negative"),
        (GaussianError(10, seed=0), 190, 24, "runs past the series end"),
        (GaussianError(0, seed=0), 0, 0, "horizon must be at least 1"),
    ],
)
def test_invalid_requests_raise_clear_errors(
    forecaster: Forecaster, origin: int, horizon: int, message: str
) -> None:
    with pytest.raises(SuanwangError, match=message) as info:
        forecaster.forecast(ramp(200), origin, horizon)
    assert forecaster.name in str(info.value)


def test_non_oracles_may_forecast_past_the_end_of_the_data() -> None:
    series = periodic(3)
    np.testing.assert_array_equal(SeasonalNaive(24).forecast(series, series.size, 24), DAY)
    assert Persistence().forecast(series, series.size, 5).shape == (5,)


@pytest.mark.parametrize("bad", [0, -24, 2.5, True])
def test_seasonal_naive_rejects_bad_periods(bad: object) -> None:
    with pytest.raises(SuanwangError, match="period"):
        SeasonalNaive(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("pct", "seed"), [(-1.0, 0), (float("nan"), 0), (10.0, -1)])
def test_gaussian_error_rejects_bad_settings(pct: float, seed: int) -> None:
    with pytest.raises(SuanwangError):
        GaussianError(pct, seed)


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    n=st.integers(min_value=2, max_value=80),
    period=st.sampled_from([1, 2, 7, 24]),
    horizon=st.integers(min_value=1, max_value=50),
)
def test_property_non_oracles_never_read_the_future(
    data: st.DataObject, n: int, period: int, horizon: int
) -> None:
    values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
    series = np.array(data.draw(st.lists(values, min_size=n, max_size=n)))
    origin = data.draw(st.integers(min_value=1, max_value=n), label="origin")
    future = np.array(data.draw(st.lists(values, min_size=n - origin, max_size=n - origin)))
    changed = np.concatenate([series[:origin], future])
    forecasters: list[Forecaster] = [Persistence()]
    if origin >= period:
        forecasters.append(SeasonalNaive(period))
    for f in forecasters:
        np.testing.assert_array_equal(
            f.forecast(series, origin, horizon), f.forecast(changed, origin, horizon)
        )
    # and a truncated series (no future at all) gives the same forecast
    for f in forecasters:
        np.testing.assert_array_equal(
            f.forecast(series, origin, horizon), f.forecast(series[:origin], origin, horizon)
        )


def test_gaussian_error_zero_is_the_truth() -> None:
    series = periodic(5) - 300.0  # includes negative values (prices can go negative)
    np.testing.assert_array_equal(GaussianError(0, seed=3).forecast(series, 10, 50), series[10:60])


def test_gaussian_error_is_reproducible_and_depends_on_seed_and_origin() -> None:
    series = periodic(5)
    f = GaussianError(10, seed=42)
    a = f.forecast(series, 24, 48)
    np.testing.assert_array_equal(a, GaussianError(10, seed=42).forecast(series, 24, 48))
    assert not np.array_equal(a, GaussianError(10, seed=43).forecast(series, 24, 48))
    # same truth at origins 24 and 48 (periodic), yet fresh noise per origin
    assert not np.array_equal(a, f.forecast(series, 48, 48))
    # call order does not matter, and a shorter horizon is a prefix of a longer one
    f.forecast(series, 0, 7)
    np.testing.assert_array_equal(f.forecast(series, 24, 12), a[:12])


def test_gaussian_error_noise_is_drawn_from_default_rng_of_seed_and_origin() -> None:
    series = np.full(100, 200.0)
    e = np.random.default_rng([7, 30]).normal(0.0, 0.1, size=24)
    np.testing.assert_allclose(GaussianError(10, seed=7).forecast(series, 30, 24), 200 * (1 + e))


def test_gaussian_error_has_the_stated_relative_standard_deviation() -> None:
    n = 20_000
    series = np.full(n, 250.0)
    for pct in (5.0, 10.0, 20.0):
        rel = GaussianError(pct, seed=2024).forecast(series, 0, n) / 250.0 - 1.0
        # sampling error of the std is pct/sqrt(2n) ~ 0.5 % of pct: +-5 % of pct is ~10 sigma
        assert rel.std() == pytest.approx(pct / 100, rel=0.05)
        assert abs(rel.mean()) < 4 * (pct / 100) / np.sqrt(n)


def test_gaussian_error_never_flips_the_sign() -> None:
    series = np.concatenate([np.full(5_000, 80.0), np.full(5_000, -30.0)])
    out = GaussianError(150, seed=5).forecast(series, 0, series.size)
    assert np.all(out[:5_000] >= 0)
    assert np.any(out[:5_000] == 0)
    assert np.all(out[5_000:] <= 0)


def test_gaussian_error_for_zone_gives_independent_but_stable_streams() -> None:
    f = GaussianError(10, seed=1)
    series = np.full(48, 100.0)
    a, b = f.for_zone("cn-north"), f.for_zone("cn-east")
    assert a.name == f.name
    assert a == f.for_zone("cn-north")
    assert not np.array_equal(a.forecast(series, 0, 24), b.forecast(series, 0, 24))


@pytest.mark.parametrize(
    "forecaster", [Persistence(), SeasonalNaive(24), SeasonalNaive(5), GaussianError(10, 9)]
)
def test_forecast_many_agrees_with_forecast(forecaster: BatchForecaster) -> None:
    series = np.sin(np.arange(300) / 7.0) * 50 + 100
    origins = np.array([24, 25, 100, 250, 276])
    matrix = forecaster.forecast_many(series, origins, 24)
    for row, origin in zip(matrix, origins, strict=True):
        np.testing.assert_array_equal(row, forecaster.forecast(series, int(origin), 24))


def test_forecast_matrix_falls_back_to_forecast_for_plain_forecasters() -> None:
    class Mean:
        name = "mean-so-far"

        def forecast(self, series: np.ndarray, origin: int, horizon: int) -> np.ndarray:
            return np.full(horizon, series[:origin].mean())

    out = forecast_matrix(Mean(), ramp(10), np.array([2, 4]), 3)
    np.testing.assert_array_equal(out, [[0.5] * 3, [1.5] * 3])


# ----------------------------------------------------------------------------- back-test


def test_backtest_hand_worked_tiny_case() -> None:
    # series 10, 12, 11, 15, 14, 18; warmup 2, horizon 2, step 2 -> origins 2 and 4
    # persistence: origin 2 says (12, 12) vs truth (11, 15): errors  +1, -3
    #              origin 4 says (15, 15) vs truth (14, 18): errors  +1, -3
    # MAE = (1+3+1+3)/4 = 2; RMSE = sqrt((1+9+1+9)/4) = sqrt(5); bias = (1-3+1-3)/4 = -1
    # MAPE = (1/11 + 3/15 + 1/14 + 3/18)/4 * 100
    series = np.array([10, 12, 11, 15, 14, 18], dtype=float)
    report = backtest({"zz": series}, [Persistence()], horizon=2, step=2, warmup=2)
    row = report.row("zz", "persistence")
    assert row.n_forecasts == 2
    assert row.n_hours == 4
    assert row.mae == pytest.approx(2.0)
    assert row.rmse == pytest.approx(np.sqrt(5.0))
    assert row.bias == pytest.approx(-1.0)
    assert row.mape_pct == pytest.approx((1 / 11 + 3 / 15 + 1 / 14 + 3 / 18) / 4 * 100)
    assert row.n_mape_skipped == 0


def test_backtest_on_a_periodic_series_favours_seasonal_naive() -> None:
    series = {"cn-north": periodic(30), "cn-east": periodic(30)[::-1].copy()}
    fs = forecasters_by_name(["persistence", "seasonal-naive-24h", "seasonal-naive-168h"])
    report = backtest(series, fs)
    for zone in series:
        assert report.row(zone, "seasonal-naive-24h").mae == 0.0
        assert report.row(zone, "seasonal-naive-168h").mae == 0.0  # 24-periodic is 168-periodic
        assert report.row(zone, "persistence").mae > 0.0
        assert report.best_by_zone()[zone] == "seasonal-naive-24h"  # first listed wins the tie
    assert report.zones() == ("cn-north", "cn-east")


@pytest.mark.parametrize(
    ("n", "horizon", "step", "warmup"),
    [(720, 24, 24, 168), (721, 24, 24, 168), (192, 24, 24, 168), (1000, 48, 7, 200),
     (1000, 1, 1, 1), (500, 24, 100, 24)],
)  # fmt: skip
def test_n_forecasts_follows_the_rolling_origin_formula(
    n: int, horizon: int, step: int, warmup: int
) -> None:
    expected = (n - horizon - warmup) // step + 1
    assert rolling_origins(n, horizon, step, warmup).size == expected
    report = backtest({"z": ramp(n) + 1}, [Persistence()], horizon, step, warmup)
    assert report.rows[0].n_forecasts == expected
    assert report.rows[0].n_hours == expected * horizon
    last = rolling_origins(n, horizon, step, warmup)[-1]
    assert last + horizon <= n < last + step + horizon


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=30, max_value=200),
    horizon=st.integers(min_value=1, max_value=20),
    step=st.integers(min_value=1, max_value=30),
    warmup=st.integers(min_value=7, max_value=10),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_property_backtest_matches_a_plain_loop(
    n: int, horizon: int, step: int, warmup: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    series = rng.gamma(2.0, 100.0, size=n)
    series[rng.random(n) < 0.1] = 0.0  # some zero hours: MAPE skips and counts them
    fs: list[Forecaster] = [Persistence(), SeasonalNaive(7), GaussianError(15, seed % 1000)]
    if n < warmup + horizon:
        with pytest.raises(SuanwangError):
            backtest({"z": series}, fs, horizon, step, warmup)
        return
    report = backtest({"z": series}, fs, horizon, step, warmup)
    for f in fs:
        errs, pct, skipped = [], [], 0
        origin = warmup
        while origin + horizon <= n:
            predicted = f.forecast(series, origin, horizon)
            for k in range(horizon):
                truth = series[origin + k]
                errs.append(predicted[k] - truth)
                if truth == 0:
                    skipped += 1
                else:
                    pct.append(abs(predicted[k] - truth) / truth * 100)
            origin += step
        row = report.row("z", f.name)
        assert row.n_hours == len(errs)
        assert row.mae == pytest.approx(np.mean(np.abs(errs)))
        assert row.rmse == pytest.approx(np.sqrt(np.mean(np.square(errs))))
        assert row.bias == pytest.approx(np.mean(errs), abs=1e-9)
        assert row.n_mape_skipped == skipped
        assert row.mape_pct == (pytest.approx(np.mean(pct)) if pct else None)


def test_mape_is_none_when_every_hour_is_zero_and_best_skips_it() -> None:
    report = backtest({"dark": np.zeros(48), "lit": ramp(48) + 1}, [Persistence()], 4, 4, 4)
    assert report.row("dark", "persistence").mape_pct is None
    assert report.row("dark", "persistence").n_mape_skipped == report.rows[0].n_hours
    assert report.best_by_zone() == {"lit": "persistence"}
    assert report.best_by_zone("mae") == {"dark": "persistence", "lit": "persistence"}


def test_report_round_trips_through_json() -> None:
    fs = forecasters_by_name("persistence, gaussian-10", seed=3)
    report = backtest({"cn-north": periodic(10)}, fs)
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["horizon"] == 24
    assert payload["warmup"] == 168
    assert [r["forecaster"] for r in payload["rows"]] == ["persistence", "oracle+gaussian-10%"]
    assert payload["best_by_mape"] == {"cn-north": report.best_by_zone()["cn-north"]}
    assert BacktestReport.model_validate({k: payload[k] for k in payload if k != "best_by_mape"})
    with pytest.raises(UnknownIdError):
        report.row("cn-north", "nope")


@pytest.mark.parametrize(
    ("series", "kwargs", "message"),
    [
        ({"short": ramp(191)}, {}, "191 hours.*168 \\+ 24 = 192"),
        ({"gap": np.where(ramp(400) == 200, np.nan, ramp(400))}, {}, "first at hour 200"),
        ({"flat": np.zeros((20, 20))}, {}, "1-D"),
        ({}, {}, "at least one zone"),
        ({"z": ramp(400)}, {"horizon": 0}, "horizon >= 1"),
        ({"z": ramp(400)}, {"step": 0}, "step >= 1"),
        ({"z": ramp(400)}, {"warmup": 100}, "seasonal-naive-168h.*zone 'z'.*168 hours of history"),
    ],
)
def test_backtest_rejects_bad_input_clearly(
    series: dict[str, np.ndarray], kwargs: dict[str, int], message: str
) -> None:
    fs: list[Forecaster] = [Persistence(), SeasonalNaive(168)]
    with pytest.raises(SuanwangError, match=message):
        backtest(series, fs, **kwargs)


def test_backtest_rejects_no_or_duplicate_forecasters() -> None:
    with pytest.raises(SuanwangError, match="at least one forecaster"):
        backtest({"z": ramp(400)}, [])
    with pytest.raises(SuanwangError, match="listed twice"):
        backtest({"z": ramp(400)}, [Persistence(), Persistence()])


# ----------------------------------------------------------------------------- registry


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("persistence", Persistence()),
        ("seasonal-naive-24h", SeasonalNaive(24)),
        ("seasonal-naive-168h", SeasonalNaive(168)),
        ("  Seasonal-Naive-12h ", SeasonalNaive(12)),
        ("gaussian-10", GaussianError(10, seed=4)),
        ("gaussian-2.5", GaussianError(2.5, seed=4)),
        ("oracle+gaussian-10%", GaussianError(10, seed=4)),
        ("oracle", GaussianError(0, seed=4)),
        ("gaussian-0", GaussianError(0, seed=4)),
    ],
)
def test_registry_parses_valid_specs(spec: str, expected: Forecaster) -> None:
    assert parse_forecaster(spec, seed=4) == expected


@pytest.mark.parametrize(
    "forecaster",
    [
        Persistence(),
        SeasonalNaive(24),
        SeasonalNaive(168),
        GaussianError(7.5, 0),
        GaussianError(0, 0),
    ],
)
def test_every_name_parses_back_to_its_forecaster(forecaster: Forecaster) -> None:
    assert parse_forecaster(forecaster.name, seed=0) == forecaster


@pytest.mark.parametrize("spec", ["persistance", "arima", "seasonal-naive", "gaussian", ""])
def test_registry_rejects_unknown_names_and_lists_the_valid_ones(spec: str) -> None:
    with pytest.raises(UnknownIdError) as info:
        parse_forecaster(spec)
    message = str(info.value)
    for valid in ("persistence", "seasonal-naive-24h", "seasonal-naive-168h", "gaussian-10"):
        assert valid in message


def test_registry_suggests_the_closest_name() -> None:
    with pytest.raises(UnknownIdError, match="did you mean persistence"):
        parse_forecaster("persistance")


def test_registry_rejects_well_formed_specs_with_bad_values() -> None:
    with pytest.raises(SuanwangError, match="at least 1 hour"):
        parse_forecaster("seasonal-naive-0h")


def test_forecasters_by_name_accepts_lists_and_comma_separated_strings() -> None:
    expected = (Persistence(), SeasonalNaive(24), GaussianError(10, 0))
    assert forecasters_by_name(["persistence", "seasonal-naive-24h", "gaussian-10"]) == expected
    assert forecasters_by_name("persistence,seasonal-naive-24h, gaussian-10") == expected
    with pytest.raises(SuanwangError, match="no forecasters"):
        forecasters_by_name(" , ")
    with pytest.raises(SuanwangError, match="listed twice"):
        forecasters_by_name(["gaussian-10", "oracle+gaussian-10%"])
