"""Specification of the normalized-unit table (算力度量)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanwang.core.errors import ClassMismatchError, UnknownIdError
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.units import ClassUnit, ComputeClass, ComputeQuantity, HardwareModel, UnitTable

AI, HPC, GEN = ComputeClass.AI, ComputeClass.HPC, ComputeClass.GENERAL

REQUIRED_MODELS = [
    "nvidia-h200",
    "nvidia-h100",
    "nvidia-a100",
    "nvidia-l40s",
    "nvidia-v100",
    "nvidia-t4",
    "amd-mi300x",
    "huawei-ascend-910b",
    "hygon-dcu-z100",
    "cambricon-mlu370-x8",
    "intel-xeon-8480",
    "amd-epyc-9654",
    "huawei-kunpeng-920",
    "hygon-c86-7285",
]


def test_table_has_one_unit_per_class_and_at_least_15_sourced_models() -> None:
    assert {u.compute_class for u in UNIT_TABLE.units} == set(ComputeClass)
    assert len(UNIT_TABLE.models) >= 15
    assert all(m.source for m in UNIT_TABLE.models)
    ids = {m.id for m in UNIT_TABLE.models}
    assert set(REQUIRED_MODELS) <= ids


@pytest.mark.parametrize(
    ("model", "cls", "count", "expected"),
    [
        ("nvidia-h100", AI, 8, 8 * 989.0),  # eight H100s: 7,912 TFLOPS-FP16
        ("nvidia-h100", AI, 0.5, 494.5),  # half an H100 counts as half
        ("nvidia-a100", HPC, 4, 78.0),  # 4 x 19.5 FP64
        ("intel-xeon-8380", GEN, 40, 40.0),  # the reference core is 1.0 each
        ("fujitsu-a64fx", HPC, 48, 48 * 0.0704),  # 2.2 GHz x 32 DP FLOP/cycle per core
    ],
)
def test_quantity_is_rating_times_devices(
    model: str, cls: ComputeClass, count: float, expected: float
) -> None:
    q = UNIT_TABLE.quantity(model, cls, count)
    assert q.compute_class is cls
    assert q.amount == pytest.approx(expected)


def test_adding_units_of_different_classes_is_an_error() -> None:
    ai = UNIT_TABLE.quantity("nvidia-h100", AI, 1)
    hpc = UNIT_TABLE.quantity("nvidia-h100", HPC, 1)
    with pytest.raises(ClassMismatchError, match="cannot combine ai and hpc"):
        _ = ai + hpc
    with pytest.raises(ClassMismatchError):
        ai.fits_in(hpc)


def test_a_model_without_a_rating_in_a_class_says_which_classes_it_serves() -> None:
    with pytest.raises(ClassMismatchError, match="serves: ai"):
        UNIT_TABLE.quantity("nvidia-l40s", HPC, 1)


def test_unknown_model_names_closest_matches() -> None:
    with pytest.raises(UnknownIdError) as info:
        UNIT_TABLE.model("nvidia-h10")
    assert "nvidia-h100" in info.value.suggestions
    assert "did you mean" in str(info.value)


def test_negative_or_nan_quantities_are_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        ComputeQuantity(AI, -1.0)
    with pytest.raises(ValueError, match="NaN"):
        ComputeQuantity(AI, float("nan"))
    with pytest.raises(ValueError, match="count"):
        UNIT_TABLE.quantity("nvidia-t4", AI, -2)


def test_table_rejects_duplicate_models_and_missing_units() -> None:
    m = UNIT_TABLE.models[0]
    with pytest.raises(ValueError, match="duplicate hardware model ids"):
        UnitTable(version="x", units=UNIT_TABLE.units, models=(m, m))
    with pytest.raises(ValueError, match="one unit per compute class"):
        UnitTable(version="x", units=UNIT_TABLE.units[:2], models=(m,))


def test_hardware_model_needs_a_positive_rating() -> None:
    with pytest.raises(ValueError, match="ratings"):
        HardwareModel(id="x", vendor="v", name="n", device="GPU", ratings={AI: 0.0}, source="s")
    with pytest.raises(ValueError, match="symbol"):
        ClassUnit(compute_class=AI, symbol="", definition="d")


amounts = st.floats(min_value=0, max_value=1e9, allow_nan=False)


@given(amounts, amounts, st.sampled_from(list(ComputeClass)))
def test_same_class_addition_is_commutative_and_sums_amounts(
    a: float, b: float, cls: ComputeClass
) -> None:
    x, y = ComputeQuantity(cls, a), ComputeQuantity(cls, b)
    assert (x + y) == (y + x)
    assert (x + y).amount == pytest.approx(a + b)
    assert x.fits_in(x + y)


@given(st.sampled_from(list(ComputeClass)), st.sampled_from(list(ComputeClass)))
def test_addition_succeeds_exactly_when_classes_match(a: ComputeClass, b: ComputeClass) -> None:
    if a is b:
        assert (ComputeQuantity(a, 1.0) + ComputeQuantity(b, 2.0)).amount == 3.0
    else:
        with pytest.raises(ClassMismatchError):
            _ = ComputeQuantity(a, 1.0) + ComputeQuantity(b, 2.0)
