"""Plans: where each task goes, when it starts, what it costs, and why.

:class:`PlanArrays` is the decision as per-task arrays (fast to build and merge);
:class:`Plan` adds the explanations (runner-up site and per-plugin scores per placement,
reasons for the unplaced), the totals, and an independent check of every hard constraint.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from suanwang.core.scheduling.evaluate import Candidates
from suanwang.core.scheduling.facts import FLOW_CAP_GBPS
from suanwang.core.scheduling.framework import Profile
from suanwang.core.scheduling.groups import TaskGroups
from suanwang.core.scheduling.snapshot import CLASSES, Snapshot
from suanwang.core.scheduling.sovereignty import allowed_site_mask, key

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

CAPACITY = "capacity"
TRANSFER_TARGET_H = 1.0
"""A transfer without a tighter deadline reserves the rate that moves its data in an hour."""
BANDWIDTH = "bandwidth"


@dataclass(frozen=True, eq=False)
class PlanArrays:
    """Per task: ``pool`` (-1: unplaced), its facts, its objective ``cost`` and penalty ``parts``.

    ``reason[t]`` is set for unplaced tasks only.
    """

    pool: I64
    start_h: I64
    origin_ms: F64
    cost_micros: F64
    carbon_g: F64
    energy_kwh: F64
    transfer_h: F64
    cost: F64
    parts: F64
    reason: npt.NDArray[np.object_]
    reservations: tuple[tuple[str, tuple[str, ...], float], ...] = ()

    @classmethod
    def from_assignment(cls, groups: TaskGroups, cands: Candidates, choice: I64) -> PlanArrays:
        n = len(choice)
        out = cls(
            pool=np.full(n, -1, dtype=np.int64),
            start_h=np.zeros(n, dtype=np.int64),
            origin_ms=np.full(n, np.nan),
            cost_micros=np.zeros(n),
            carbon_g=np.zeros(n),
            energy_kwh=np.zeros(n),
            transfer_h=np.zeros(n),
            cost=np.zeros(n),
            parts=np.zeros((n, cands.parts.shape[1])),
            reason=np.full(n, "", dtype=object),
        )
        out = out.merge(np.flatnonzero(choice >= 0), cands, choice[choice >= 0])
        left = np.flatnonzero(choice < 0)
        g = groups.group_of[left]
        blocked = np.array((*cands.blocked_by, ""), dtype=object)[
            np.where(cands.feasible_count[g] == 0, g, len(cands.blocked_by))
        ]
        out.reason[left] = np.where(blocked == "", CAPACITY, blocked)
        return out

    def merge(self, tasks: I64, cands: Candidates, choice: I64) -> PlanArrays:
        """A copy with ``tasks`` placed on candidates ``choice`` of ``cands``."""
        out = replace(
            self,
            **{
                k: getattr(self, k).copy()
                for k in (
                    "pool",
                    "start_h",
                    "origin_ms",
                    "cost_micros",
                    "carbon_g",
                    "energy_kwh",
                    "transfer_h",
                    "cost",
                    "parts",
                    "reason",
                )
            },
        )
        out.pool[tasks] = cands.pool[choice]
        out.start_h[tasks] = cands.start_h[choice]
        out.origin_ms[tasks] = cands.origin_ms[choice]
        out.cost_micros[tasks] = cands.cost_micros[choice]
        out.carbon_g[tasks] = cands.carbon_g[choice]
        out.energy_kwh[tasks] = cands.energy_kwh[choice]
        out.transfer_h[tasks] = cands.transfer_h[choice]
        out.cost[tasks] = cands.cost[choice]
        out.parts[tasks] = cands.parts[choice]
        out.reason[tasks] = ""
        return out

    def objective(self, unplaced_penalty: float) -> float:
        placed = self.pool >= 0
        return float(self.cost[placed].sum()) + unplaced_penalty * float((~placed).sum())

    def check_bandwidth(
        self, groups: TaskGroups, snap: Snapshot, min_gbps: float = 0.1
    ) -> PlanArrays:
        """Reserve each input transfer's bandwidth in submission order.

        A transfer reserves the rate that moves its data within :data:`TRANSFER_TARGET_H`
        (or within its slack before the deadline, if shorter), at least ``min_gbps`` and at
        most one flow's cap (:data:`FLOW_CAP_GBPS`); its transfer time follows from that rate.
        A task whose path has less than that rate left, or that would then miss its deadline,
        is unplaced with reason ``bandwidth``. The reservations are listed, not made.
        """
        moving = np.flatnonzero(
            (self.pool >= 0)
            & (groups.input_gb[groups.group_of] > 0)
            & (groups.input_site[groups.group_of] != snap.pool_site[np.maximum(self.pool, 0)])
        )
        if len(moving) == 0:
            return self
        free = snap.network.arc_free_gbps()
        load = np.zeros_like(free)
        out = replace(
            self,
            pool=self.pool.copy(),
            reason=self.reason.copy(),
            transfer_h=self.transfer_h.copy(),
        )
        reservations = []
        link_of_arc = snap.network.graph.arc_link
        link_ids = snap.network.graph.link_ids
        for t in moving:
            g = int(groups.group_of[t])
            rules = groups.rules[int(groups.rule[g])]
            if rules is None:
                continue
            src = int(groups.input_site[g])
            table = snap.routes(rules, (src,))
            arcs = table.path_arcs(src, int(snap.pool_site[out.pool[t]]))
            if len(arcs) == 0:
                continue
            left = float(np.min(free[arcs] - load[arcs]))
            slack = float(groups.deadline_h[g] - out.start_h[t] - groups.duration_h[g])
            target_h = max(min(TRANSFER_TARGET_H, slack), 1e-6)
            need = float(groups.input_gb[g]) * 8.0 / (target_h * 3600.0)
            rate = min(FLOW_CAP_GBPS, max(min_gbps, need))
            hours = float(groups.input_gb[g]) * 8.0 / rate / 3600.0
            end = out.start_h[t] + hours + groups.duration_h[g]
            if left < rate - 1e-9 or end > groups.deadline_h[g] + 1e-9:
                out.pool[t] = -1
                out.reason[t] = BANDWIDTH
                continue
            load[arcs] += rate
            out.transfer_h[t] = hours
            links = tuple(link_ids[int(link_of_arc[a])] for a in arcs)
            reservations.append((groups.tasks[int(t)].name, links, round(rate, 4)))
        return replace(out, reservations=tuple(reservations))


def violations(arrays: PlanArrays, groups: TaskGroups, snap: Snapshot) -> list[str]:
    """Every hard constraint the plan breaks, re-checked from the tasks and the snapshot."""
    out: list[str] = []
    placed = np.flatnonzero(arrays.pool >= 0)
    pool = arrays.pool[placed]
    g = groups.group_of[placed]
    used = np.bincount(pool, weights=groups.units[g], minlength=snap.n_pools)
    for p in np.flatnonzero(used > snap.pool_free + 1e-6):
        out.append(f"capacity: {snap.pool_label(int(p))} over by {used[p] - snap.pool_free[p]:.4g}")
    names = [groups.tasks[int(t)].name for t in placed]
    bad_class = groups.cls[g] != snap.pool_class[pool]
    want = np.array([groups.model[int(x)] or "" for x in g], dtype=object)
    have = np.array(snap.pool_model, dtype=object)[pool]
    bad_model = (want != "") & (want != have)
    # one site mask per distinct sovereignty key, looked up per placed task
    key_of: dict[object, int] = {}
    masks: list[npt.NDArray[np.bool_]] = []
    group_key = np.empty(groups.n, dtype=np.int64)
    for gg, sov in enumerate(groups.sovereignty):
        kk = key(sov)
        if kk not in key_of:
            key_of[kk] = len(masks)
            masks.append(allowed_site_mask(sov, snap.site_country, snap.site_tags))
        group_key[gg] = key_of[kk]
    allowed = (
        np.stack(masks)[group_key[g], snap.pool_site[pool]]
        if masks
        else np.ones(len(placed), dtype=np.bool_)
    )
    late = arrays.start_h[placed] + arrays.transfer_h[placed] + groups.duration_h[g]
    checks = (
        ("class", bad_class),
        ("hardware model", bad_model),
        ("sovereignty", ~allowed),
        ("latency SLA", arrays.origin_ms[placed] > groups.sla_one_way_ms[g] + 1e-6),
        ("budget", arrays.cost_micros[placed] > groups.budget_micros[g] + 0.5),
        ("deadline", late > groups.deadline_h[g] + 1e-6),
    )
    for what, bad in checks:
        for j in np.flatnonzero(bad):
            out.append(f"{what}: task {names[int(j)]} on {snap.pool_label(int(pool[j]))}")
    return out


@dataclass(frozen=True, eq=False)
class Plan:
    """A plan with its explanations and totals (see :meth:`to_dict` for the wire form)."""

    arrays: PlanArrays
    groups: TaskGroups
    snap: Snapshot
    profile: Profile
    policy: str
    seed: int
    score_names: tuple[str, ...]
    objective: float
    runner_up: tuple[str | None, ...]
    violations: tuple[str, ...]
    stats: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        arrays: PlanArrays,
        groups: TaskGroups,
        snap: Snapshot,
        *,
        profile: Profile,
        policy: str,
        seed: int,
        score_names: tuple[str, ...],
        objective_value: float,
        stats: dict[str, Any],
        cands: Candidates,
    ) -> Plan:
        lb = stats.get("lower_bound")
        solved = stats.get("objective_assigned")
        if isinstance(lb, float) and isinstance(solved, float):
            # the solver's gap: the assignment (before the bandwidth check, which the LP
            # does not model) against the LP bound over the same candidates
            stats["gap"] = (solved - lb) / lb if lb > 1e-9 else 0.0
        return cls(
            arrays=arrays,
            groups=groups,
            snap=snap,
            profile=profile,
            policy=policy,
            seed=seed,
            score_names=score_names,
            objective=objective_value,
            runner_up=_runner_up(arrays, groups, snap, cands),
            violations=tuple(violations(arrays, groups, snap)),
            stats=stats,
        )

    @property
    def placed(self) -> I64:
        out: I64 = np.flatnonzero(self.arrays.pool >= 0)
        return out

    def unplaced_by_reason(self) -> dict[str, int]:
        left = self.arrays.reason[self.arrays.pool < 0]
        return dict(sorted(Counter(str(r) for r in left).items()))

    def totals(self) -> dict[str, Any]:
        a, placed = self.arrays, self.placed
        with_sla = np.isfinite(self.groups.sla_one_way_ms[self.groups.group_of])
        met = with_sla & (a.pool >= 0)
        return {
            "tasks": len(a.pool),
            "placed": len(placed),
            "unplaced": len(a.pool) - len(placed),
            "cost": round(float(a.cost_micros[placed].sum()) / 1e6, 6),
            "cost_micros": round(float(a.cost_micros[placed].sum())),
            "mean_latency_ms": round(float(a.origin_ms[placed].mean()), 3) if len(placed) else None,
            "carbon_g": round(float(a.carbon_g[placed].sum()), 3),
            "energy_kwh": round(float(a.energy_kwh[placed].sum()), 4),
            "sla_attainment": round(float(met.sum() / with_sla.sum()), 6)
            if with_sla.any()
            else 1.0,
            "deferred": int((a.start_h[placed] > 0).sum()),
            "violations": len(self.violations),
            "unplaced_by_reason": self.unplaced_by_reason(),
            "objective": round(self.objective, 6),
        }

    def placement(self, t: int) -> dict[str, Any]:
        """One placed task, with its runner-up and per-plugin scores (0..100, 100 best)."""
        a, s = self.arrays, self.snap
        p = int(a.pool[t])
        task = self.groups.tasks[t]
        scores = {
            n: round(100.0 * (1.0 - float(v)), 2)
            for n, v in zip(self.score_names, a.parts[t], strict=True)
        }
        return {
            "task": task.name,
            "tenant": task.tenant,
            "site": s.site_ids[int(s.pool_site[p])],
            "pool": s.pool_model[p],
            "class": CLASSES[int(s.pool_class[p])].value,
            "start": s.start_label(int(a.start_h[t])),
            "deferred_h": int(a.start_h[t]),
            "latency_ms": round(float(a.origin_ms[t]), 3),
            "cost_micros": round(float(a.cost_micros[t])),
            "carbon_g": round(float(a.carbon_g[t]), 3),
            "transfer_h": round(float(a.transfer_h[t]), 4),
            "runner_up": self.runner_up[t],
            "scores": scores,
        }

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data: placements, unplaced (with reasons), totals."""
        a = self.arrays
        return {
            "version": 1,
            "policy": self.policy,
            "mode": self.profile.mode.value,
            "seed": self.seed,
            "start": self.snap.start_label(0),
            "signals": self.snap.signal_note,
            "placements": [self.placement(int(t)) for t in self.placed],
            "unplaced": [
                {"task": self.groups.tasks[int(t)].name, "reason": str(a.reason[t])}
                for t in np.flatnonzero(a.pool < 0)
            ],
            "reservations": [
                {"task": n, "links": list(links), "gbps": gbps} for n, links, gbps in a.reservations
            ],
            "totals": self.totals(),
            "stats": self.stats,
            "violations": list(self.violations),
        }


def _runner_up(
    arrays: PlanArrays, groups: TaskGroups, snap: Snapshot, cands: Candidates
) -> tuple[str | None, ...]:
    """Per placed task, the best *other* site among its group's candidates (None: no other)."""
    first = np.full(groups.n, -1, dtype=np.int64)
    second = np.full(groups.n, -1, dtype=np.int64)
    for g in range(min(groups.n, len(cands.ptr) - 1)):
        sites = snap.pool_site[cands.pool[cands.of(g)]]
        if len(sites):
            first[g] = sites[0]
            other = sites[sites != sites[0]]
            if len(other):
                second[g] = other[0]
    placed = arrays.pool >= 0
    site = np.where(placed, snap.pool_site[np.maximum(arrays.pool, 0)], -1)
    of = groups.group_of
    pick = np.where(site == first[of], second[of], first[of])
    ids = snap.site_ids
    return tuple(ids[int(x)] if ok and x >= 0 else None for x, ok in zip(pick, placed, strict=True))
