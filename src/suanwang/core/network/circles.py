"""Latency circles (时延圈): which sites lie within 1, 5 and 20 ms of a site.

The reports set three rings: 1 ms inside a city, 5 ms inside a region, 20 ms between the
national hub clusters. Each ring is stated for one-way and for round-trip latency separately,
because operators quote both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from suanwang.core.base import Frozen
from suanwang.core.sites import SiteKind
from suanwang.core.tasks import LatencyMode

if TYPE_CHECKING:
    from suanwang.core.network.engine import Network
    from suanwang.core.world import World

DEFAULT_RINGS_MS: tuple[float, ...] = (1.0, 5.0, 20.0)
"""The reports' rings: city (1 ms), region (5 ms), national hubs (20 ms)."""

HUB_TARGET_MS = 20.0
"""The national target between hub clusters (国家枢纽节点间 20 ms, one-way)."""


class RingMember(Frozen):
    site: str
    one_way_ms: float
    rtt_ms: float


class Ring(Frozen):
    """Sites whose latency from the centre, in ``mode``, is at most ``within_ms``."""

    within_ms: float
    mode: LatencyMode
    sites: tuple[RingMember, ...]


class Circles(Frozen):
    """Latency rings around one site (the site itself excluded)."""

    site: str
    version: str
    rings: tuple[Ring, ...]


class HubPair(Frozen):
    """Latency between two hub clusters and whether it meets the target each way of counting."""

    a: str
    b: str
    one_way_ms: float | None
    rtt_ms: float | None
    meets_one_way: bool
    meets_rtt: bool


class HubReport(Frozen):
    target_ms: float
    hubs: tuple[str, ...]
    pairs: tuple[HubPair, ...]
    meeting_one_way: int = Field(description="pairs within the target one way")
    meeting_rtt: int = Field(description="pairs within the target round trip")


def circles(net: Network, site: str, rings_ms: Sequence[float] = DEFAULT_RINGS_MS) -> Circles:
    """The sites within each of ``rings_ms`` of ``site``, one-way and round trip."""
    if any(r <= 0 for r in rings_ms):
        raise ValueError("ring radii must be positive milliseconds")
    net.node(site)
    reach = [x for x in net.latencies_from(site) if x.site != site and x.one_way_ms is not None]
    reach.sort(key=lambda x: (x.one_way_ms, x.site))
    out = []
    for mode in (LatencyMode.ONE_WAY, LatencyMode.ROUND_TRIP):
        for ring in sorted(rings_ms):
            members = tuple(
                RingMember(site=x.site, one_way_ms=x.one_way_ms, rtt_ms=x.rtt_ms or 0.0)
                for x in reach
                if x.one_way_ms is not None
                and (x.one_way_ms if mode is LatencyMode.ONE_WAY else (x.rtt_ms or 0.0)) <= ring
            )
            out.append(Ring(within_ms=ring, mode=mode, sites=members))
    return Circles(site=site, version=net.version, rings=tuple(out))


def hub_pairs(net: Network, hubs: Sequence[str], target_ms: float = HUB_TARGET_MS) -> HubReport:
    """Every pair of ``hubs`` with its latency and whether it meets ``target_ms``."""
    cm = net.cost_map()
    pairs = []
    for i, a in enumerate(hubs):
        for b in hubs[i + 1 :]:
            raw = float(cm.one_way_ms[cm.index(a), cm.index(b)])
            ok = bool(np.isfinite(raw))
            v = round(raw, 3) if ok else raw  # decide on the figures we print
            pairs.append(
                HubPair(
                    a=a,
                    b=b,
                    one_way_ms=v if ok else None,
                    rtt_ms=2 * v if ok else None,
                    meets_one_way=ok and v <= target_ms,
                    meets_rtt=ok and 2 * v <= target_ms,
                )
            )
    return HubReport(
        target_ms=target_ms,
        hubs=tuple(hubs),
        pairs=tuple(pairs),
        meeting_one_way=sum(p.meets_one_way for p in pairs),
        meeting_rtt=sum(p.meets_rtt for p in pairs),
    )


def china_hub_clusters(world: World) -> tuple[str, ...]:
    """The sites that are China's national hub data-centre clusters (kind ``hub``, in CN)."""
    return tuple(s.id for s in world.sites if s.kind is SiteKind.HUB and s.country == "CN")
