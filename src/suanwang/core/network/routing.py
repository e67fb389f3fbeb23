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
            renumber = np.cumsum(node_mask, dtype=np.int64) - 1
        else:
            nodes = np.arange(graph.n_nodes, dtype=np.int64)
            renumber = nodes
        arcs = np.flatnonzero(arc_mask).astype(np.int64)
        tail = renumber[graph.arc_tail[arcs]]
        head = renumber[graph.arc_head[arcs]]
        new_slot = np.ones(len(arcs), dtype=np.bool_)
        if len(arcs) > 1:
            new_slot[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
        starts = np.flatnonzero(new_slot)
        slot_bounds = np.append(starts, len(arcs)).astype(np.int64)
        indptr = np.searchsorted(tail[starts], np.arange(len(nodes) + 1)).astype(np.int64)
        return cls(graph, arcs, nodes, tail, head, slot_bounds, head[starts], indptr)

    @classmethod
    def whole(cls, graph: CompiledGraph) -> SubGraph:
        """The whole graph, identity-numbered, without copying its arrays."""
        return cls(
            graph,
            np.arange(len(graph.arc_link), dtype=np.int64),
            np.arange(graph.n_nodes, dtype=np.int64),
            graph.arc_tail,
            graph.arc_head,
            graph.slot_bounds,
            graph.slot_head,
            graph.indptr,
        )

    def local(self, node: int) -> int:
        """Local index of global ``node`` (which must be in the subgraph)."""
        i = int(np.searchsorted(self.nodes, node))
        if i >= len(self.nodes) or self.nodes[i] != node:
            raise KeyError(node)
        return i

    def matrix(self, weight: F64) -> csr_matrix:
        """CSR of least weight per slot; ``weight`` is indexed like :attr:`arcs`."""
        n = len(self.nodes)
        if len(weight) == 0:
            return csr_matrix((n, n))
        slot_w = np.minimum.reduceat(weight, self.slot_bounds[:-1])
        return csr_matrix((slot_w, self.slot_head, self.indptr), shape=(n, n), copy=False)

    def slot_keys(self) -> I64:
        """``tail * n + head`` per slot (ascending), for vectorised slot lookup."""
        if self.slot_bounds is self.graph.slot_bounds:
            return self.graph.slot_keys
        n = len(self.nodes)
        starts = self.slot_bounds[:-1]
        out: I64 = self.tail[starts] * n + self.slot_head
        return out

    def path_arcs(self, pred: NDArray[np.int32], source: int, target: int, weight: F64) -> I64:
        """Global arc ids of the path to ``target`` in a predecessor tree (empty if none)."""
        s, t = self.local(source), self.local(target)
        if s == t:
            return np.zeros(0, dtype=np.int64)
        chain = [t]
        p = int(pred[t])
        while p >= 0:
            chain.append(p)
            if p == s:
                break
            p = int(pred[p])
        if chain[-1] != s:
            return np.zeros(0, dtype=np.int64)
        nodes = np.array(chain[::-1], dtype=np.int64)
        keys = nodes[:-1] * len(self.nodes) + nodes[1:]
        slots = np.searchsorted(self.slot_keys(), keys)
        first = self.slot_bounds[slots]
        width = self.slot_bounds[slots + 1] - first
        local_arcs = first.copy()
        for k in np.flatnonzero(width > 1):  # parallel links: take the lightest
            a0 = int(first[k])
            local_arcs[k] = a0 + int(np.argmin(weight[a0 : a0 + int(width[k])]))
        out: I64 = self.arcs[local_arcs]
        return out


@dataclass(frozen=True)
class LaracResult:
    """A path found by LARAC with its proof of quality."""

    arcs: I64
    cost: float
    latency: float
    lower_bound: float
    iterations: int
    fastest: float

    @property
    def gap(self) -> float:
        """Absolute optimality gap: cost minus the Lagrangian lower bound (>= 0)."""
        return max(0.0, self.cost - self.lower_bound)


class InfeasibleError(Exception):
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
    *,
    symmetric: bool = False,
    max_iterations: int = 64,
) -> LaracResult:
    """Cheapest path from ``source`` to ``target`` with latency <= ``bound``.

    ``symmetric`` promises that the masked latency of every arc equals that of its reverse
    (no per-direction rules), which saves a transpose. Raises :class:`InfeasibleError` when even
    the fastest path exceeds ``bound``. :attr:`LaracResult.fastest` is the least latency.
    """
    weight = np.where(arc_mask, arc_latency, np.inf)
    forward = graph.matrix(weight)
    ds, pred = dijkstra(forward, indices=source, limit=bound + EPS, return_predecessors=True)
    ds = np.asarray(ds, dtype=np.float64)
    reach = float(ds[target])
    if not np.isfinite(reach) or reach > bound + EPS:
        best = dijkstra(forward, indices=source)
        raise InfeasibleError(float(best[target]))
    backward = forward if symmetric else forward.T.tocsr()
    dt = np.asarray(dijkstra(backward, indices=target, limit=bound + EPS), dtype=np.float64)
    node_mask = (ds + dt) <= bound + EPS
    sub = SubGraph.of(graph, arc_mask, node_mask)
    lat = arc_latency[sub.arcs]
    cost = arc_cost[sub.arcs]
    # tie-break cost by latency so that zero-price links still order sensibly
    tie = 1e-9 * lat

    matrix = sub.matrix(lat)  # built once; each round only rewrites its weights
    simple = bool(len(sub.arcs) == len(sub.slot_head))  # no parallel arcs: slot == arc
    src_local = sub.local(source)

    def run(weight: F64, limit: float) -> tuple[I64, float, float]:
        # ``limit`` is the weight of a known source-target path: nothing heavier can win
        matrix.data[:] = weight if simple else np.minimum.reduceat(weight, sub.slot_bounds[:-1])
        _, pred = dijkstra(
            matrix, indices=src_local, return_predecessors=True, limit=limit * (1 + 1e-9) + 1e-9
        )
        arcs = sub.path_arcs(pred, source, target, weight)
        return arcs, float(arc_cost[arcs].sum()), float(arc_latency[arcs].sum())

    p_d = SubGraph.whole(graph).path_arcs(pred, source, target, weight)
    c_d, d_d = float(arc_cost[p_d].sum()), float(arc_latency[p_d].sum())
    p_c, c_c, d_c = run(cost + tie, c_d + 1e-9 * d_d)
    if d_c <= bound + EPS:
        return LaracResult(p_c, c_c, d_c, c_c, 2, reach)
    lower = c_c  # the dual at lambda = 0: no path is cheaper than the unconstrained cheapest
    iterations = 2
    while iterations < max_iterations:
        if d_d >= d_c - EPS:
            break
        lam = (c_c - c_d) / (d_d - d_c)
        lam = max(lam, 0.0)
        known = min(c_c + lam * d_c, c_d + lam * d_d) + 1e-9 * max(d_c, d_d)
        r, c_r, d_r = run(cost + lam * lat + tie, known)
        iterations += 1
        value_r = c_r + lam * d_r
        lower = max(lower, value_r - lam * bound)
        if value_r >= c_c + lam * d_c - 1e-7 * max(1.0, abs(value_r)):
            break
        if d_r <= bound + EPS:
            p_d, c_d, d_d = r, c_r, d_r
        else:
            p_c, c_c, d_c = r, c_r, d_r
    return LaracResult(p_d, c_d, d_d, min(lower, c_d), iterations, reach)
