"""Running a profile's plugins over task groups: dense evaluations and top-k candidate lists.

:meth:`Framework.evaluate` judges a slice of groups against every pool (dense arrays, used for
explanations and small batches). :meth:`Framework.candidates` runs it slice by slice and keeps,
per group, the ``k`` best feasible pools (a sparse list the optimizers work on), the facts a
plan reports, and, for groups with no feasible pool, the filter that removed the last one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from suanwang.core.errors import SuanwangError
from suanwang.core.scheduling.facts import Facts
from suanwang.core.scheduling.framework import (
    Context,
    CycleState,
    FilterPlugin,
    PreFilterPlugin,
    Profile,
    Registry,
    ScorePlugin,
    normalise,
)
from suanwang.core.scheduling.groups import TaskGroups
from suanwang.core.scheduling.plugins import FACTS, default_registry
from suanwang.core.scheduling.snapshot import Snapshot

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

CHUNK_CELLS = 2_000_000
"""Rows x pools evaluated at once (bounds memory: about 40 arrays of this many cells)."""


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Dense verdicts for ``ctx.rows`` x every pool.

    ``failed_by[r, p]``: index into ``filters`` of the first filter that rejected (-1: feasible).
    ``penalty[name]``: the normalised penalty per score plugin (0 best, 1 worst).
    ``cost``: the weighted sum of penalties, ``inf`` where infeasible.
    """

    ctx: Context
    state: CycleState
    filters: tuple[FilterPlugin, ...]
    scores: tuple[tuple[ScorePlugin, float], ...]
    feasible: B
    failed_by: npt.NDArray[np.int16]
    raw: Mapping[str, F64]
    penalty: Mapping[str, F64]
    cost: F64

    @property
    def facts(self) -> Facts:
        out: Facts = self.state.read(FACTS)
        return out

    def reason(self, row: int, pool: int) -> str:
        """``plugin: why`` for a rejected (row, pool); empty when it is feasible."""
        i = int(self.failed_by[row, pool])
        if i < 0:
            return ""
        f = self.filters[i]
        return f"{f.name}: {f.reason(self.state, self.ctx, row, pool)}"

    def scores_of(self, row: int, pool: int) -> dict[str, float]:
        """Per-plugin score 0..100 (100 best) of one feasible (row, pool)."""
        return {n: round(100.0 * (1.0 - float(p[row, pool])), 2) for n, p in self.penalty.items()}


@dataclass(frozen=True, eq=False)
class Candidates:
    """Per group, its best feasible pools in rising cost (CSR layout: ``ptr[g]:ptr[g+1]``).

    Facts per candidate: ``start_h``, ``origin_ms``, ``cost_micros``, ``carbon_g``,
    ``energy_kwh``, ``transfer_h``; ``parts[i, j]`` is the penalty (0..1) of score plugin ``j``
    (the framework's score order). ``feasible_count[g]`` counts all feasible pools (not just
    the kept ones); ``blocked_by[g]`` names the filter that removed the group's last pool.
    """

    ptr: I64
    pool: I64
    cost: F64
    start_h: I64
    origin_ms: F64
    cost_micros: F64
    carbon_g: F64
    energy_kwh: F64
    transfer_h: F64
    parts: F64
    feasible_count: I64
    blocked_by: tuple[str, ...]

    def of(self, g: int) -> slice:
        return slice(int(self.ptr[g]), int(self.ptr[g + 1]))


