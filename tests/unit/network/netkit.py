"""Shared builders for network tests: small seeded topologies and their networkx twins."""

from __future__ import annotations

import networkx as nx
import numpy as np

from suanwang.core.network.engine import Network
from suanwang.core.network.graph import CompiledGraph
from suanwang.core.network.latency import LatencyModel
from suanwang.core.network.synthetic import random_topology


def small_network(n: int, seed: int, **kwargs: object) -> Network:
    """A seeded geometric topology of ``n`` nodes (all of them sites)."""
    topo = random_topology(n, seed, sites=n, submarine_share=0.15, cable_size=3, **kwargs)  # type: ignore[arg-type]
    return Network(CompiledGraph.build(topo, LatencyModel()))


def twin(net: Network, weight: str = "ms", up_only: bool = True) -> nx.Graph:
    """The same topology in networkx (min weight over parallel links)."""
    g = net.graph
    out = nx.Graph()
    out.add_nodes_from(g.node_ids)
    values = g.link_ms if weight == "ms" else g.link_price
    up = net.link_up
    for i in range(g.n_links):
        if up_only and not up[i]:
            continue
        a, b = g.node_ids[int(g.link_a[i])], g.node_ids[int(g.link_b[i])]
        w = float(values[i])
        if not out.has_edge(a, b) or out[a][b]["w"] > w:
            out.add_edge(a, b, w=w)
    return out


def connected_pair(net: Network, rng: np.random.Generator) -> tuple[str, str] | None:
    """Two distinct nodes in the same component, or None."""
    g = twin(net)
    comps = [c for c in nx.connected_components(g) if len(c) > 1]
    if not comps:
        return None
    comp = sorted(max(comps, key=len))
    i, j = rng.choice(len(comp), size=2, replace=False)
    return comp[int(i)], comp[int(j)]
