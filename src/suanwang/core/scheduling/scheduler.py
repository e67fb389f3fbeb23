"""The batch scheduler: tasks + snapshot + profile -> a :class:`Plan`.

Pipeline: group identical tasks, evaluate each group against every pool (PreFilter, Filter,
Score), keep each group's ``k`` best candidates, assign (min-cost flow or greedy), repair
leftovers against the capacity that is left, then check input transfers against link
bandwidth. The plan is a value: nothing in the snapshot or the network changes.

Policies: ``optimal`` solves min-cost flow and keeps the greedy plan instead only when greedy's
objective is lower after rounding (the plan says which won); ``greedy`` is the Kubernetes-style
baseline. Ties are broken by a seed derived from the request, so the same request and seed
give the same plan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from suanwang.core.errors import SuanwangError
from suanwang.core.scheduling.assign import Assignment, greedy, lp_bound, min_cost_flow, objective
from suanwang.core.scheduling.evaluate import Candidates, Framework
from suanwang.core.scheduling.framework import Profile
from suanwang.core.scheduling.groups import TaskGroups
from suanwang.core.scheduling.plan import Plan, PlanArrays
from suanwang.core.scheduling.snapshot import Snapshot
from suanwang.core.tasks import TaskSpec

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

DEFAULT_K = 32
"""Candidate pools kept per task group (Kubernetes' percentageOfNodesToScore, as a count)."""

REPAIR_ROUNDS = 4
"""Re-evaluations of leftover tasks against the capacity left (each finds new candidates)."""


class Policy(StrEnum):
    """How a batch is assigned."""

    OPTIMAL = "optimal"
    GREEDY = "greedy"


def request_seed(tasks: Sequence[TaskSpec], seed: int, start_hour: int) -> int:
    """A seed derived from the request (task names, the caller's seed, the start hour)."""
    h = hashlib.sha256(f"{seed}|{start_hour}|".encode())
    for t in tasks:
        h.update(t.name.encode())
        h.update(b"\0")
    return int.from_bytes(h.digest()[:8], "big")


def framework_for(profile: Profile) -> Framework:
    """The framework for ``profile``, its temporal shifting weighed like its scores."""
    w = profile.weights
    args = dict(profile.args.get("facts", {}))
    args.setdefault("shift_carbon", float(w.get("carbon", 0.0)))
    args.setdefault("shift_price", 0.5 * float(w.get("price", 0.0)))
    return Framework(profile.model_copy(update={"args": {**profile.args, "facts": args}}))


def schedule(
    tasks: Sequence[TaskSpec],
    snap: Snapshot,
    *,
    profile: Profile | None = None,
    policy: Policy | str = Policy.OPTIMAL,
    seed: int = 0,
    k: int = DEFAULT_K,
    lower_bound: bool = False,
) -> Plan:
    """Place ``tasks`` on ``snap``; see the module docstring.

    ``lower_bound``: also solve the LP relaxation (HiGHS) for a proven optimality gap.
    """
    try:
        pol = Policy(policy)
    except ValueError:
        raise SuanwangError(f"unknown policy {policy!r}; choose optimal or greedy") from None
    profile = profile or Profile.for_mode("balanced")
    fw = framework_for(profile)
    groups = TaskGroups.of(tasks, snap)
    rseed = request_seed(tasks, seed, snap.start_hour)
    rng = np.random.default_rng(rseed)
    tiebreak = rng.random(snap.n_pools)
    cands = fw.candidates(groups, snap, k, tiebreak=tiebreak)
    order = np.arange(len(tasks), dtype=np.int64)
    penalty = profile.unplaced_penalty
    members = [groups.members(g) for g in range(groups.n)] if pol is Policy.OPTIMAL else []
    base = greedy(groups.group_of, groups.units, cands, snap.pool_free, order)
    stats: dict[str, float | str] = {"groups": groups.n, "candidates": len(cands.pool)}

    def finish(assigned: Assignment) -> PlanArrays:
        arrays = PlanArrays.from_assignment(groups, cands, assigned.choice)
        arrays = _repair(arrays, groups, snap, fw, cands, assigned, order, tiebreak, k)
        return arrays.check_bandwidth(groups, snap)

    chosen, arrays = base, finish(base)
    if pol is Policy.OPTIMAL:
        flow = min_cost_flow(
            groups.group_of, groups.count, groups.units, cands, snap.pool_free, penalty, members
        )
        flow = greedy(groups.group_of, groups.units, cands, flow.free, order, flow.choice)
        flow_arrays = finish(flow)
        stats["objective_flow"] = objective(flow.choice, cands, penalty)
        stats["objective_greedy"] = objective(base.choice, cands, penalty)
        # compare the finished plans (after repair and the bandwidth check), not the raw
        # assignments: the final plan of the optimal policy is never worse than greedy's
        if flow_arrays.objective(penalty) <= arrays.objective(penalty) + 1e-9:
            chosen, arrays = flow, flow_arrays
        stats["winner"] = "min-cost-flow" if chosen is flow else "greedy"
    if lower_bound:
        stats["lower_bound"] = lp_bound(groups.count, groups.units, cands, snap.pool_free, penalty)
    stats["objective_assigned"] = objective(chosen.choice, cands, penalty)
    return Plan.build(
        arrays,
        groups,
        snap,
        profile=profile,
        policy=pol.value,
        seed=seed,
        score_names=tuple(p.name for p, _ in fw.scores),
        objective_value=arrays.objective(penalty),
        stats=stats,
        cands=cands,
    )


def _repair(
    arrays: PlanArrays,
    groups: TaskGroups,
    snap: Snapshot,
    fw: Framework,
    cands: Candidates,
    chosen: Assignment,
    order: I64,
    tiebreak: F64,
    k: int,
) -> PlanArrays:
    """Give leftover tasks (whose candidates all filled up) fresh candidates and place them."""
    free = chosen.free
    for _ in range(REPAIR_ROUNDS):
        left = np.flatnonzero((arrays.pool < 0) & (cands.feasible_count[groups.group_of] > 0))
        if len(left) == 0:
            break
        rows = np.unique(groups.group_of[left])
        fresh = fw.candidates(groups, snap, k, rows=rows, free=free, tiebreak=tiebreak)
        local = np.full(groups.n, -1, dtype=np.int64)
        local[rows] = np.arange(len(rows))
        sub = greedy(
            local[groups.group_of[left]], groups.units[rows], fresh, free, np.arange(len(left))
        )
        placed = sub.choice >= 0
        if not placed.any():
            break
        arrays = arrays.merge(left[placed], fresh, sub.choice[placed])
        free = sub.free
    return arrays