class Framework:
    """A profile's plugins, instantiated from a registry, ready to judge task groups."""

    def __init__(self, profile: Profile, registry: Registry | None = None) -> None:
        reg = registry or default_registry()
        self.registry = reg
        self.profile = profile
        pre = reg.create("facts", profile.args.get("facts"))
        if not isinstance(pre, PreFilterPlugin):
            raise SuanwangError("plugin 'facts' is not a PreFilter")
        self.prefilters: tuple[PreFilterPlugin, ...] = (pre,)
        filters = []
        for name in profile.filters:
            plugin = reg.create(name, profile.args.get(name))
            if not isinstance(plugin, FilterPlugin):
                raise SuanwangError(f"plugin {name!r} is not a Filter")
            filters.append(plugin)
        self.filters: tuple[FilterPlugin, ...] = tuple(filters)
        scores = []
        for name, weight in sorted(profile.weights.items()):
            if weight <= 0:
                continue
            plugin = reg.create(name, profile.args.get(name))
            if not isinstance(plugin, ScorePlugin):
                raise SuanwangError(f"plugin {name!r} is not a Score plugin")
            scores.append((plugin, float(weight)))
        self.scores: tuple[tuple[ScorePlugin, float], ...] = tuple(scores)
        self._views: dict[tuple[int, int], tuple[Snapshot, Snapshot]] = {}

    def with_args(self, name: str, args: Mapping[str, Any]) -> Framework:
        """A framework whose plugin ``name`` gets ``args`` (e.g. temporal-shift weights)."""
        return Framework(
            self.profile.model_copy(update={"args": {**self.profile.args, name: dict(args)}}),
            self.registry,
        )

    def evaluate(
        self, groups: TaskGroups, snap: Snapshot, rows: I64 | None = None, free: F64 | None = None
    ) -> Evaluation:
        """Run PreFilter, every Filter and every Score on ``rows`` (default: all groups)."""
        rows = np.arange(groups.n, dtype=np.int64) if rows is None else rows
        ctx = Context(groups, snap, rows, snap.pool_free if free is None else free)
        state = CycleState()
        for pre in self.prefilters:
            status = pre.pre_filter(state, ctx)
            if not status.ok:
                raise SuanwangError(f"{status.plugin}: {'; '.join(status.reasons)}")
        shape = (len(rows), snap.n_pools)
        feasible = np.ones(shape, dtype=np.bool_)
        failed_by = np.full(shape, -1, dtype=np.int16)
        for i, f in enumerate(self.filters):
            ok = f.filter(state, ctx)
            newly = feasible & ~ok
            failed_by[newly] = i
            feasible &= ok
        raw: dict[str, F64] = {}
        penalty: dict[str, F64] = {}
        cost = np.zeros(shape)
        for plugin, weight in self.scores:
            values = np.asarray(plugin.score(state, ctx), dtype=np.float64)
            raw[plugin.name] = values
            pen = normalise(values, feasible, plugin.floor)
            penalty[plugin.name] = pen
            cost += weight * pen
        cost = np.where(feasible, cost, np.inf)
        return Evaluation(
            ctx, state, self.filters, self.scores, feasible, failed_by, raw, penalty, cost
        )

    def candidates(
        self,
        groups: TaskGroups,
        snap: Snapshot,
        k: int,
        *,
        rows: I64 | None = None,
        free: F64 | None = None,
        tiebreak: F64 | None = None,
    ) -> Candidates:
        """The ``k`` cheapest feasible pools per group (all of them when ``k >= pools``).

        ``tiebreak`` (one value per pool, in [0, 1)) orders equal costs; pass values drawn from
        a seed derived from the request so that ties replay exactly.
        """
        rows = np.arange(groups.n, dtype=np.int64) if rows is None else rows
        free = snap.pool_free if free is None else free
        tb = np.zeros(snap.n_pools) if tiebreak is None else tiebreak
        parts: list[dict[str, Any]] = []
        positions: list[I64] = []
        blocked = [""] * len(rows)
        counts = np.zeros(len(rows), dtype=np.int64)
        cls_of = groups.cls[rows]
        for c in np.unique(cls_of):
            at = np.flatnonzero(cls_of == c)
            pools = np.flatnonzero(snap.pool_class == c)
            if len(pools) == 0:
                for i in at:
                    blocked[int(i)] = self.filters[0].name if self.filters else "resource-fit"
                continue
            sub = self._class_view(snap, int(c), pools)
            kk = max(1, min(k, len(pools)))
            step = max(1, CHUNK_CELLS // len(pools))
            for lo in range(0, len(at), step):
                pos = at[lo : lo + step]
                ev = self.evaluate(groups, sub, rows[pos], free[pools])
                part = _top_k(ev, kk, tb[pools])
                part["pool"] = pools[part["pool"]]
                parts.append(part)
                positions.append(pos)
                counts[pos] = ev.feasible.sum(axis=1)
                for i, why in zip(pos, _blocked(ev), strict=True):
                    blocked[int(i)] = why
        return _assemble(parts, positions, counts, blocked)

    def _class_view(self, snap: Snapshot, cls: int, pools: I64) -> Snapshot:
        """The snapshot cut to one class's pools (cached per snapshot and class)."""
        key = (id(snap), cls)
        view = self._views.get(key)
        if view is None or view[0] is not snap:
            view = (snap, snap.pool_subset(pools))
            self._views[key] = view
        return view[1]


def _top_k(ev: Evaluation, k: int, tiebreak: F64) -> dict[str, Any]:
    cost = ev.cost + 1e-9 * tiebreak[None, :]
    if k < cost.shape[1]:
        idx = np.argpartition(cost, k - 1, axis=1)[:, :k]
    else:
        idx = np.broadcast_to(np.arange(cost.shape[1]), cost.shape).copy()
    part_cost = np.take_along_axis(cost, idx, axis=1)
    order = np.argsort(part_cost, axis=1, kind="stable")
    idx = np.take_along_axis(idx, order, axis=1)
    c = np.take_along_axis(ev.cost, idx, axis=1)
    keep = np.isfinite(c)
    f = ev.facts

    def pick(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return np.take_along_axis(a, idx, axis=1)[keep]

    return {
        "n": keep.sum(axis=1),
        "pool": idx[keep],
        "cost": c[keep],
        "start_h": pick(f.start_h),
        "origin_ms": pick(f.origin_ms),
        "cost_micros": pick(f.cost_micros),
        "carbon_g": pick(f.carbon_g),
        "energy_kwh": pick(f.energy_kwh),
        "transfer_h": pick(f.transfer_h),
        "parts": np.stack([pick(ev.penalty[p.name]) for p, _ in ev.scores], axis=1)
        if ev.scores
        else np.zeros((int(keep.sum()), 0)),
    }


def _blocked(ev: Evaluation) -> list[str]:
    """Per row: '' if feasible anywhere, else the filter after which no pool was left."""
    out = []
    worst = [int(x) for x in ev.failed_by.max(axis=1)]
    any_ok = [bool(x) for x in np.asarray(ev.feasible.any(axis=1))]
    for ok, w in zip(any_ok, worst, strict=True):
        out.append("" if ok or w < 0 else ev.filters[w].name)
    return out


def _assemble(
    parts: list[dict[str, Any]], positions: list[I64], counts: I64, blocked: list[str]
) -> Candidates:
    n_rows = len(counts)
    if not parts:
        z = np.zeros(0)
        zi = np.zeros(0, dtype=np.int64)
        return Candidates(
            np.zeros(n_rows + 1, np.int64),
            zi,
            z,
            zi,
            z,
            z,
            z,
            z,
            z,
            np.zeros((0, 0)),
            counts,
            tuple(blocked),
        )
    per_row = np.zeros(n_rows, dtype=np.int64)
    for pt, pos in zip(parts, positions, strict=True):
        per_row[pos] = pt["n"]
    ptr = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int64)
    row_of = np.concatenate(
        [np.repeat(pos, pt["n"]) for pt, pos in zip(parts, positions, strict=True)]
    )
    order = np.argsort(row_of, kind="stable")

    def cat(key: str) -> npt.NDArray[Any]:
        return np.concatenate([pt[key] for pt in parts])[order]

    return Candidates(
        ptr=ptr,
        pool=cat("pool").astype(np.int64),
        cost=cat("cost"),
        start_h=cat("start_h").astype(np.int64),
        origin_ms=cat("origin_ms"),
        cost_micros=cat("cost_micros"),
        carbon_g=cat("carbon_g"),
        energy_kwh=cat("energy_kwh"),
        transfer_h=cat("transfer_h"),
        parts=cat("parts"),
        feasible_count=counts,
        blocked_by=tuple(blocked),
    )
