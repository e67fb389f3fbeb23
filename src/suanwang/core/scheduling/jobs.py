"""Jobs of several tasks: pipelines placed jointly with their transfers, gangs all or nothing.

- A :class:`Pipeline` (e.g. preprocess near the origin, then train at an AI hub) is placed by
  dynamic programming over sites: each stage's own cost (its plugins' weighted penalty) plus,
  between consecutive stages, the transfer of ``transfer_gb`` along the fastest path that
  respects the later stage's sovereignty rules (time and egress price). The chain must end by
  the last stage's deadline.
- A :class:`Gang` places every member or none: members take capacity one by one through the
  Reserve plugin; the Permit plugin (distinct sites, maximum spread) approves the whole set;
  on any failure every reservation is undone and the reason is returned.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from suanwang.core.base import Frozen
from suanwang.core.scheduling.evaluate import Evaluation
from suanwang.core.scheduling.facts import FLOW_CAP_GBPS
from suanwang.core.scheduling.framework import Context, CycleState, Profile
from suanwang.core.scheduling.groups import TaskGroups
from suanwang.core.scheduling.plugins import FREE, CapacityReserve, GangPermit
from suanwang.core.scheduling.scheduler import framework_for
from suanwang.core.scheduling.snapshot import Snapshot
from suanwang.core.tasks import TaskSpec

F64 = npt.NDArray[np.float64]


class Pipeline(Frozen):
    """Stages run one after another; ``transfer_gb[i]`` moves from stage ``i`` to ``i + 1``."""

    name: str = Field(min_length=1)
    stages: tuple[TaskSpec, ...] = Field(min_length=2)
    transfer_gb: tuple[float, ...]

    @model_validator(mode="after")
    def _one_transfer_per_hop(self) -> Pipeline:
        if len(self.transfer_gb) != len(self.stages) - 1:
            raise ValueError("give one transfer size per pair of consecutive stages")
        if any(not x >= 0 for x in self.transfer_gb):
            raise ValueError("transfer sizes must be >= 0 GB")
        return self


class Gang(Frozen):
    """Members placed all or nothing, on distinct sites if asked, within a latency spread."""

    name: str = Field(min_length=1)
    members: tuple[TaskSpec, ...] = Field(min_length=2)
    distinct_sites: bool = True
    max_spread_ms: float | None = Field(default=None, gt=0.0)


class StagePlacement(Frozen):
    task: str
    site: str
    pool: str
    start_h: float
    cost_micros: int


class JobPlacement(Frozen):
    """Where a job's tasks go (empty ``tasks`` and a ``reason`` when it cannot be placed)."""

    job: str
    placed: bool
    tasks: tuple[StagePlacement, ...] = ()
    transfers: tuple[dict[str, Any], ...] = ()
    reason: str = ""
    objective: float | None = None
    end_h: float | None = None


def _per_site(ev: Evaluation, snap: Snapshot) -> tuple[F64, npt.NDArray[np.int64]]:
    """Best cost and pool per site for row 0 (``inf`` / -1 where no pool is feasible)."""
    n = len(snap.site_ids)
    best = np.full(n, np.inf)
    pool = np.full(n, -1, dtype=np.int64)
    cost = ev.cost[0]
    order = np.argsort(cost, kind="stable")[::-1]  # worst first, so the best write last
    best[snap.pool_site[order]] = cost[order]
    pool[snap.pool_site[order]] = order
    pool[~np.isfinite(best)] = -1
    return best, pool


