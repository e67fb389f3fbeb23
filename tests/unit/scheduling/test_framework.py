"""The scheduling framework: registry, profiles, normalisation, statuses and the scratchpad."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pydantic import ValidationError

from suanwang.core.errors import SuanwangError, UnknownIdError
from suanwang.core.scheduling.evaluate import Framework
from suanwang.core.scheduling.framework import (
    DEFAULT_FILTERS,
    MODE_WEIGHTS,
    Code,
    CycleState,
    FilterPlugin,
    Mode,
    PermitPlugin,
    PreFilterPlugin,
    Profile,
    Registry,
    RegistryError,
    ReservePlugin,
    ScorePlugin,
    Status,
    normalise,
)
from suanwang.core.scheduling.plugins import (
    FactsPreFilter,
    GangPermit,
    PriceScore,
    TransferFilter,
    default_registry,
)

INF = np.inf


# --- registry ----------------------------------------------------------------------------------
def test_registering_a_name_twice_is_an_error_and_keeps_the_first_factory() -> None:
    reg = Registry()
    reg.register("price", lambda args: PriceScore())
    with pytest.raises(RegistryError, match="a plugin named 'price' is already registered"):
        reg.register("price", lambda args: TransferFilter())
    assert isinstance(reg.create("price"), PriceScore)
    assert issubclass(RegistryError, SuanwangError)
    assert issubclass(RegistryError, ValueError)


def test_the_default_registry_holds_every_built_in_plugin_by_name() -> None:
    assert default_registry().names() == (
        "budget", "capacity", "carbon", "deadline", "facts", "gang", "latency", "latency-sla",
        "price", "resource-fit", "sovereignty", "spread", "transfer", "transfer-time",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("typo", "suggested"),
    [
        ("prise", "price"),
        ("sovereignity", "sovereignty"),
        ("latency_sla", "latency-sla"),
        ("transfer-tim", "transfer-time"),
    ],
)
def test_an_unknown_plugin_is_an_error_that_suggests_the_closest_names(
    typo: str, suggested: str
) -> None:
    with pytest.raises(UnknownIdError, match=f"unknown plugin '{typo}'; did you mean") as err:
        default_registry().create(typo)
    assert suggested in err.value.suggestions


def test_a_profile_naming_an_unknown_plugin_fails_when_the_framework_is_built() -> None:
    with pytest.raises(UnknownIdError, match="did you mean budget"):
        Framework(Profile(name="p", filters=("resource-fit", "budgett")))
    with pytest.raises(UnknownIdError, match="unknown plugin 'co2'"):
        Framework(Profile(name="p", weights={"co2": 1.0}))


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("facts", PreFilterPlugin),
        *((f, FilterPlugin) for f in DEFAULT_FILTERS),
        *((s, ScorePlugin) for s in MODE_WEIGHTS[Mode.BALANCED]),
        ("capacity", ReservePlugin),
        ("gang", PermitPlugin),
    ],
)
def test_every_built_in_plugin_implements_its_extension_point(name: str, kind: type) -> None:
    plugin = default_registry().create(name)
    assert isinstance(plugin, kind)
    assert plugin.name == name  # type: ignore[attr-defined]


def test_a_plugin_in_the_wrong_place_of_a_profile_is_an_error() -> None:
    with pytest.raises(SuanwangError, match="plugin 'price' is not a Filter"):
        Framework(Profile(name="p", filters=("resource-fit", "price")))
    with pytest.raises(SuanwangError, match="plugin 'budget' is not a Score plugin"):
        Framework(Profile(name="p", weights={"price": 1.0, "budget": 1.0}))


def test_a_score_weighted_zero_is_not_run() -> None:
    fw = Framework(Profile(name="p", weights={"price": 2.0, "carbon": 0.0, "latency": 0.5}))
    assert [(p.name, w) for p, w in fw.scores] == [("latency", 0.5), ("price", 2.0)]  # by name


# --- plugin arguments --------------------------------------------------------------------------
BAD_ARGS: list[tuple[str, dict[str, Any], str]] = [
    # plugin, arguments, what the error says
    ("transfer", {"min_gbps": -1.0}, "plugin 'transfer': min_gbps must be a number >= 0, got -1.0"),
    ("transfer", {"min_gbps": "fast"}, "min_gbps must be a number >= 0, got 'fast'"),
    ("transfer", {"min_gbps": True}, "min_gbps must be a number >= 0, got True"),  # no bools
    ("transfer", {"min_gbps": float("nan")}, "min_gbps must be a number >= 0, got nan"),
    ("transfer", {"gbps": 1.0}, "plugin 'transfer': unknown argument(s) ['gbps']"),
    ("facts", {"shift_carbon": -0.5}, "plugin 'facts': shift_carbon must be a number >= 0"),
    ("facts", {"shift_price": None}, "shift_price must be a number >= 0, got None"),
    ("facts", {"shift": 1.0}, "plugin 'facts': unknown argument(s) ['shift']"),
    ("price", {"floor": 1.0}, "plugin 'price' takes no arguments, got ['floor']"),
    ("resource-fit", {"strict": True}, "plugin 'resource-fit' takes no arguments"),
    ("capacity", {"x": 1}, "plugin 'capacity' takes no arguments, got ['x']"),
    ("gang", {"distinct_sites": "yes"}, "plugin 'gang': distinct_sites must be true or false"),
    ("gang", {"max_spread_ms": 0}, "plugin 'gang': max_spread_ms must be a positive number"),
    ("gang", {"max_spread_ms": "10"}, "max_spread_ms must be a positive number"),
    ("gang", {"size": 3}, "plugin 'gang': unknown argument(s) ['size']"),
]


@pytest.mark.parametrize(("name", "args", "message"), BAD_ARGS)
def test_bad_plugin_arguments_are_rejected_with_the_reason(
    name: str, args: dict[str, Any], message: str
) -> None:
    with pytest.raises(SuanwangError) as err:
        default_registry().create(name, args)
    assert message in str(err.value)


GOOD_ARGS: list[tuple[str, dict[str, Any], object]] = [
    ("transfer", {}, TransferFilter(min_gbps=0.1)),
    ("transfer", {"min_gbps": 2}, TransferFilter(min_gbps=2.0)),  # an int is taken as a float
    ("transfer", {"min_gbps": 0}, TransferFilter(min_gbps=0.0)),
    ("facts", {}, FactsPreFilter(shift_carbon=1.0, shift_price=0.5)),
    ("facts", {"shift_carbon": 0, "shift_price": 3}, FactsPreFilter(0.0, 3.0)),
    ("gang", {}, GangPermit(distinct_sites=True, max_spread_ms=None)),
    ("gang", {"distinct_sites": False, "max_spread_ms": 25}, GangPermit(False, 25.0)),
]


@pytest.mark.parametrize(("name", "args", "expected"), GOOD_ARGS)
def test_good_plugin_arguments_configure_the_plugin(
    name: str, args: dict[str, Any], expected: object
) -> None:
    assert default_registry().create(name, args) == expected


def test_profile_args_reach_the_plugins_and_bad_ones_fail_the_framework() -> None:
    fw = Framework(Profile(name="p", args={"transfer": {"min_gbps": 5.0}}))
    assert {f.name: f for f in fw.filters}["transfer"] == TransferFilter(min_gbps=5.0)
    with pytest.raises(SuanwangError, match="min_gbps must be a number >= 0"):
        Framework(Profile(name="p", args={"transfer": {"min_gbps": -5.0}}))


# --- profiles ----------------------------------------------------------------------------------
MODES: list[tuple[str, dict[str, float], float]] = [
    # mode, weights, unplaced penalty = sum of weights + 1
    ("balanced",
     {"price": 1.0, "carbon": 1.0, "latency": 1.0, "transfer-time": 0.5, "spread": 0.5},
     5.0),  # 1 + 1 + 1 + 0.5 + 0.5 + 1
    ("cost",
     {"price": 4.0, "carbon": 0.5, "latency": 0.5, "transfer-time": 0.25, "spread": 0.25},
     6.5),  # 4 + 0.5 + 0.5 + 0.25 + 0.25 + 1
    ("carbon",
     {"price": 0.5, "carbon": 4.0, "latency": 0.5, "transfer-time": 0.25, "spread": 0.25},
     6.5),
    ("latency",
     {"price": 0.5, "carbon": 0.5, "latency": 4.0, "transfer-time": 1.0, "spread": 0.25},
     7.25),  # 0.5 + 0.5 + 4 + 1 + 0.25 + 1
]  # fmt: skip


@pytest.mark.parametrize(("mode", "weights", "penalty"), MODES)
def test_profile_for_mode(mode: str, weights: dict[str, float], penalty: float) -> None:
    profile = Profile.for_mode(mode)
    assert profile.name == mode
    assert profile.mode is Mode(mode)
    assert profile.weights == weights
    assert profile.filters == DEFAULT_FILTERS
    assert profile.unplaced_penalty == penalty
    assert Profile.for_mode(Mode(mode)) == profile


@pytest.mark.parametrize(("mode", "goal"), [("cost", "price"), ("carbon", "carbon"),
                                            ("latency", "latency")])  # fmt: skip
def test_a_modes_own_goal_weighs_four_times_its_balanced_weight(mode: str, goal: str) -> None:
    assert Profile.for_mode(mode).weights[goal] == 4 * MODE_WEIGHTS[Mode.BALANCED][goal]


def test_an_unplaced_task_costs_more_than_any_placement() -> None:
    for mode in Mode:
        profile = Profile.for_mode(mode)
        worst_placement = sum(profile.weights.values())  # every penalty at 1
        assert profile.unplaced_penalty > worst_placement


def test_a_profiles_weights_are_its_own_copy() -> None:
    profile = Profile.for_mode("cost")
    profile.weights["price"] = 99.0
    assert MODE_WEIGHTS[Mode.COST]["price"] == 4.0
    assert Profile.for_mode("cost").weights["price"] == 4.0


@pytest.mark.parametrize("mode", ["fastest", "Cost", "", "green"])
def test_an_unknown_mode_is_an_error_listing_the_modes(mode: str) -> None:
    modes = "balanced, cost, carbon, latency"
    with pytest.raises(SuanwangError, match=f"unknown mode '{mode}'; choose one of: {modes}$"):
        Profile.for_mode(mode)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "at least 1 character"),
        ({"name": "p", "weights": {"price": -1.0}}, "weights must be >= 0"),
        ({"name": "p", "weights": {"price": float("nan")}}, "weights must be >= 0"),
        ({"name": "p", "filters": ("budget", "deadline", "budget")}, "a filter is listed twice"),
        ({"name": "p", "mode": "fast"}, "Input should be 'balanced', 'cost', 'carbon' or"),
        ({"name": "p", "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_profiles_are_rejected(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Profile.model_validate(fields)


def test_a_plain_profile_is_balanced() -> None:
    profile = Profile(name="mine")
    assert profile.mode is Mode.BALANCED
    assert profile.weights == MODE_WEIGHTS[Mode.BALANCED]
    assert profile.args == {}


# --- normalise ---------------------------------------------------------------------------------
T, F = True, False
NORMALISE: list[tuple[str, list[list[float]], list[list[bool]], float, list[list[float]]]] = [
    # case, values, feasible, floor, penalties = min(1, (v - best) / max(|best|, floor))
    ("relative to the best", [[10.0, 15.0, 30.0]], [[T, T, T]], 1.0,
     [[0.0, 0.5, 1.0]]),  # best 10: 5/10 = 0.5; 20/10 = 2 -> clipped to 1
    ("the floor guards a tiny best", [[0.0, 2.0, 5.0]], [[T, T, T]], 10.0,
     [[0.0, 0.2, 0.5]]),  # best 0, scale max(0, 10) = 10
    ("best above the floor", [[20.0, 25.0]], [[T, T]], 10.0,
     [[0.0, 0.25]]),  # scale max(20, 10) = 20: 5/20
    ("infeasible pools are 1 and do not set the best", [[4.0, 1.0, 5.0]], [[T, F, T]], 1.0,
     [[0.0, 1.0, 0.25]]),  # best among feasible 4 (not 1): (5 - 4) / 4
    ("no feasible pool: all 1", [[1.0, 2.0]], [[F, F]], 1.0,
     [[1.0, 1.0]]),
    ("a negative best scales by its magnitude", [[-10.0, -5.0, 0.0]], [[T, T, T]], 1.0,
     [[0.0, 0.5, 1.0]]),  # (-5 + 10) / 10, (0 + 10) / 10
    ("an infinite infeasible value is harmless", [[INF, 3.0]], [[F, T]], 5.0,
     [[1.0, 0.0]]),
    ("an infinite feasible value is the worst", [[2.0, INF]], [[T, T]], 1.0,
     [[0.0, 1.0]]),
    ("ties share the best", [[7.0, 7.0, 14.0]], [[T, T, T]], 1.0,
     [[0.0, 0.0, 1.0]]),
    ("rows are independent", [[2.0, 3.0], [10.0, 12.0]], [[T, T], [T, T]], 1.0,
     [[0.0, 0.5], [0.0, 0.2]]),  # (3 - 2) / 2; (12 - 10) / 10
]  # fmt: skip


@pytest.mark.parametrize(
    ("values", "feasible", "floor", "expected"),
    [pytest.param(v, f, fl, e, id=case) for case, v, f, fl, e in NORMALISE],
)
def test_normalise(
    values: list[list[float]], feasible: list[list[bool]], floor: float, expected: list[list[float]]
) -> None:
    got = normalise(np.array(values), np.array(feasible), floor)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    values=hnp.arrays(np.float64, (3, 5), elements=st.floats(-1e6, 1e6)),
    feasible=hnp.arrays(np.bool_, (3, 5)),
    floor=st.floats(1e-3, 1e4),
)
def test_normalised_penalties_are_in_0_1_with_0_for_the_best_feasible_pool(
    values: np.ndarray, feasible: np.ndarray, floor: float
) -> None:
    pen = normalise(values, feasible, floor)
    assert pen.shape == values.shape
    assert ((pen >= 0.0) & (pen <= 1.0)).all()
    assert (pen[~feasible] == 1.0).all()
    for r in np.flatnonzero(feasible.any(axis=1)):
        best = np.flatnonzero(feasible[r])[np.argmin(values[r][feasible[r]])]
        assert pen[r, best] == 0.0
        # lower raw value never gets a higher penalty (order kept among feasible pools)
        ok = np.flatnonzero(feasible[r])
        order = ok[np.argsort(values[r, ok], kind="stable")]
        assert (np.diff(pen[r, order]) >= 0.0).all()


# --- statuses and the scratchpad ---------------------------------------------------------------
def test_codes_are_kubernetes_status_names() -> None:
    assert [c.value for c in Code] == ["success", "unschedulable", "unresolvable", "wait", "error"]


@pytest.mark.parametrize(
    ("status", "ok"),
    [
        (Status.success("capacity"), True),
        (Status(Code.SUCCESS), True),
        (Status(Code.UNSCHEDULABLE, ("full",), "capacity"), False),
        (Status(Code.UNRESOLVABLE, ("no site",), "sovereignty"), False),
        (Status(Code.WAIT, (), "gang"), False),
        (Status(Code.ERROR, ("boom",), "x"), False),
    ],
)
def test_only_success_is_ok(status: Status, ok: bool) -> None:
    assert status.ok is ok


def test_a_success_status_has_no_reasons_and_names_its_plugin() -> None:
    status = Status.success("gang")
    assert (status.code, status.reasons, status.plugin) == (Code.SUCCESS, (), "gang")
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.code = Code.ERROR  # type: ignore[misc]


def test_the_scratchpad_reads_what_was_written() -> None:
    state = CycleState()
    assert "facts" not in state
    state.write("facts", 42)
    assert "facts" in state
    assert state.read("facts") == 42
    state.write("facts", 43)  # a later write replaces the value
    assert state.read("facts") == 43


def test_reading_a_missing_key_names_the_prefilter_to_enable() -> None:
    with pytest.raises(
        SuanwangError,
        match=r"^scratchpad has no 'free': enable the PreFilter plugin that computes it$",
    ):
        CycleState().read("free")


def test_with_args_keeps_the_registry_the_framework_was_built_with() -> None:
    reg = default_registry()
    reg.register("cheap", lambda args: dataclasses.replace(PriceScore(), name="cheap"))
    fw = Framework(Profile(name="p", weights={"cheap": 1.0}), registry=reg)
    shifted = fw.with_args("facts", {"shift_carbon": 0.0})
    assert [p.name for p, _ in shifted.scores] == ["cheap"]
    assert shifted.prefilters == (FactsPreFilter(shift_carbon=0.0, shift_price=0.5),)
