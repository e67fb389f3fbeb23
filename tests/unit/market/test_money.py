"""Money arithmetic: half-even rounding, drift-free rating, exact splits, formatting.

Every amount is an integer of micro-units; these tests state the answers in plain numbers and
then check the general promises (|rounding| <= 0.5 micro, parts sum exactly, each part within
one micro of its exact share) over random inputs.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.core.market.money import (
    BPS,
    MICROS_PER_UNIT,
    MILLI,
    SECONDS_PER_HOUR,
    div_round_half_even,
    format_money,
    rate_cumulative,
    split_exact,
    units_to_milli,
)

PROPS = settings(max_examples=300, deadline=None, derandomize=True)

# --- div_round_half_even ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "answer"),
    [
        (0, 5, 0),
        (10, 5, 2),
        (1, 3, 0),  # 0.333 -> 0
        (2, 3, 1),  # 0.667 -> 1
        (1, 2, 0),  # 0.5 -> 0 (even)
        (3, 2, 2),  # 1.5 -> 2 (even)
        (5, 2, 2),  # 2.5 -> 2 (even)
        (7, 2, 4),  # 3.5 -> 4 (even)
        (-1, 2, 0),  # -0.5 -> 0
        (-3, 2, -2),  # -1.5 -> -2
        (-5, 2, -2),  # -2.5 -> -2
        (-7, 2, -4),  # -3.5 -> -4
        (5, -2, -2),  # a negative denominator is handled like a negative numerator
        (-5, -2, 2),
        (7, 4, 2),  # 1.75 -> 2
        (5, 4, 1),  # 1.25 -> 1
        (10**30 + 1, 2, 5 * 10**29),  # big integers stay exact: .5 rounds to the even side
        (10**30 + 3, 2, 5 * 10**29 + 2),
    ],
)
def test_div_round_half_even_table(numerator: int, denominator: int, answer: int) -> None:
    assert div_round_half_even(numerator, denominator) == answer


def test_div_round_half_even_by_zero_raises() -> None:
    with pytest.raises(ZeroDivisionError):
        div_round_half_even(1, 0)


@PROPS
@given(
    st.integers(min_value=-(10**24), max_value=10**24),
    st.integers(min_value=-(10**12), max_value=10**12).filter(bool),
)
def test_div_round_half_even_is_exact_bankers_rounding(numerator: int, denominator: int) -> None:
    exact = Fraction(numerator, denominator)
    got = div_round_half_even(numerator, denominator)
    assert got == round(exact)  # Fraction rounds half to even, exactly
    assert abs(got - exact) <= Fraction(1, 2)


# --- rate_cumulative ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qty_milli_unit_seconds", "price", "answer"),
    [
        (0, 5_000_000, 0),
        (MILLI * SECONDS_PER_HOUR, 1_000_000, 1_000_000),  # one unit for one hour at 1.00
        (500 * SECONDS_PER_HOUR, 2_000_000, 1_000_000),  # half a unit for an hour at 2.00
        (1000 * 1, 3_600_000, 1000),  # one unit-second at 3.60 per unit-hour: 1000 micros
        (1800, 1000, 0),  # exactly 0.5 micro -> 0 (even)
        (5400, 1000, 2),  # exactly 1.5 micros -> 2 (even)
        (9000, 1000, 2),  # exactly 2.5 micros -> 2 (even)
        (12600, 1000, 4),  # exactly 3.5 micros -> 4 (even)
        (1799, 1000, 0),  # 0.49972 -> 0
        (1801, 1000, 1),  # 0.50028 -> 1
        (494_500 * 7140, 2000, 1_961_517),  # 0.4945 units for 7140 s at 0.002 per unit-hour
        (10**15, 0, 0),  # a free lease costs nothing
    ],
)
def test_rate_cumulative_table(qty_milli_unit_seconds: int, price: int, answer: int) -> None:
    assert rate_cumulative(qty_milli_unit_seconds, price) == answer


@pytest.mark.parametrize(("qty", "price"), [(-1, 1), (1, -1)])
def test_rate_cumulative_refuses_negative_inputs(qty: int, price: int) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        rate_cumulative(qty, price)


@PROPS
@given(
    st.integers(min_value=1, max_value=2_000_000),
    st.integers(min_value=0, max_value=50_000_000),
    st.lists(st.integers(min_value=0, max_value=100_000), min_size=1, max_size=60),
)
def test_rating_cumulative_quantity_never_drifts(
    units_milli: int, price: int, second_steps: list[int]
) -> None:
    """Booking due_cum(new) - due_cum(old) at every step adds up to the rating of the total,
    and every cursor is within half a micro of the exact amount (I9), however many steps."""
    booked = 0
    seconds = 0
    for step in second_steps:
        seconds += step
        due = rate_cumulative(seconds * units_milli, price)
        exact = Fraction(seconds * units_milli * price, MILLI * SECONDS_PER_HOUR)
        assert abs(due - exact) <= Fraction(1, 2)
        assert due >= booked  # cumulative due never decreases
        booked += due - booked
    assert booked == rate_cumulative(seconds * units_milli, price)


# --- split_exact --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "weights", "answer"),
    [
        (100, {"a": 1, "b": 1, "c": 1}, {"a": 34, "b": 33, "c": 33}),  # tie -> by name
        (101, {"a": 1, "b": 1, "c": 1}, {"a": 34, "b": 34, "c": 33}),
        (100, {"c": 1, "b": 1, "a": 1}, {"c": 33, "b": 33, "a": 34}),  # names, not order
        (-100, {"a": 1, "b": 1, "c": 1}, {"a": -34, "b": -33, "c": -33}),  # magnitude, negated
        (0, {"a": 1, "b": 2}, {"a": 0, "b": 0}),
        (0, {"a": 0}, {"a": 0}),
        (7, {"a": 0, "b": 3}, {"a": 0, "b": 7}),  # weight 0 gets 0, key kept
        (10, {"p": 9000, "f": 1000}, {"p": 9, "f": 1}),
        (1, {"p": 9500, "f": 500}, {"p": 1, "f": 0}),  # the larger remainder wins the micro
        (19, {"x": 2, "y": 3, "z": 5}, {"x": 4, "y": 6, "z": 9}),  # 3.8, 5.7, 9.5 -> 4, 6, 9
        (1_000_000, {"a": 1, "b": 1, "c": 1}, {"a": 333_334, "b": 333_333, "c": 333_333}),
        (5, {"only": 42}, {"only": 5}),
        # a real split: 95 % of 510_000 to provider and carrier by 900:100, 5 % platform fee
        (
            510_000,
            {"pending:l1:provider:op": 900 * 9500, "pending:l1:carrier:cx": 100 * 9500,
             "platform:fees": 500 * 1000},
            {"pending:l1:provider:op": 436_050, "pending:l1:carrier:cx": 48_450,
             "platform:fees": 25_500},
        ),
    ],
)  # fmt: skip
def test_split_exact_table(amount: int, weights: dict[str, int], answer: dict[str, int]) -> None:
    got = split_exact(amount, weights)
    assert got == answer
    assert list(got) == list(weights)  # same keys, same order
    assert sum(got.values()) == amount


@pytest.mark.parametrize(
    ("amount", "weights", "message"),
    [
        (10, {"a": -1, "b": 2}, ">= 0"),
        (10, {"a": 0, "b": 0}, "every weight is zero"),
        (10, {}, "every weight is zero"),
    ],
)
def test_split_exact_refuses(amount: int, weights: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_exact(amount, weights)


@PROPS
@given(
    st.integers(min_value=-(10**15), max_value=10**15),
    st.dictionaries(
        st.text(alphabet="abcdefgh:", min_size=1, max_size=6),
        st.integers(min_value=0, max_value=10**7),
        min_size=1,
        max_size=7,
    ).filter(lambda w: sum(w.values()) > 0),
)
def test_split_exact_sums_and_stays_within_one_micro(amount: int, weights: dict[str, int]) -> None:
    got = split_exact(amount, weights)
    total = sum(weights.values())
    assert set(got) == set(weights)
    assert sum(got.values()) == amount
    for k, w in weights.items():
        exact = Fraction(amount * w, total)
        assert abs(got[k] - exact) < 1
        if w == 0:
            assert got[k] == 0
        # every part has the sign of the amount (a split never moves money backwards)
        assert got[k] * amount >= 0
    assert split_exact(amount, weights) == got  # deterministic
    assert split_exact(-amount, weights) == {k: -v for k, v in got.items()}


@PROPS
@given(
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=BPS),
)
def test_split_by_basis_points_matches_the_exact_share(amount: int, fee_bps: int) -> None:
    got = split_exact(amount, {"fee": fee_bps, "rest": BPS - fee_bps})
    assert abs(got["fee"] - Fraction(amount * fee_bps, BPS)) < 1
    assert got["fee"] + got["rest"] == amount


# --- formatting and milli-units -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "0.00 USD"),
        (1, "0.000001 USD"),
        (10, "0.00001 USD"),
        (100_000, "0.10 USD"),
        (500_000, "0.50 USD"),
        (1_000_000, "1.00 USD"),
        (1_500_000, "1.50 USD"),
        (12_345_678, "12.345678 USD"),
        (1_234_567_890, "1,234.56789 USD"),
        (1_000_000_000_000, "1,000,000.00 USD"),
        (-1, "-0.000001 USD"),
        (-1_500_000, "-1.50 USD"),
        (-1_234_000_000, "-1,234.00 USD"),
    ],
)
def test_format_money_table(micros: int, text: str) -> None:
    assert format_money(micros, "USD") == text


def test_format_money_keeps_the_currency_code() -> None:
    assert format_money(2_000_000, "CNY") == "2.00 CNY"


@PROPS
@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_money_round_trips(micros: int) -> None:
    number, currency = format_money(micros, "EUR").split(" ")
    assert currency == "EUR"
    whole, frac = number.replace(",", "").split(".")
    assert 2 <= len(frac) <= 6
    value = Fraction(whole.lstrip("-") or "0") + Fraction(int(frac), 10 ** len(frac))
    assert (-value if number.startswith("-") else value) * MICROS_PER_UNIT == micros


@pytest.mark.parametrize(
    ("units", "milli"),
    [(0.0, 0), (1.0, 1000), (1.5, 1500), (0.25, 250), (8.0, 8000), (0.0004, 0), (0.0006, 1)],
)
def test_units_to_milli_table(units: float, milli: int) -> None:
    assert units_to_milli(units) == milli


@pytest.mark.parametrize("units", [-0.001, float("nan"), -1.0])
def test_units_to_milli_refuses_negative_or_nan(units: float) -> None:
    with pytest.raises(ValueError, match="units must be >= 0"):
        units_to_milli(units)
