"""Benchmark the compute market: call-auction clearing, quotes, the end-to-end market run and
ledger verification, each against a baseline measured in the same run.

* clearing: ``clear_book`` (cumulative demand/supply over sorted prices) against the textbook
  loop that recounts demand and supply at every candidate price (O(prices x orders));
* quotes: ``quote`` for N tasks against ``schedule`` of the same tasks (a quote judges every
  site for every task, a schedule only the top k);
* market run: ``simulate`` (leases, metering, settlement, disputes, release) against the
  scheduling it starts with, so the ratio is the market's own cost;
* verification: ``verify`` records per second, against rebuilding the ledger through
  ``Ledger.from_records`` (the checks the ledger itself runs on every post).

Writes bench/results/market.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import best_of

from suanwang.core.energy.clock import epoch_hour
from suanwang.core.market.auction import (
    Ask,
    Bid,
    _best_price,
    clear_book,
    generate_orders,
)
from suanwang.core.market.ledger import Ledger, TxnRecord
from suanwang.core.market.quote import quote
from suanwang.core.market.simulate import SimConfig, simulate
from suanwang.core.market.verify import verify
from suanwang.core.scheduling.scheduler import schedule
from suanwang.core.scheduling.snapshot import Snapshot
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world.builtin import load_builtin_world

START = datetime(2026, 7, 1, 4, tzinfo=UTC)


def naive_volume(bids: list[Bid], asks: list[Ask]) -> int:
    """The textbook call auction: recount demand and supply at every candidate price."""
    best = 0
    for p in sorted({o.price_micros for o in (*bids, *asks)}):
        d = sum(b.qty for b in bids if b.price_micros >= p)
        s = sum(a.qty for a in asks if a.price_micros <= p)
        best = max(best, min(d, s))
    return best


def wide_book(n: int, seed: int) -> list[Bid | Ask]:
    """One product, every order at its own price (the case the textbook loop is slow on)."""
    rng = np.random.default_rng(seed)
    out: list[Bid | Ask] = []
    for i in range(n):
        cls = Bid if i % 2 == 0 else Ask
        price = int(rng.integers(1_000, 10_000_000))
        qty = int(rng.integers(1, 20))
        out.append(cls(id=f"o{i}", product="ai-wide", price_micros=price, qty=qty, ts=i))
    return out


def bench_clearing(sizes: list[int], naive_max: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for n, book in [(n, "generated") for n in sizes] + [(10_000, "wide")]:
        orders = generate_orders(n, seed=1) if book == "generated" else wide_book(n, 1)
        t = best_of(lambda o=orders: clear_book(o), 3)  # type: ignore[misc]
        rounds = clear_book(orders)
        row: dict[str, object] = {
            "orders": n,
            "book": book,
            "rounds": len(rounds),
            "matched_volume": sum(r.matched_volume for r in rounds),
            "clear_s": round(t, 4),
        }
        books: dict[str, tuple[list[Bid], list[Ask]]] = {}
        for o in orders:
            pair = books.setdefault(o.product, ([], []))
            if isinstance(o, Bid):
                pair[0].append(o)
            else:
                pair[1].append(o)
        start = time.perf_counter()
        ours = {p: _best_price(b, a, None)[1] for p, (b, a) in books.items()}
        tp = time.perf_counter() - start
        row["price_s"] = round(tp, 4)
        row["distinct_prices"] = len({o.price_micros for o in orders})
        if n <= naive_max:
            start = time.perf_counter()
            naive = {p: naive_volume(b, a) for p, (b, a) in books.items()}
            tn = time.perf_counter() - start
            row |= {
                "naive_price_s": round(tn, 4),
                "price_speedup": round(tn / tp, 1),
                "same_volume": naive == ours,
            }
        rows.append(row)
        print(f"clear {n:>7} orders: {t * 1000:8.1f} ms  {row}", flush=True)
    return rows


def bench_quotes(n: int) -> dict[str, object]:
    world = load_builtin_world()
    snap = Snapshot.build(world, UNIT_TABLE, epoch_hour(START))
    tasks = generate_tasks(world, n, np.random.default_rng(3), start=START)
    tq = best_of(lambda: quote(tasks, snap), 2)
    ts = best_of(lambda: schedule(tasks, snap, seed=3), 2)
    quotes = quote(tasks, snap)
    row = {
        "tasks": n,
        "quote_s": round(tq, 3),
        "schedule_s": round(ts, 3),
        "quote_over_schedule": round(tq / ts, 2),
        "without_offer": sum(1 for q in quotes if not q.has_offer),
    }
    print(f"quote {n} tasks: {row}", flush=True)
    return row


def bench_market(tasks: list[int]) -> list[dict[str, object]]:
    world = load_builtin_world()
    snap = Snapshot.build(world, UNIT_TABLE, epoch_hour(START))
    rows: list[dict[str, object]] = []
    for n in tasks:
        cfg = SimConfig(tasks=n, seed=5, start=START)
        work = generate_tasks(world, n, np.random.default_rng(5), start=START)
        capped = [
            t.model_copy(update={"duration_hours": min(t.duration_hours, cfg.max_hours)})
            for t in work
        ]
        ts = best_of(lambda c=capped, s=cfg.seed: schedule(c, snap, seed=s), 2)  # type: ignore[misc]
        start = time.perf_counter()
        result = simulate(world, UNIT_TABLE, cfg, snap=snap, tasks=work)
        tsim = time.perf_counter() - start
        records = [r.model_dump(mode="json") for r in result.market.ledger.records()]
        start = time.perf_counter()
        violations = verify(records)
        tv = time.perf_counter() - start
        typed = list(result.market.ledger.records())
        start = time.perf_counter()
        Ledger.from_records(typed)
        tr = time.perf_counter() - start
        r = result.report
        txns = sum(1 for x in typed if isinstance(x, TxnRecord))
        row = {
            "tasks": n,
            "leases": r.leases,
            "events": r.events_sent,
            "ledger_txns": txns,
            "simulate_s": round(tsim, 3),
            "schedule_s": round(ts, 3),
            "market_over_schedule": round((tsim - ts) / ts, 2),
            "leases_per_s": round(r.leases / max(tsim - ts, 1e-9)),
            "events_per_s": round(r.events_sent / max(tsim - ts, 1e-9)),
            "verify_s": round(tv, 3),
            "verify_records_per_s": round(len(records) / tv),
            "rebuild_s": round(tr, 3),
            "verify_over_rebuild": round(tv / tr, 2),
            "violations": len(violations),
        }
        rows.append(row)
        print(f"market {n} tasks: {row}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/market.json"))
    parser.add_argument("--full", action="store_true", help="also 1M orders and 5k tasks")
    args = parser.parse_args()
    sizes = [1_000, 10_000, 100_000] + ([1_000_000] if args.full else [])
    result = {
        "machine": {"python": platform.python_version(), "cpu": platform.processor()},
        "clearing": bench_clearing(sizes, naive_max=10_000),
        "quotes": bench_quotes(10_000),
        "market": bench_market([1_000] + ([5_000] if args.full else [])),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
