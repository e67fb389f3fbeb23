"""Posted prices (挂牌价): every site pool's price per normalized unit-hour, per class.

Posted prices are the "buy now" market: a provider publishes a price for one normalized
unit-hour of its pool's compute class, so pools of different hardware compare directly within a
class (an Ascend 910B and an H100 are priced on the same AI scale). Prices of different classes
are never compared or summed.
"""

from __future__ import annotations

from statistics import median

from pydantic import Field

from suanwang.core.base import Frozen
from suanwang.core.units import ComputeClass, UnitTable
from suanwang.core.world import World


class PostedPrice(Frozen):
    """One pool's posted price."""

    site: str
    country: str
    model: str
    compute_class: ComputeClass
    devices: int
    units: float = Field(description="normalized units of the whole pool")
    price_per_unit_hour_micros: int
    price_per_device_hour_micros: int = Field(description="what one device-hour costs")
    currency: str
    unit_table_version: str


class ClassSummary(Frozen):
    """Price spread of one class across the world's pools (per normalized unit-hour)."""

    compute_class: ComputeClass
    pools: int
    min_micros: int
    median_micros: int
    max_micros: int
    cheapest_site: str


def posted_prices(
    world: World, table: UnitTable, compute_class: ComputeClass | None = None
) -> list[PostedPrice]:
    """Every pool's posted price (of ``compute_class``), cheapest first, ties by site."""
    out = []
    for site in world.sites:
        for pool in site.pools:
            if compute_class is not None and pool.compute_class is not compute_class:
                continue
            rating = table.model(pool.model).rating(pool.compute_class)
            out.append(
                PostedPrice(
                    site=site.id,
                    country=site.country,
                    model=pool.model,
                    compute_class=pool.compute_class,
                    devices=pool.count,
                    units=round(rating * pool.count, 3),
                    price_per_unit_hour_micros=pool.price_per_unit_hour_micros,
                    price_per_device_hour_micros=round(pool.price_per_unit_hour_micros * rating),
                    currency=pool.currency,
                    unit_table_version=table.version,
                )
            )
    out.sort(key=lambda p: (p.compute_class.value, p.price_per_unit_hour_micros, p.site, p.model))
    return out


def summarise(prices: list[PostedPrice]) -> list[ClassSummary]:
    """Per class: how many pools, and the lowest, median and highest price."""
    out = []
    for cls in ComputeClass:
        rows = [p for p in prices if p.compute_class is cls]
        if not rows:
            continue
        values = [p.price_per_unit_hour_micros for p in rows]
        cheapest = min(rows, key=lambda p: (p.price_per_unit_hour_micros, p.site))
        out.append(
            ClassSummary(
                compute_class=cls,
                pools=len(rows),
                min_micros=min(values),
                median_micros=round(median(values)),
                max_micros=max(values),
                cheapest_site=cheapest.site,
            )
        )
    return out
