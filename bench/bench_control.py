#!/usr/bin/env python3
"""Benchmark the control plane: scheduling tick time and dispatch rate with 10k pending tasks.

On SQLite (a temporary folder) and, when a PostgreSQL URL is configured
($SUANWANG_TEST_PG_URL or .services/postgres.url), on PostgreSQL in a scratch schema that is
dropped afterwards. The runtime runs on the ``sim`` backend with ``time_scale=1`` (a task hour
takes a real hour), so every placed task stays running while we measure. Per store:

* **submit**: ``ControlService.submit_many`` of N generated tasks in one transaction (tasks/s);
* **first tick**: takes the N submissions from the inbox, plans them all with the scheduler,
  opens a lease per placement, commits, dispatches to the sim backend; total seconds, its
  phases (inbox, engine, plan, market, commit, dispatch), dispatch rate = dispatched / tick s;
* **start tick**: the next one, where the backend reports every job running (N ``STARTED``
  events, the first usage heartbeat of every lease, N task rows updated);
* **steady tick**: ~N live tasks, nothing new (poll the backend, re-plan the few tasks that
  did not fit, commit nothing much); median of ``--ticks`` ticks;
* **metering tick**: the tick after the clock moved ``meter_every_s`` on, which meters and
  settles every live lease (one such tick per minute in a live control plane);
* **recover**: a restart over the same store (replay the event log and market journal,
  reconcile with the backend).

Baselines measured in the same run: the bare scheduler (``Snapshot.build`` + ``schedule`` of
the same tasks, cold as in the first tick, then warm), so the first tick's ratio to it is the
runtime's overhead over pure planning; and an empty tick (no task at all) on the same store.

The phases are timed by wrapping the runtime's own steps on the instance (nothing in src/ is
changed). Writes bench/results/control.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pgscratch import pg_scratch, pg_url
from timing import aligned, best_of, rounded

from suanwang.control.backends.registry import make_backends
from suanwang.control.config import ControlConfig, SimOptions
from suanwang.control.runtime import Runtime, TickReport
from suanwang.control.service import ControlService
from suanwang.control.store import open_store
from suanwang.core.energy.clock import epoch_hour
from suanwang.core.network.engine import Network
from suanwang.core.scheduling.framework import Profile
from suanwang.core.scheduling.scheduler import schedule
from suanwang.core.scheduling.snapshot import Snapshot
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.tasks import TaskSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.world import World
from suanwang.world.builtin import load_builtin_world

REPO = Path(__file__).resolve().parents[1]

# The runtime's steps, in tick order, timed by wrapping them on the instance.
PHASES = {
    "_take_inbox": "inbox",
    "_poll_backends": "poll",
    "_handle": "engine",
    "_plan": "plan",
    "_carry_out": "market",
    "_commit": "commit",
    "_run_outbox": "dispatch",
    "_update_gauges": "gauges",
}


class Clock:
    """Wall time plus an offset we can move forward (shared by the runtime and the backend)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def time(self) -> float:
        return time.time() + self.offset


