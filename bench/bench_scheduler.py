#!/usr/bin/env python3
"""Benchmark: the converged scheduler against its baselines, on generated and trace workloads.

Cells (tasks x sites): the built-in world (129 sites; the "~100 sites" tier) and a world
expanded to 1,000 sites on real city coordinates. Default cells: 1k x 129, 10k x 129,
10k x 1k; ``--full`` adds 100k x 129 and 100k x 1k. With ../shared/data present, the Alibaba
GPU 2023 and GAIA traces are mapped onto the built-in world as extra cells.

Per cell, with one snapshot (route tables warm after the first run, as in a live tick loop):

* decision time of ``schedule(policy="optimal")`` over ``--repeat`` runs: p50, p99 (cold
  first run reported apart), tasks/s;
* gap to the HiGHS LP bound over the same candidates (cells up to 20k tasks);
* SLA attainment, cost, carbon, hard-constraint violations (independent re-check);
* baselines in the same run, each judged on the same (balanced) objective: greedy
  filter/score (Kubernetes-style), nearest site, cheapest site, random feasible site.

Writes bench/results/scheduler.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from suanwang.core.energy.clock import epoch_hour
from suanwang.core.scheduling.evaluate import Framework
from suanwang.core.scheduling.framework import Profile
from suanwang.core.scheduling.plan import Plan
from suanwang.core.scheduling.scheduler import framework_for, schedule
from suanwang.core.scheduling.snapshot import Snapshot
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.tasks import TaskSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.world import World
from suanwang.world.builtin import load_builtin_world
from suanwang.world.expand import expand_world

START = datetime(2026, 6, 1, tzinfo=UTC)
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

BASELINES: dict[str, dict[str, float]] = {
    "nearest": {"latency": 1.0},
    "cheapest": {"price": 1.0},
    "random": {},
}


def main_objective(plan: Plan, fw: Framework) -> float:
    """``plan``'s objective under ``fw``'s weights (for plans made with other weights)."""
    groups, snap = plan.groups, plan.snap
    arrays = plan.arrays
    penalty = fw.profile.unplaced_penalty
    total = penalty * float((arrays.pool < 0).sum())
    for c in np.unique(snap.pool_class):
        pools = np.flatnonzero(snap.pool_class == c)
        local = np.full(snap.n_pools, -1)
        local[pools] = np.arange(len(pools))
        sub = snap.pool_subset(pools)
        placed = np.flatnonzero(
            (arrays.pool >= 0) & (snap.pool_class[np.maximum(arrays.pool, 0)] == c)
        )
        rows = np.unique(groups.group_of[placed])
        step = max(1, 1_000_000 // len(pools))
        for lo in range(0, len(rows), step):
            chunk = rows[lo : lo + step]
            ev = fw.evaluate(groups, sub, chunk)
            where = np.full(groups.n, -1)
            where[chunk] = np.arange(len(chunk))
            mine = placed[where[groups.group_of[placed]] >= 0]
            cost = ev.cost[where[groups.group_of[mine]], local[arrays.pool[mine]]]
            total += float(np.where(np.isfinite(cost), cost, penalty).sum())
    return total


def run_cell(
    name: str, world: World, tasks: list[TaskSpec], repeat: int, bound: bool
) -> dict[str, Any]:
    snap = Snapshot.build(world, UNIT_TABLE, epoch_hour(START))
    profile = Profile.for_mode("balanced")
    t0 = time.perf_counter()
    plan = schedule(tasks, snap, profile=profile, policy="optimal")
    cold = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        plan = schedule(tasks, snap, profile=profile, policy="optimal")
        times.append(time.perf_counter() - t0)
    p50, p99 = float(np.percentile(times, 50)), float(np.percentile(times, 99))
    totals = plan.totals()
    row: dict[str, Any] = {
        "cell": name,
        "tasks": len(tasks),
        "sites": len(world.sites),
        "pools": snap.n_pools,
        "groups": plan.groups.n,
        "cold_s": round(cold, 4),
        "p50_s": round(p50, 4),
        "p99_s": round(p99, 4),
        "tasks_per_s": round(len(tasks) / p50),
        "objective": round(plan.objective, 4),
        "winner": plan.stats.get("winner"),
        "totals": totals,
    }
    if bound:
        b = schedule(tasks, snap, profile=profile, policy="optimal", lower_bound=True)
        row["lower_bound"] = round(float(b.stats["lower_bound"]), 4)
        row["gap"] = round(float(b.stats["gap"]), 6)
    fw = framework_for(profile)
    base: dict[str, Any] = {}
    t0 = time.perf_counter()
    greedy = schedule(tasks, snap, profile=profile, policy="greedy")
    base["greedy"] = _summary(greedy, greedy.objective, time.perf_counter() - t0)
    for bname, weights in BASELINES.items():
        prof = Profile(name=bname, weights=weights)
        t0 = time.perf_counter()
        p = schedule(tasks, snap, profile=prof, policy="greedy", seed=7)
        dt = time.perf_counter() - t0
        base[bname] = _summary(p, main_objective(p, fw), dt)
    row["baselines"] = base
    row["beats_greedy_by"] = round((greedy.objective - plan.objective) / greedy.objective, 6)
    return row


def _summary(plan: Plan, obj: float, seconds: float) -> dict[str, Any]:
    t = plan.totals()
    return {
        "objective": round(obj, 4),
        "seconds": round(seconds, 4),
        "placed": t["placed"],
        "cost": t["cost"],
        "carbon_g": t["carbon_g"],
        "mean_latency_ms": t["mean_latency_ms"],
        "sla_attainment": t["sla_attainment"],
        "violations": t["violations"],
    }


def trace_cells(world: World, n: int) -> list[tuple[str, list[TaskSpec]]]:
    """Trace-derived workloads when the shared data is present (else none)."""
    out: list[tuple[str, list[TaskSpec]]] = []
    traces = SHARED / "traces"
    if not traces.is_dir():
        return out
    from suanwang.workloads import traces as tr

    gpu = traces / "alibaba-gpu-v2023"
    if gpu.is_dir():
        out.append(("alibaba-gpu-2023", tr.alibaba_gpu_2023(gpu, world, n=n, start=START)))
    gaia = traces / "gaia" / "azure-100k.csv"
    if gaia.is_file():
        out.append(("gaia-azure", tr.gaia(gaia, world, n=n, seed=0, start=START)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="add the 100k-task cells")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "scheduler.json"
    )
    args = ap.parse_args()
    small = load_builtin_world()
    big = expand_world(small, 1000, seed=1)
    cells: list[tuple[str, World, int]] = [
        ("1k x 129", small, 1_000),
        ("10k x 129", small, 10_000),
        ("10k x 1k", big, 10_000),
    ]
    if args.full:
        cells += [("100k x 129", small, 100_000), ("100k x 1k", big, 100_000)]
    rows = []
    for name, world, n in cells:
        tasks = generate_tasks(world, n, np.random.default_rng(42), start=START)
        rows.append(run_cell(name, world, tasks, args.repeat if n < 100_000 else 2, n <= 20_000))
        print(json.dumps({k: rows[-1][k] for k in ("cell", "p50_s", "p99_s", "cold_s", "groups")}))
    for name, tasks in trace_cells(small, 8_000):
        rows.append(run_cell(name + " x 129", small, tasks, args.repeat, True))
        print(json.dumps({k: rows[-1][k] for k in ("cell", "p50_s", "p99_s", "cold_s", "groups")}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "scheduler",
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
        },
        "start": START.isoformat(),
        "cells": rows,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