def place_pipeline(pipe: Pipeline, snap: Snapshot, profile: Profile | None = None) -> JobPlacement:
    """The cheapest feasible chain of sites for ``pipe`` (see the module docstring)."""
    profile = profile or Profile.for_mode("balanced")
    fw = framework_for(profile)
    n_sites = len(snap.site_ids)
    stage_cost, stage_pool, evs = [], [], []
    for i, stage in enumerate(pipe.stages):
        groups = TaskGroups.of([stage], snap)
        ev = fw.evaluate(groups, snap)
        best, pool = _per_site(ev, snap)
        if not np.isfinite(best).any():
            worst = int(np.argmax(ev.failed_by[0]))
            return JobPlacement(
                job=pipe.name,
                placed=False,
                reason=f"stage {i + 1} ({stage.name}): {ev.reason(0, worst)}",
            )
        stage_cost.append(best)
        stage_pool.append(pool)
        evs.append((groups, ev))
    w_t = profile.weights.get("transfer-time", 0.0)
    w_p = profile.weights.get("price", 0.0)
    total = stage_cost[0].copy()
    back: list[npt.NDArray[np.int64]] = []
    hop_hours: list[F64] = []
    hop_egress: list[F64] = []
    for i in range(1, len(pipe.stages)):
        groups, _ = evs[i]
        rules = groups.rules[int(groups.rule[0])]
        gb = pipe.transfer_gb[i - 1]
        if rules is None:
            return JobPlacement(job=pipe.name, placed=False, reason=groups.rule_errors[0])
        table = snap.routes(rules, tuple(range(n_sites)))
        rate = np.minimum(np.nan_to_num(table.free_gbps, nan=0.0), FLOW_CAP_GBPS)
        with np.errstate(divide="ignore"):
            hours = np.where(gb > 0, gb * 8.0 / np.maximum(rate, 1e-12) / 3600.0, 0.0)
        hours = np.where(np.isfinite(table.one_way_ms), hours, np.inf)
        np.fill_diagonal(hours, 0.0)
        egress = gb * np.nan_to_num(table.price_per_gb_micros, nan=0.0)
        np.fill_diagonal(egress, 0.0)
        dur = sum(s.duration_hours for s in pipe.stages)
        _, ev_i = evs[i]
        own = ev_i.facts.cost_micros[0, stage_pool[i][stage_pool[i] >= 0]]
        ref_micros = max(float(own.min()) if len(own) else 0.0, 10_000.0)
        hop = w_t * np.minimum(1.0, hours / max(dur, 0.05)) + w_p * np.minimum(
            1.0, egress / ref_micros
        )
        hop = np.where(np.isfinite(hours), hop, np.inf)
        step = total[:, None] + hop + stage_cost[i][None, :]
        back.append(np.argmin(step, axis=0))
        total = step[back[-1], np.arange(n_sites)]
        hop_hours.append(hours)
        hop_egress.append(egress)
    if not np.isfinite(total).any():
        return JobPlacement(
            job=pipe.name,
            placed=False,
            reason="no chain of sites connects the stages within their rules",
        )
    chain = [int(np.argmin(total))]
    for b in reversed(back):
        chain.append(int(b[chain[-1]]))
    chain.reverse()
    return _pipeline_result(
        pipe, snap, chain, stage_pool, evs, hop_hours, hop_egress, float(total.min())
    )


def _pipeline_result(
    pipe: Pipeline,
    snap: Snapshot,
    chain: list[int],
    stage_pool: list[npt.NDArray[np.int64]],
    evs: list[tuple[TaskGroups, Evaluation]],
    hop_hours: list[F64],
    hop_egress: list[F64],
    objective: float,
) -> JobPlacement:
    t = 0.0
    stages, transfers = [], []
    for i, site in enumerate(chain):
        if i > 0:
            hours = float(hop_hours[i - 1][chain[i - 1], site])
            transfers.append(
                {
                    "from": snap.site_ids[chain[i - 1]],
                    "to": snap.site_ids[site],
                    "gb": pipe.transfer_gb[i - 1],
                    "hours": round(hours, 4),
                    "egress_micros": round(float(hop_egress[i - 1][chain[i - 1], site])),
                }
            )
            t += hours
        p = int(stage_pool[i][site])
        _, ev = evs[i]
        stages.append(
            StagePlacement(
                task=pipe.stages[i].name,
                site=snap.site_ids[site],
                pool=snap.pool_model[p],
                start_h=round(t, 4),
                cost_micros=round(float(ev.facts.cost_micros[0, p])),
            )
        )
        t += pipe.stages[i].duration_hours
    groups, _ = evs[-1]
    deadline = float(groups.deadline_h[0])
    if t > deadline + 1e-9:
        return JobPlacement(
            job=pipe.name,
            placed=False,
            reason=(
                f"deadline: the best chain ends {t:.2f} h from now, "
                f"after the deadline {deadline:.2f} h"
            ),
        )
    return JobPlacement(
        job=pipe.name,
        placed=True,
        tasks=tuple(stages),
        transfers=tuple(transfers),
        objective=round(objective, 6),
        end_h=round(t, 4),
    )


