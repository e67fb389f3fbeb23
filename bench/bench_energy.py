#!/usr/bin/env python3
"""Benchmark: energy signals and per-task accounting, against plain-Python baselines.

Measures (best of N, 2-core CI machines are noisy, so compare the ratios):

* ``year_signals``: a full year (8,760 h) of intensity, price and tariff band for every grid
  zone of the built-in world, vectorized; baseline: the same synthetic intensity computed hour
  by hour in Python (``math``), for one zone, scaled to all zones.
* ``account``: accounting N tasks (mixed sites, 1-48 h) with the vectorized per-hour model;
  baseline: only fetching each task's signals (the floor the accounting can reach; the ratio
  is the accounting's own overhead).
* ``windows``: 48-hour surplus windows for every zone.

Writes bench/results/energy.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from timing import best_of

from suanwang.core.energy.accounting import TaskUsage, account_tasks
from suanwang.core.energy.clock import civil, day_of_year, epoch_hour, year_hours
from suanwang.core.energy.signals import builtin_book
from suanwang.core.energy.windows import find_windows
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.world.builtin import load_builtin_world


def python_shape_year(annual: float, lat: float, lon: float, year: int) -> list[float]:
    """The default synthetic shape hour by hour in plain Python (the baseline)."""
    hours = year_hours(year)
    _, _, _, local = civil(hours, lon / 15.0)
    days = day_of_year(hours, lon / 15.0)
    peak_day = 15 if lat >= 0 else 197
    raw = []
    for h0, d in zip(local.tolist(), days.tolist(), strict=True):
        h = h0 + 0.5
        evening = 1 + 0.06 * math.exp(-(((h - 19.5) / 2.5) ** 2))
        daylight = max(0.0, math.sin(math.pi * (h - 6) / 12))
        sun = 1 - 0.5 * math.cos(2 * math.pi * (d - (peak_day + 182.6)) / 365.25)
        solar = 1 - 0.10 * daylight * sun / 1.5
        season = 1 + 0.05 * math.cos(2 * math.pi * (d - peak_day) / 365.25)
        raw.append(evening * solar * season)
    mean = sum(raw) / len(raw)
    return [annual * r / mean for r in raw]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("bench/results/energy.json"))
    args = parser.parse_args()
    world = load_builtin_world()
    book = builtin_book(world)
    zones = sorted(book.zones)
    year = year_hours(2026)
    start = int(year[0])

    def all_signals() -> None:
        for z in zones:
            book.signals(z, start, year.size)

    one = book.zone("DE")
    vector_s = best_of(all_signals, args.repeat)
    python_one_s = best_of(
        lambda: python_shape_year(one.annual.g_per_kwh, one.lat, one.lon, 2026), 1
    )

    rng = random.Random(7)
    sites = {s.id: s for s in world.sites}
    site_ids = sorted(sites)
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    usages = [
        TaskUsage.model_validate(
            {
                "id": f"t{i}",
                "site": rng.choice(site_ids),
                "start": t0 + timedelta(minutes=rng.randrange(0, 60 * 24 * 200)),
                "duration_hours": rng.uniform(1.0, 48.0),
                "demand": {"compute_class": "general", "units": rng.uniform(1, 256)},
                "utilisation": rng.uniform(0.2, 1.0),
                "transfer_gb": rng.uniform(0, 500),
            }
        )
        for i in range(args.tasks)
    ]
    usable = [u for u in usages if any(p.compute_class == "general" for p in sites[u.site].pools)]

    def account_vector() -> None:
        account_tasks(usable, sites, book, UNIT_TABLE)

    def signals_only() -> None:
        for u in usable:
            first = epoch_hour(u.start)
            end = u.start + timedelta(hours=u.duration_hours)
            count = epoch_hour(end - timedelta(microseconds=1)) - first + 1
            book.signals(sites[u.site].grid_zone, first, count)

    account_s = best_of(account_vector, args.repeat)
    fetch_s = best_of(signals_only, args.repeat)
    windows_s = best_of(lambda: [find_windows(book, z, start, 48) for z in zones], args.repeat)

    result = {
        "benchmark": "energy",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "zones": len(zones),
        "tasks": len(usable),
        "repeat": args.repeat,
        "timings": {
            "year_signals_all_zones_s": round(vector_s, 4),
            "year_intensity_python_one_zone_s": round(python_one_s, 4),
            "account_tasks_s": round(account_s, 4),
            "account_signals_fetch_only_s": round(fetch_s, 4),
            "windows_48h_all_zones_s": round(windows_s, 4),
        },
        "per_item": {
            "signals_per_zone_year_ms": round(1000 * vector_s / len(zones), 3),
            "account_per_task_ms": round(1000 * account_s / len(usable), 3),
            "windows_per_zone_ms": round(1000 * windows_s / len(zones), 3),
        },
        "ratios": {
            "python_intensity_over_vector_signals_per_zone": round(
                python_one_s / (vector_s / len(zones)), 1
            ),
            "account_over_signals_fetch": round(account_s / fetch_s, 2),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
