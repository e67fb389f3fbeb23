"""Path algorithms over a :class:`CompiledGraph`: Dijkstra on masked arcs, and LARAC.

These functions work on arc indices and weight arrays; :mod:`suanwang.core.network.engine`
turns them into named :class:`~suanwang.core.network.paths.Path` values.

LARAC (Lagrangian Relaxation Aggregated Cost; Jüttner et al., INFOCOM 2001) finds the
cheapest path subject to a latency bound. Each round is a Dijkstra on ``cost + lambda *
latency``; the Lagrangian dual gives a lower bound on the optimal cost, so each answer
carries its optimality gap. Before LARAC runs, a two-sided latency search prunes every node
that no path within the bound can visit (``d(src, v) + d(v, dst) > bound``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from suanwang.core.network.graph import F64, I64, B, CompiledGraph

EPS = 1e-9


@dataclass(frozen=True)
class SubGraph:
    """The active arcs of a graph, restricted to some nodes and renumbered for Dijkstra."""

    graph: CompiledGraph
    arcs: I64  # global arc ids, sorted by (tail, head)
    nodes: I64  # global node ids, sorted
    tail: I64  # local
    head: I64  # local
    slot_bounds: I64
    slot_head: I64
    indptr: I64

    @classmethod
    def of(cls, graph: CompiledGraph, arc_mask: B, node_mask: B | None = None) -> SubGraph:
        """The arcs in ``arc_mask`` whose both ends are in ``node_mask`` (all nodes if None)."""
        if node_mask is not None:
            arc_mask = arc_mask & node_mask[graph.arc_tail] & node_mask[graph.arc_head]
            nodes = np.flatnonzero(node_mask).astype(np.int64)
        else:
            nodes = np.arange(graph.n_nodes, dtype=np.int64)
        arcs = np.flatnonzero(arc_mask).astype(np.int64)
        tail = np.searchsorted(nodes, graph.arc_tail[arcs]).astype(np.int64)
        head = np.searchsorted(nodes, graph.arc_head[arcs]).astype(np.int64)
        new_slot = np.ones(len(arcs), dtype=np.bool_)
        if len(arcs) > 1:
            new_slot[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
        starts = np.flatnonzero(new_slot)
        slot_bounds = np.append(starts, len(arcs)).astype(np.int64)
        indptr = np.searchsorted(tail[starts], np.arange(len(nodes) + 1)).astype(np.int64)
        return cls(graph, arcs, nodes, tail, head, slot_bounds, head[starts], indptr)

    def local(self, node: int) -> int:
        """Local index of global ``node`` (which must be in the subgraph)."""
        i = int(np.searchsorted(self.nodes, node))
        if i >= len(self.nodes) or self.nodes[i] != node:
            raise KeyError(node)
        return i

    def contains(self, node: int) -> bool:
        i = int(np.searchsorted(self.nodes, node))
        return i < len(self.nodes) and int(self.nodes[i]) == node

    def matrix(self, weight: F64) -> csr_matrix:
        """CSR of least weight per slot; ``weight`` is indexed like :attr:`arcs`."""
        n = len(self.nodes)
        if len(weight) == 0:
            return csr_matrix((n, n))
        slot_w = np.minimum.reduceat(weight, self.slot_bounds[:-1])
        return csr_matrix((slot_w, self.slot_head, self.indptr), shape=(n, n), copy=False)

    def shortest(
        self, weight: F64, source: int, limit: float = np.inf
    ) -> tuple[F64, NDArray[np.int32]]:
        """Distances and predecessors (local indices) from global ``source``."""
        dist, pred = dijkstra(
            self.matrix(weight), indices=self.local(source), return_predecessors=True, limit=limit
        )
        return np.asarray(dist, dtype=np.float64), pred

    def path_arcs(self, pred: NDArray[np.int32], source: int, target: int, weight: F64) -> I64:
        """Global arc ids of the path to ``target`` in a predecessor tree (empty if none)."""
        s, t = self.local(source), self.local(target)
        if s == t:
            return np.zeros(0, dtype=np.int64)
        chain = [t]
        while chain[-1] != s:
            p = int(pred[chain[-1]])
            if p < 0:
                return np.zeros(0, dtype=np.int64)
            chain.append(p)
        chain.reverse()
        out = np.empty(len(chain) - 1, dtype=np.int64)
        for k, (u, v) in enumerate(zip(chain[:-1], chain[1:], strict=True)):
            lo, hi = int(self.indptr[u]), int(self.indptr[u + 1])
            slot = lo + int(np.searchsorted(self.slot_head[lo:hi], v))
            a0, a1 = int(self.slot_bounds[slot]), int(self.slot_bounds[slot + 1])
            out[k] = self.arcs[a0 + int(np.argmin(weight[a0:a1]))]
        return out


@dataclass(frozen=True)
class LaracResult:
    """A path found by LARAC with its proof of quality."""

    arcs: I64
    cost: float
    latency: float
    lower_bound: float
    iterations: int

    @property
    def gap(self) -> float:
        """Absolute optimality gap: cost minus the Lagrangian lower bound (>= 0)."""
        return max(0.0, self.cost - self.lower_bound)


class Infeasible(Exception):
    """No path satisfies the bound; ``best_latency`` is the least achievable (inf: none)."""

    def __init__(self, best_latency: float) -> None:
        self.best_latency = best_latency
        super().__init__(best_latency)


def larac(
    graph: CompiledGraph,
    arc_mask: B,
    arc_latency: F64,
    arc_cost: F64,
    source: int,
    target: int,
    bound: float,
    max_iterations: int = 64,
) -> LaracResult:
    """Cheapest path from ``source`` to ``target`` with latency <= ``bound``.

    Raises :class:`Infeasible` when even the fastest path exceeds ``bound``.
    """
    full = SubGraph.of(graph, arc_mask)
    lat_full = arc_latency[full.arcs]
    ds, _ = full.shortest(lat_full, source, limit=bound + EPS)
    dt, _ = _reverse_distances(full, lat_full, target, bound + EPS)
    reach = ds[full.local(target)]
    if not np.isfinite(reach) or reach > bound + EPS:
        best, _ = full.shortest(lat_full, source)
        raise Infeasible(float(best[full.local(target)]))
    keep_local = (ds + dt) <= bound + EPS
    node_mask = np.zeros(graph.n_nodes, dtype=np.bool_)
    node_mask[full.nodes[keep_local]] = True
    sub = SubGraph.of(graph, arc_mask, node_mask)
    lat = arc_latency[sub.arcs]
    cost = arc_cost[sub.arcs]
    # tie-break cost by latency so that zero-price links still order sensibly
    tie = 1e-9 * lat

    def run(weight: F64) -> tuple[I64, float, float]:
        _, pred = sub.shortest(weight, source)
        arcs = sub.path_arcs(pred, source, target, weight)
        return arcs, float(arc_cost[arcs].sum()), float(arc_latency[arcs].sum())

    p_c, c_c, d_c = run(cost + tie)
    if d_c <= bound + EPS:
        return LaracResult(p_c, c_c, d_c, c_c, 1)
    p_d, c_d, d_d = run(lat + 1e-9 * cost)
    lower = c_c  # the dual at lambda = 0: no path is cheaper than the unconstrained cheapest
    iterations = 2
    while iterations < max_iterations:
        if d_d >= d_c - EPS:
            break
        lam = (c_c - c_d) / (d_d - d_c)
        lam = max(lam, 0.0)
        r, c_r, d_r = run(cost + lam * lat + tie)
        iterations += 1
        value_r = c_r + lam * d_r
        lower = max(lower, value_r - lam * bound)
        if value_r >= c_c + lam * d_c - 1e-7 * max(1.0, abs(value_r)):
            break
        if d_r <= bound + EPS:
            p_d, c_d, d_d = r, c_r, d_r
        else:
            p_c, c_c, d_c = r, c_r, d_r
    return LaracResult(p_d, c_d, d_d, min(lower, c_d), iterations)


def _reverse_distances(sub: SubGraph, weight: F64, target: int, limit: float) -> tuple[F64, None]:
    matrix = sub.matrix(weight).T.tocsr()
    dist = dijkstra(matrix, indices=sub.local(target), limit=limit)
    return np.asarray(dist, dtype=np.float64), None
