"""The versioned site-by-site cost map the scheduler reads (latency and price per GB)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from suanwang.core.errors import UnknownIdError
from suanwang.core.network.graph import F64
from suanwang.core.network.latency import Latency


@dataclass(frozen=True, eq=False)
class CostMap:
    """Site x site matrices along each pair's fastest path, under one network state.

    ``one_way_ms[i, j]`` is ``inf`` when ``sites[j]`` is unreachable from ``sites[i]``;
    ``price_per_gb_micros`` and ``bottleneck_gbps`` are then ``nan``. The diagonal is 0 ms,
    0 price and ``inf`` bandwidth (no network crossed). ``version`` changes whenever the
    topology, the model, a failure or a reservation changes.
    """

    version: str
    sites: tuple[str, ...]
    one_way_ms: F64
    price_per_gb_micros: F64
    bottleneck_gbps: F64

    @property
    def rtt_ms(self) -> F64:
        out: F64 = 2.0 * self.one_way_ms
        return out

    def index(self, site: str) -> int:
        try:
            return self.sites.index(site)
        except ValueError:
            raise UnknownIdError("site", site, self.sites) from None

    def latency(self, src: str, dst: str) -> Latency | None:
        """Latency between two sites, or None when unreachable."""
        v = float(self.one_way_ms[self.index(src), self.index(dst)])
        return Latency.from_one_way(v) if np.isfinite(v) else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form.

        Unreachable pairs become None in every matrix; the diagonal's bottleneck (no link
        crossed, so unbounded) is None as well.
        """

        def clean(m: F64, digits: int) -> list[list[float | None]]:
            return [[round(float(x), digits) if np.isfinite(x) else None for x in row] for row in m]

        return {
            "version": self.version,
            "sites": list(self.sites),
            "one_way_ms": clean(self.one_way_ms, 3),
            "rtt_ms": clean(self.rtt_ms, 3),
            "price_per_gb_micros": clean(self.price_per_gb_micros, 1),
            "bottleneck_gbps": clean(self.bottleneck_gbps, 3),
        }
