"""Calibrate the latency model on the measured GCP inter-region round trips.

Reads ``<shared>/cloud-regions/raw_gcp_latency.csv`` and the region locations in
``scripts/latency_calibration/gcp_regions.toml``, fits the model on the built-in world
(:func:`suanwang.core.network.calibration.calibrate`), prints the report and writes it to
``docs/latency-calibration.json``. The fitted constants are the defaults of
:class:`suanwang.core.network.latency.LatencyModel`; a test checks they stay in step.

Usage: python scripts/calibrate_latency.py [--shared ../shared/data] [--out FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tomllib
from pathlib import Path

from suanwang.core.network.calibration import CalibrationReport, Observations, calibrate
from suanwang.core.network.graph import CompiledGraph
from suanwang.world.builtin import load_builtin_world

ROOT = Path(__file__).resolve().parent.parent
REGIONS = ROOT / "scripts" / "latency_calibration" / "gcp_regions.toml"


def load_observations(shared: Path) -> Observations:
    """The GCP round trips (averaged over both directions) at the listed region locations."""
    regions = tomllib.loads(REGIONS.read_text(encoding="utf-8"))["regions"]
    points = {name: (float(r["lat"]), float(r["lon"])) for name, r in regions.items()}
    raw = shared / "cloud-regions" / "raw_gcp_latency.csv"
    with raw.open(encoding="utf-8") as fh:
        rows = [
            (r["sending_region"], r["receiving_region"], float(r["milliseconds"]))
            for r in csv.DictReader(fh)
        ]
    missing = sorted({n for a, b, _ in rows for n in (a, b)} - set(points))
    if missing:
        raise SystemExit(f"regions without a location in {REGIONS}: {', '.join(missing)}")
    return Observations.from_directed(points, rows)


def run(shared: Path) -> CalibrationReport:
    obs = load_observations(shared)
    graph = CompiledGraph.from_world(load_builtin_world())
    return calibrate(graph, obs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "latency-calibration.json")
    args = parser.parse_args(argv)
    if not (args.shared / "cloud-regions" / "raw_gcp_latency.csv").exists():
        print(f"error: no GCP latency data under {args.shared}/cloud-regions", file=sys.stderr)
        return 2
    report = run(args.shared)
    text = json.dumps(report.model_dump(mode="json"), indent=2)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
