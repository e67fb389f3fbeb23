"""Exact money arithmetic: integer micro-units, drift-free rating and exact splits.

Every amount of money is an ``int`` of micro-units (1e-6) of one currency. Nothing here uses
floats: a rate is applied to a *cumulative* quantity and rounded once (half to even), so the
rounding error of a lease over its whole life stays below one micro-unit, and a split gives
every micro-unit to someone (the largest-remainder method).
"""

from __future__ import annotations

from collections.abc import Mapping

MICROS_PER_UNIT = 1_000_000
"""Micro-units in one unit of a currency."""

MILLI = 1000
"""Quantities of compute are counted in milli-units (a fractional GPU stays exact)."""

SECONDS_PER_HOUR = 3600
BPS = 10_000
"""Basis points in one whole."""


def div_round_half_even(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, ties to even (exact).

    Raises:
        ZeroDivisionError: ``denominator`` is zero.
    """
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    q, r = divmod(numerator, denominator)
    twice = 2 * r
    if twice > denominator or (twice == denominator and q % 2 == 1):
        q += 1
    return q


def rate_cumulative(qty_milli_unit_seconds: int, price_micros_per_unit_hour: int) -> int:
    """Money due for a cumulative quantity at a price, rounded once (half to even).

    ``qty_milli_unit_seconds`` is milli-normalized-units x seconds; the price is micro-units per
    normalized unit-hour. ``|result - exact| <= 0.5`` micro-units, whatever the quantity, so a
    lease rated on its cumulative quantity never drifts.
    """
    if qty_milli_unit_seconds < 0 or price_micros_per_unit_hour < 0:
        raise ValueError("quantity and price must be >= 0")
    return div_round_half_even(
        qty_milli_unit_seconds * price_micros_per_unit_hour, MILLI * SECONDS_PER_HOUR
    )


def split_exact(amount: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Split ``amount`` by integer ``weights`` so the parts sum to exactly ``amount``.

    Largest-remainder method: each party first gets ``floor(amount x w / W)``; the few
    micro-units left over go to the largest remainders (ties by party name), so every part is
    within one micro-unit of its exact share. Parties with weight 0 get 0; the result has the
    same keys as ``weights``. A negative ``amount`` is split as its magnitude and negated.

    Raises:
        ValueError: a weight is negative, or all weights are zero while ``amount`` is not.
    """
    if any(w < 0 for w in weights.values()):
        raise ValueError(f"split weights must be >= 0: {dict(weights)}")
    total = sum(weights.values())
    if amount == 0:
        return dict.fromkeys(weights, 0)
    if total == 0:
        raise ValueError("cannot split a non-zero amount when every weight is zero")
    sign = -1 if amount < 0 else 1
    magnitude = abs(amount)
    base = {k: (magnitude * w) // total for k, w in weights.items()}
    rema = {k: (magnitude * w) % total for k, w in weights.items()}
    left = magnitude - sum(base.values())
    for k in sorted(weights, key=lambda k: (-rema[k], k))[:left]:
        base[k] += 1
    return {k: sign * v for k, v in base.items()}


def units_to_milli(units: float) -> int:
    """Normalized units (a float from the unit table) as integer milli-units, rounded once.

    This is the only place a float quantity enters the money path: a lease snapshots the result
    at creation, and every later amount is integer arithmetic on it.
    """
    if not units >= 0.0:
        raise ValueError(f"units must be >= 0, got {units}")
    return round(units * MILLI)


def format_money(micros: int, currency: str) -> str:
    """``micros`` as ``"12.345678 USD"`` with two to six decimals (trailing zeros trimmed)."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS_PER_UNIT)
    digits = f"{frac:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}{whole:,}.{digits} {currency}"
