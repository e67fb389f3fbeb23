"""Posted prices: one row per pool, classes kept apart, per-device price = unit price x rating."""

from __future__ import annotations

from suanwang.core.market.prices import posted_prices, summarise
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.units import ComputeClass
from suanwang.world.builtin import load_builtin_world

WORLD = load_builtin_world()


def test_every_pool_has_one_posted_price() -> None:
    prices = posted_prices(WORLD, UNIT_TABLE)
    assert len(prices) == sum(len(s.pools) for s in WORLD.sites)
    for p in prices:
        rating = UNIT_TABLE.model(p.model).rating(p.compute_class)
        assert abs(p.price_per_device_hour_micros - p.price_per_unit_hour_micros * rating) <= 0.5
        assert p.unit_table_version == UNIT_TABLE.version


def test_filter_by_class_and_cheapest_first() -> None:
    ai = posted_prices(WORLD, UNIT_TABLE, ComputeClass.AI)
    assert ai
    assert all(p.compute_class is ComputeClass.AI for p in ai)
    values = [p.price_per_unit_hour_micros for p in ai]
    assert values == sorted(values)


def test_summary_per_class_never_mixes_classes() -> None:
    prices = posted_prices(WORLD, UNIT_TABLE)
    summary = {s.compute_class: s for s in summarise(prices)}
    for cls, s in summary.items():
        rows = [p.price_per_unit_hour_micros for p in prices if p.compute_class is cls]
        assert (s.pools, s.min_micros, s.max_micros) == (len(rows), min(rows), max(rows))
        assert s.min_micros <= s.median_micros <= s.max_micros
    assert set(summary) == {p.compute_class for p in prices}
