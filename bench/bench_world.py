#!/usr/bin/env python3
"""Benchmark: loading and checking the built-in world, against plain JSON parsing.

Times (best of N) for: json.loads of world.json (baseline), pydantic validation into `World`,
the integrity check, and the summary. Ratios to the baseline are what to compare across
machines. Writes bench/results/world.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import platform
from importlib import resources
from pathlib import Path

from timing import best_of

from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.world import World


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench/results/world.json"))
    args = parser.parse_args()
    text = resources.files("suanwang.world").joinpath("data/world.json").read_text("utf-8")
    world = World.model_validate_json(text)
    timings = {
        "json_loads_s": best_of(lambda: json.loads(text), args.repeat),
        "validate_s": best_of(lambda: World.model_validate_json(text), args.repeat),
        "integrity_check_s": best_of(lambda: world.problems(UNIT_TABLE), args.repeat),
        "summary_s": best_of(lambda: world.summary(UNIT_TABLE), args.repeat),
    }
    base = timings["json_loads_s"]
    result = {
        "benchmark": "world_load",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "world_bytes": len(text.encode()),
        "sites": len(world.sites),
        "links": len(world.links),
        "repeat": args.repeat,
        "timings": {k: round(v, 6) for k, v in timings.items()},
        "ratio_to_json_loads": {k: round(v / base, 2) for k, v in timings.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
