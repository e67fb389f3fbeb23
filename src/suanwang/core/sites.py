"""Compute sites and their resource pools."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, field_validator

from suanwang.core.base import ISO2, Frozen, Identifier, Latitude, Longitude, Micros
from suanwang.core.units import ComputeClass, ComputeQuantity, UnitTable


class SiteKind(StrEnum):
    """What a site is for: a national hub, a cloud region, an edge site, an HPC or AI centre."""

    HUB = "hub"
    REGION = "region"
    EDGE = "edge"
    HPC = "hpc"
    AI = "ai"


class Pool(Frozen):
    """Homogeneous capacity at a site: ``count`` devices of one hardware model sold in one class.

    ``price_per_unit_hour_micros`` is the posted price of one *normalized* unit-hour of
    ``compute_class`` in micro-units of ``currency`` (so an H100 and an Ascend 910B are priced
    on the same scale within the AI class).
    """

    compute_class: ComputeClass
    model: Identifier
    count: int = Field(gt=0, description="devices: accelerators, or CPU cores")
    price_per_unit_hour_micros: Micros
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    memory_gb_per_device: float | None = Field(
        default=None, gt=0.0, description="overrides the hardware table's memory per device"
    )

    def capacity(self, table: UnitTable) -> ComputeQuantity:
        """Total normalized units of this pool under ``table``."""
        return table.quantity(self.model, self.compute_class, self.count)


class Site(Frozen):
    """A compute site connected to the grid (算力并网)."""

    id: Identifier
    name: str = Field(min_length=1)
    city: str = Field(min_length=1)
    country: ISO2
    lat: Latitude
    lon: Longitude
    kind: SiteKind
    operator: str = Field(min_length=1)
    pools: tuple[Pool, ...] = Field(min_length=1)
    pue: float = Field(ge=1.0, le=3.0, description="power usage effectiveness")
    pue_per_degree_c: float = Field(
        default=0.0, ge=0.0, le=0.1, description="PUE rise per degC of outdoor air above 20 degC"
    )
    green_share: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="share of the site's energy covered by green certificates or PPAs",
    )
    grid_zone: str = Field(min_length=2, description="electricity grid zone key")
    jurisdiction: tuple[str, ...] = Field(min_length=1, description="legal tags, country first")
    source: str = ""
    note: str = ""

    @field_validator("jurisdiction")
    @classmethod
    def _no_blank_tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        if any(not t.strip() for t in tags):
            raise ValueError("jurisdiction tags must be non-empty strings")
        return tags

    def capacity(self, table: UnitTable) -> dict[ComputeClass, ComputeQuantity]:
        """Normalized capacity per class (pools of one class summed; classes kept apart)."""
        totals: dict[ComputeClass, ComputeQuantity] = {}
        for pool in self.pools:
            q = pool.capacity(table)
            totals[q.compute_class] = (
                totals[q.compute_class] + q if q.compute_class in totals else q
            )
        return totals