def instrument(rt: Runtime) -> dict[str, float]:
    """Accumulate the seconds spent in each of the runtime's steps (reset it per tick)."""
    acc = dict.fromkeys(PHASES.values(), 0.0)
    for attr, phase in PHASES.items():
        fn = getattr(rt, attr)

        def wrapped(*a: Any, _fn: Callable[..., Any] = fn, _p: str = phase, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return _fn(*a, **kw)
            finally:
                acc[_p] += time.perf_counter() - t0

        setattr(rt, attr, wrapped)
    return acc


def baseline_schedule(world: World, specs: list[TaskSpec], now: datetime) -> dict[str, float]:
    """The bare scheduler on the same tasks: snapshot build + a cold schedule, then warm."""
    profile = Profile.for_mode("balanced")
    network = Network.from_world(world)  # built in Runtime.__init__, not in a tick
    t0 = time.perf_counter()
    snap = Snapshot.build(world, UNIT_TABLE, epoch_hour(now), network=network)
    t1 = time.perf_counter()
    plan = schedule(specs, snap, profile=profile, seed=0)
    t2 = time.perf_counter()
    warm = []
    for _ in range(2):
        t = time.perf_counter()
        schedule(specs, snap, profile=profile, seed=0)
        warm.append(time.perf_counter() - t)
    return {
        "snapshot_s": t1 - t0,
        "schedule_cold_s": t2 - t1,
        "cold_s": t2 - t0,
        "warm_s": min(warm),
        "placed": len(plan.placed),
    }


def make_runtime(url: str, data: Path, world: World, cfg: ControlConfig, clock: Clock) -> Runtime:
    store = open_store(url)
    backends = make_backends(cfg, [s.id for s in world.sites], data, clock=clock.time)
    return Runtime(store, cfg, world, UNIT_TABLE, backends, data_dir=data, clock=clock.now)


def timed_tick(rt: Runtime, acc: dict[str, float]) -> dict[str, Any]:
    for k in acc:
        acc[k] = 0.0
    txns = rt.journal.market.ledger.txn_count
    rep: TickReport = rt.tick()
    row: dict[str, Any] = {
        "seconds": rep.seconds,
        "plan_seconds": rep.plan_seconds,
        "commit_seconds": rep.commit_seconds,
        "requests": rep.requests,
        "events": rep.events,
        "placed": rep.placed,
        "dispatched": rep.dispatched,
        "queued": rep.queued,
        "active": rep.active,
        "finished": rep.finished,
        "ledger_txns": rt.journal.market.ledger.txn_count - txns,
        "phases": dict(acc),
    }
    return row


def bench_store(
    label: str, url: str, world: World, n: int, ticks: int, data: Path
) -> dict[str, Any]:
    # Credit enough that every placement is funded: the default (10,000 USD for each of the
    # generator's 8 tenants) runs out at a few thousand leases and turns the rest into
    # FAILED tasks, which would measure the funding check rather than dispatch.
    cfg = ControlConfig(
        backends={"sim": SimOptions(kind="sim", time_scale=1.0)},
        max_batch=20_000,
        tenant_credit_micros=10**14,
    )
    clock = Clock()
    rt = make_runtime(url, data, world, cfg, clock)
    rt.recover()
    acc = instrument(rt)
    out: dict[str, Any] = {"store": label, "tasks": n}

    empty = [timed_tick(rt, acc)["seconds"] for _ in range(max(ticks, 5))]
    out["empty_tick_s"] = statistics.median(empty)

    now = clock.now()
    specs = generate_tasks(world, n, np.random.default_rng(42), start=now)
    base = baseline_schedule(world, specs, now)
    out["baseline"] = base
    print(
        f"[{label}] baseline: snapshot {base['snapshot_s']:.2f} s + schedule cold "
        f"{base['schedule_cold_s']:.2f} s, warm {base['warm_s']:.2f} s, "
        f"placed {base['placed']}/{n}; empty tick {out['empty_tick_s'] * 1000:.1f} ms",
        flush=True,
    )

    svc = ControlService(rt.store, clock=clock.now)
    t0 = time.perf_counter()
    svc.submit_many(specs)
    sub = time.perf_counter() - t0
    out["submit"] = {"seconds": sub, "tasks_per_s": n / sub}
    print(f"[{label}] submit_many {n}: {sub:.2f} s ({n / sub:,.0f} tasks/s)", flush=True)

    first = timed_tick(rt, acc)
    first["dispatch_per_s"] = first["dispatched"] / first["seconds"]
    first["over_baseline_cold"] = first["seconds"] / base["cold_s"]
    first["plan_over_baseline_cold"] = first["plan_seconds"] / base["cold_s"]
    first["plan_share"] = first["plan_seconds"] / first["seconds"]
    out["first_tick"] = first
    report(label, "first tick", first)

    out["start_tick"] = timed_tick(rt, acc)
    report(label, "start tick", out["start_tick"])

    steady = [timed_tick(rt, acc) for _ in range(ticks)]
    med = statistics.median(r["seconds"] for r in steady)
    out["steady_ticks"] = steady
    out["steady_tick_s"] = med
    out["steady_over_empty"] = med / out["empty_tick_s"]
    report(
        label,
        f"steady tick (median of {ticks})",
        min(steady, key=lambda r: abs(r["seconds"] - med)),
    )
    # The parts of a steady tick that are not the runtime's own: the sim backend reading its
    # job files, and the free-capacity pass over every live task before re-planning.
    backend = rt.backends["sim"]
    out["sim_poll_s"] = best_of(backend.poll, 3)
    snap = rt.snapshot(clock.now())
    out["free_capacity_s"] = best_of(lambda: rt.free_capacity(snap, clock.now()), 3)
    print(
        f"[{label}] alone: sim backend poll {out['sim_poll_s']:.3f} s, free_capacity "
        f"{out['free_capacity_s']:.3f} s",
        flush=True,
    )

    clock.offset += cfg.meter_every_s + 1
    out["meter_tick"] = timed_tick(rt, acc)
    report(label, "metering tick", out["meter_tick"])
    rt.store.close()

    rt2 = make_runtime(url, data, world, cfg, clock)
    t0 = time.perf_counter()
    rec = rt2.recover()
    out["recover"] = {"seconds": time.perf_counter() - t0, **rec}
    print(f"[{label}] recover: {out['recover']['seconds']:.2f} s {rec}", flush=True)
    rt2.store.close()
    return out


def report(label: str, what: str, row: dict[str, Any]) -> None:
    ph = " ".join(f"{k} {v:.2f}" for k, v in row["phases"].items() if v >= 0.005)
    print(
        f"[{label}] {what}: {row['seconds']:.2f} s (plan {row['plan_seconds']:.2f}, commit "
        f"{row['commit_seconds']:.2f}); events {row['events']}, placed {row['placed']}, "
        f"dispatched {row['dispatched']}, queued {row['queued']}, active {row['active']}, "
        f"ledger txns {row['ledger_txns']}; phases: {ph}",
        flush=True,
    )


def table(runs: list[dict[str, Any]]) -> str:
    """The summary, one column per store."""

    def ms(x: float) -> str:
        return f"{x * 1000:,.0f} ms" if x < 10 else f"{x:,.1f} s"

    def phases(row: dict[str, Any]) -> str:
        ph = row["phases"]
        keys = ("inbox", "engine", "plan", "market", "commit", "dispatch")
        return " / ".join(f"{ph[k]:.1f}" for k in keys)

    lines: list[tuple[str, ...]] = [("", *(r["store"] for r in runs))]
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("tasks", lambda r: f"{r['tasks']:,}"),
        (
            "submit_many",
            lambda r: f"{ms(r['submit']['seconds'])} ({r['submit']['tasks_per_s']:,.0f}/s)",
        ),
        ("baseline: snapshot + schedule (cold)", lambda r: ms(r["baseline"]["cold_s"])),
        ("baseline: schedule (warm)", lambda r: ms(r["baseline"]["warm_s"])),
        ("first tick", lambda r: ms(r["first_tick"]["seconds"])),
        ("  phases, s (see below)", lambda r: phases(r["first_tick"])),
        (
            "  placed / dispatched",
            lambda r: f"{r['first_tick']['placed']:,} / {r['first_tick']['dispatched']:,}",
        ),
        ("  dispatch rate", lambda r: f"{r['first_tick']['dispatch_per_s']:,.0f}/s"),
        ("  over the cold baseline", lambda r: f"{r['first_tick']['over_baseline_cold']:.1f}x"),
        ("  planning's share", lambda r: f"{r['first_tick']['plan_share']:.0%}"),
        ("start tick (all jobs report running)", lambda r: ms(r["start_tick"]["seconds"])),
        ("  of which commit", lambda r: ms(r["start_tick"]["commit_seconds"])),
        ("steady tick, median", lambda r: ms(r["steady_tick_s"])),
        ("  sim backend poll alone", lambda r: ms(r["sim_poll_s"])),
        ("  over an empty tick", lambda r: f"{r['steady_over_empty']:,.0f}x"),
        ("empty tick, median", lambda r: ms(r["empty_tick_s"])),
        ("metering tick (every lease settled)", lambda r: ms(r["meter_tick"]["seconds"])),
        ("recover (restart)", lambda r: ms(r["recover"]["seconds"])),
    ]
    for name, fn in rows:
        lines.append((name, *(fn(r) for r in runs)))
    return aligned(lines)


