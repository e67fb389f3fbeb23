"""Routes from the places tasks come from (origins, input data) to every site, per path rule.

One :class:`RouteTable` holds a multi-source Dijkstra over the network under one set of path
rules, from every *source node* the batch needs: the nodes that origins attach to and the
sites that hold input data. Distances run in the direction data travels (source to site), so
the latency, price per GB and free bandwidth are those of the real direction of the flow.
The number of sources is the number of distinct places, not the number of tasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.sparse.csgraph import dijkstra

from suanwang.core.network.engine import Network, _best_arc_per_pair, _walk_back
from suanwang.core.network.graph import haversine_km
from suanwang.core.network.paths import PathRules
from suanwang.core.network.routing import SubGraph

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(eq=False)
class RouteTable:
    """Shortest-latency trees from ``sources`` (node indices) under ``rules``.

    ``one_way_ms[k, j]``: one-way latency from source ``k`` to site ``j`` (network only, the
    endpoint allowance included; ``inf`` when the rules leave no path; 0 when the source is the
    site). ``price_per_gb_micros`` and ``free_gbps`` follow the same fastest paths (free is
    ``inf`` for a source that is the site itself).
    """

    network: Network
    rules: PathRules
    sources: I64
    one_way_ms: F64
    price_per_gb_micros: F64
    free_gbps: F64
    _pred: npt.NDArray[np.int32]
    _weight: F64
    _row: dict[int, int] = field(default_factory=dict)
    _arcs: dict[tuple[int, int], I64] = field(default_factory=dict)

    @classmethod
    def build(cls, network: Network, rules: PathRules, sources: Sequence[int]) -> RouteTable:
        """Run one Dijkstra from every distinct source node under ``rules``."""
        g = network.graph
        src = np.unique(np.asarray(sources, dtype=np.int64))
        sites = np.arange(g.site_count, dtype=np.int64)
        weight = np.where(network.arc_mask(rules), network.arc_latency(), np.inf)
        if len(src) == 0:
            empty = np.zeros((0, len(sites)))
            return cls(
                network, rules, src, empty, empty, empty, np.zeros((0, g.n_nodes), np.int32), weight
            )
        dist, pred = dijkstra(g.matrix(weight), indices=src, return_predecessors=True)
        dist = np.atleast_2d(dist)
        pred = np.atleast_2d(pred)
        price, free = _walk_back(
            pred,
            sites,
            _best_arc_per_pair(g, weight),
            g.link_price[g.arc_link],
            network.arc_free_gbps(),
        )
        d = dist[:, sites]
        one_way = d + np.where(d > 0, g.model.endpoint_ms, 0.0)
        reach = np.isfinite(one_way)
        table = cls(
            network=network,
            rules=rules,
            sources=src,
            one_way_ms=one_way,
            price_per_gb_micros=np.where(reach, price, np.nan),
            free_gbps=np.where(reach, free, np.nan),
            _pred=pred,
            _weight=weight,
        )
        table._row = {int(s): k for k, s in enumerate(src)}
        return table

    def row(self, node: int) -> int:
        """The row of source ``node`` (it must have been among the sources)."""
        return self._row[node]

    def path_arcs(self, node: int, site: int) -> I64:
        """Global arc ids of the fastest path from source ``node`` to site ``site`` (cached)."""
        key = (node, site)
        arcs = self._arcs.get(key)
        if arcs is None:
            sub = SubGraph.whole(self.network.graph)
            arcs = sub.path_arcs(self._pred[self.row(node)], node, site, self._weight)
            self._arcs[key] = arcs
        return arcs


def attach_points(network: Network, lat: F64, lon: F64, count: int = 3) -> tuple[I64, F64]:
    """For each point, its ``count`` nearest nodes and the access latency to each (vectorised).

    Returns ``(nodes[points, count], access_ms[points, count])``, the same legs
    :meth:`Network.attach` gives one point.
    """
    g = network.graph
    d = haversine_km(lat[:, None], lon[:, None], g.node_lat[None, :], g.node_lon[None, :])
    k = max(1, min(count, g.n_nodes))
    part = np.argpartition(d, k - 1, axis=1)[:, :k] if k < g.n_nodes else np.argsort(d, axis=1)
    near_d = np.take_along_axis(d, part, axis=1)
    nearest = np.take_along_axis(part, np.argsort(near_d, axis=1, kind="stable"), axis=1)
    km = np.take_along_axis(d, nearest, axis=1)
    access = np.vectorize(g.model.access_one_way_ms, otypes=[np.float64])(km)
    return nearest.astype(np.int64), access.reshape(km.shape)
