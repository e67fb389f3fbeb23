"""What can fail, and the report of what a failure did to the network."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from suanwang.core.base import Frozen, Latitude, Longitude


class Region(Frozen):
    """Everything within ``radius_km`` of a point (an earthquake, a flood, a power loss)."""

    lat: Latitude
    lon: Longitude
    radius_km: float = Field(gt=0.0, le=20_000.0)


class FailureSpec(Frozen):
    """A set of things that fail together.

    ``links``: link ids. ``srlgs``: shared-risk groups such as ``cable:tonga-cable`` (a whole
    cable system) or ``corridor:red-sea`` (every cable through a corridor). ``nodes``: sites or
    landing points (all their links fail). ``region``: every node within the circle.
    """

    links: frozenset[str] = frozenset()
    srlgs: frozenset[str] = frozenset()
    nodes: frozenset[str] = frozenset()
    region: Region | None = None

    @model_validator(mode="after")
    def _something(self) -> FailureSpec:
        if not (self.links or self.srlgs or self.nodes or self.region):
            raise ValueError("a failure must name at least one link, risk group, node or region")
        return self

    @property
    def key(self) -> str:
        """A stable name for this failure (used to restore it)."""
        parts = [f"link:{x}" for x in sorted(self.links)]
        parts += sorted(self.srlgs)
        parts += [f"node:{x}" for x in sorted(self.nodes)]
        if self.region is not None:
            r = self.region
            parts.append(f"region:{r.lat:g},{r.lon:g},{r.radius_km:g}km")
        return "+".join(parts)


class Reachability(StrEnum):
    """How an isolated country can still be reached."""

    SATELLITE_ONLY = "satellite-only"
    NONE = "none"


class IsolatedCountry(Frozen):
    """A country that had a fibre path to the main network before a failure and lost it."""

    code: str
    reachable_by: Reachability
    nodes: tuple[str, ...] = Field(description="its network nodes that lost fibre")


class PairChange(Frozen):
    """How the fastest path between two sites changed (one-way; round trip is double)."""

    src: str
    dst: str
    before_one_way_ms: float
    after_one_way_ms: float | None = Field(description="None: unreachable after the failure")
    increase_ms: float | None


class FailureReport(Frozen):
    """What a failure (or a restoration) did. Latency figures are one-way."""

    key: str
    failed_links: tuple[str, ...] = Field(description="links this failure takes down")
    newly_down: tuple[str, ...] = Field(description="of those, links that were up before")
    site_pairs: int = Field(description="site pairs considered (unordered)")
    unreachable_pairs: tuple[tuple[str, str], ...]
    latency_changes: tuple[PairChange, ...] = Field(
        description="reachable-after pairs whose latency rose, largest increase first"
    )
    isolated_countries: tuple[IsolatedCountry, ...]
    max_increase_ms: float