def machine(pg: str | None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "numpy": np.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
    }
    if pg:
        engine = create_engine(pg)
        with engine.connect() as conn:
            info["postgresql"] = conn.execute(text("show server_version")).scalar()
        engine.dispose()
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="tasks submitted (default 10000)")
    ap.add_argument("--quick", action="store_true", help="1000 tasks, 3 steady ticks (smoke run)")
    ap.add_argument("--ticks", type=int, default=5, help="steady ticks measured (median)")
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "control.json")
    args = ap.parse_args()
    n, ticks = (1_000, 3) if args.quick else (args.n, args.ticks)
    world = load_builtin_world()
    pg = None if args.no_pg else pg_url()
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-control-") as tmp:
        root = Path(tmp)
        runs.append(
            bench_store(
                "sqlite",
                f"sqlite:///{root / 'sqlite' / 'suanwang.db'}",
                world,
                n,
                ticks,
                root / "sqlite",
            )
        )
        if pg:
            with pg_scratch(pg, "bench_control") as url:
                runs.append(bench_store("postgresql", url, world, n, ticks, root / "pg"))
    result = {
        "benchmark": "control",
        "machine": machine(pg),
        "tasks": n,
        "steady_ticks": ticks,
        "runs": rounded(runs),
    }
    print()
    print(table(runs))
    print("phases: inbox / engine / plan / market / commit / dispatch")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