def place_gang(
    gang: Gang, snap: Snapshot, profile: Profile | None = None, anchors: int = 8
) -> JobPlacement:
    """Every member or none (see the module docstring); tries the ``anchors`` best first sites."""
    profile = profile or Profile.for_mode("balanced")
    fw = framework_for(profile)
    groups = TaskGroups.of(list(gang.members), snap)
    rows = groups.group_of
    ev = fw.evaluate(groups, snap)
    ctx = Context(groups, snap, np.arange(groups.n, dtype=np.int64), snap.pool_free)
    reserve = CapacityReserve()
    permit = GangPermit(gang.distinct_sites, gang.max_spread_ms)
    spread = snap.network.cost_map().one_way_ms if gang.max_spread_ms is not None else None
    first = ev.cost[int(rows[0])]
    tried = np.argsort(first, kind="stable")[:anchors]
    last_reason = "no member has a feasible site"
    best: tuple[float, list[tuple[int, int]]] | None = None
    for anchor in tried:
        if not np.isfinite(first[anchor]):
            break
        state = CycleState()
        state.write(FREE, snap.pool_free.copy())
        chosen: list[tuple[int, int]] = []
        ok = True
        for m in range(len(gang.members)):
            r = int(rows[m])
            cost = ev.cost[r].copy()
            if m == 0:
                cost = np.where(np.arange(len(cost)) == anchor, cost, np.inf)
            used = [int(snap.pool_site[p]) for _, p in chosen]
            if gang.distinct_sites and used:
                cost[np.isin(snap.pool_site, used)] = np.inf
            if spread is not None and used:
                far = (
                    spread[np.ix_(np.array(used, dtype=np.int64), snap.pool_site)].max(axis=0)
                    > gang.max_spread_ms
                )
                cost[far] = np.inf
            placed = False
            for p in np.argsort(cost, kind="stable"):
                if not np.isfinite(cost[p]):
                    break
                if reserve.reserve(state, ctx, r, int(p)).ok:
                    chosen.append((r, int(p)))
                    placed = True
                    break
            if not placed:
                last_reason = f"member {gang.members[m].name}: no site left that fits"
                ok = False
                break
        if ok:
            status = permit.permit(state, ctx, chosen)
            if status.ok:
                total = float(sum(ev.cost[r, p] for r, p in chosen))
                if best is None or total < best[0]:
                    best = (total, chosen)
            else:
                last_reason = "; ".join(status.reasons)
        for r, p in chosen:
            reserve.unreserve(state, ctx, r, p)
    if best is None:
        return JobPlacement(job=gang.name, placed=False, reason=f"gang not placed: {last_reason}")
    tasks = tuple(
        StagePlacement(
            task=gang.members[m].name,
            site=snap.site_ids[int(snap.pool_site[p])],
            pool=snap.pool_model[p],
            start_h=0.0,
            cost_micros=round(float(ev.facts.cost_micros[r, p])),
        )
        for m, (r, p) in enumerate(best[1])
    )
    return JobPlacement(
        job=gang.name, placed=True, tasks=tasks, objective=round(best[0], 6), end_h=None
    )
