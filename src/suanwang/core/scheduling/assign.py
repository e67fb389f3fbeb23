"""Assigning tasks to candidate pools: the greedy baseline, min-cost flow, and the LP bound.

All three read the same :class:`Candidates` (per group, its best feasible pools with a cost
each), so their objectives are comparable: the sum of the chosen candidates' costs plus the
profile's unplaced penalty per task left out.

- :func:`greedy` is the Kubernetes-style baseline: tasks one at a time in submission order,
  each to its best candidate with room left.
- :func:`min_cost_flow` solves the batch with OR-Tools' min-cost flow, flow in quanta of
  normalized units (groups -> pools -> sink, plus a group -> sink arc at the unplaced penalty),
  then rounds each group's flow down to whole tasks. Leftovers go back to the caller's repair.
- :func:`lp_bound` solves the LP relaxation (fractional tasks) with HiGHS: a lower bound on
  any plan over the same candidates, so ``(objective - bound) / bound`` is a proven gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from ortools.graph.python import min_cost_flow as mcf
from scipy.optimize import linprog

from suanwang.core.errors import SuanwangError
from suanwang.core.scheduling.evaluate import Candidates

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

QUANTA_PER_SMALLEST_TASK = 100
"""Flow quanta in the smallest task of a batch (rounding a demand costs at most 0.5%)."""


@dataclass(frozen=True, eq=False)
class Assignment:
    """``choice[t]``: index into the candidates' flat arrays for task ``t`` (-1: unplaced)."""

    choice: I64
    free: F64


def greedy(
    group_of: I64, units: F64, cands: Candidates, free: F64, order: I64, choice: I64 | None = None
) -> Assignment:
    """Each task in ``order`` to the first of its group's candidates with room left.

    Candidates are in rising cost, and tasks of one group are identical, so a pool one task
    skipped for lack of room stays skipped for the rest of its group: one pointer per group.
    """
    free = free.copy()
    choice = np.full(len(group_of), -1, dtype=np.int64) if choice is None else choice.copy()
    cur = cands.ptr[:-1].copy()
    end = cands.ptr[1:]
    pool = cands.pool
    for t in order:
        t = int(t)
        if choice[t] >= 0:
            continue
        g = int(group_of[t])
        need = float(units[g])
        j = int(cur[g])
        stop = int(end[g])
        while j < stop and free[pool[j]] < need - 1e-9:
            j += 1
        cur[g] = j
        if j < stop:
            choice[t] = j
            free[pool[j]] -= need
    return Assignment(choice, free)


def min_cost_flow(
    group_of: I64,
    count: I64,
    units: F64,
    cands: Candidates,
    free: F64,
    unplaced_penalty: float,
    members: list[I64],
) -> Assignment:
    """Optimal split of each group over its candidates, rounded down to whole tasks."""
    g_n = len(count)
    p_n = len(free)
    live = np.flatnonzero((count > 0) & (np.diff(cands.ptr) > 0))
    choice = np.full(len(group_of), -1, dtype=np.int64)
    if len(live) == 0:
        return Assignment(choice, free.copy())
    q = QUANTA_PER_SMALLEST_TASK / float(units[live].min())
    d = np.maximum(1, np.rint(units * q)).astype(np.int64)
    supply = count * d
    arc_g = np.repeat(np.arange(g_n), np.diff(cands.ptr))
    keep = np.isin(arc_g, live)
    arc_g, arc_p, arc_c = arc_g[keep], cands.pool[keep], cands.cost[keep]
    arc_idx = np.flatnonzero(keep)
    per_unit = np.concatenate([arc_c / d[arc_g], unplaced_penalty / d[live]])
    total = float(supply[live].sum())
    scale = min(1e9, 4e18 / max(total * float(per_unit.max()), 1.0))
    if scale < 1e3:
        raise SuanwangError("batch too large for integer flow costs; split it")
    sink = g_n + p_n
    cap_p = np.floor(np.maximum(free, 0.0) * q).astype(np.int64)
    tails = np.concatenate([arc_g, live, g_n + np.arange(p_n)])
    heads = np.concatenate([g_n + arc_p, np.full(len(live), sink), np.full(p_n, sink)])
    caps = np.concatenate([supply[arc_g], supply[live], cap_p])
    costs = np.concatenate([np.rint(per_unit * scale), np.zeros(p_n)]).astype(np.int64)
    solver = mcf.SimpleMinCostFlow()
    arcs = solver.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps, costs
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[live] = supply[live]
    supplies[sink] = -int(supply[live].sum())
    solver.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supplies)
    status = solver.solve()
    if status != solver.OPTIMAL:
        raise SuanwangError(f"min-cost flow did not solve (status {status})")
    flow = solver.flows(arcs)[: len(arc_g)]
    tasks = np.floor(flow / d[arc_g] + 1e-9).astype(np.int64)
    free = free.copy()
    taken = np.zeros(g_n, dtype=np.int64)
    for a in np.flatnonzero(tasks > 0):
        g, p, n = int(arc_g[a]), int(arc_p[a]), int(tasks[a])
        n = min(n, int((free[p] + 1e-9) // units[g]) if units[g] > 0 else n)
        mem = members[g]
        for t in mem[taken[g] : taken[g] + n]:
            choice[int(t)] = int(arc_idx[a])
        free[p] -= n * units[g]
        taken[g] += n
    return Assignment(choice, free)


def objective(choice: I64, cands: Candidates, unplaced_penalty: float) -> float:
    """Sum of the chosen candidates' costs plus the penalty for every unplaced task."""
    placed = choice >= 0
    return float(cands.cost[choice[placed]].sum()) + unplaced_penalty * float((~placed).sum())


def lp_bound(
    count: I64, units: F64, cands: Candidates, free: F64, unplaced_penalty: float
) -> float:
    """The LP relaxation's optimum (HiGHS dual simplex): no plan over ``cands`` costs less."""
    g_n = len(count)
    arc_g = np.repeat(np.arange(g_n), np.diff(cands.ptr))
    n_arc = len(arc_g)
    c = np.concatenate([cands.cost, np.full(g_n, unplaced_penalty)])
    eq = sp.csr_matrix(
        (
            np.ones(n_arc + g_n),
            (np.concatenate([arc_g, np.arange(g_n)]), np.arange(n_arc + g_n)),
        ),
        shape=(g_n, n_arc + g_n),
    )
    pools, inv = np.unique(cands.pool, return_inverse=True)
    ub = sp.csr_matrix((units[arc_g], (inv, np.arange(n_arc))), shape=(len(pools), n_arc + g_n))
    res = linprog(
        c,
        A_ub=ub if len(pools) else None,
        b_ub=np.maximum(free[pools], 0.0) if len(pools) else None,
        A_eq=eq,
        b_eq=count.astype(np.float64),
        bounds=(0, None),
        method="highs-ds",
    )
    if res.status != 0:
        raise SuanwangError(f"HiGHS could not solve the LP bound: {res.message}")
    return float(res.fun)
