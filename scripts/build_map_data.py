"""Derive the dashboard's country shapes from Natural Earth (public domain).

Reads ``ne_110m_admin_0_countries.geojson`` (Natural Earth 1:110m Admin-0, in
``../shared/data/natural-earth``) and writes ``src/suanwang/dashboard/static/countries.json``:
one entry per country with its ISO alpha-2 code (``ISO_A2_EH`` where ``ISO_A2`` is -99, as for
France and Norway), its English and Chinese names, and its outline as rings of
``[lon, lat]`` rounded to 0.1 degree with repeated points dropped (about a tenth of the
source's size). Run from the repository root::

    .venv/bin/python scripts/build_map_data.py [--source PATH] [--out PATH]

Deterministic: the same source gives the same bytes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "data" / "natural-earth" / "ne_110m_admin_0_countries.geojson"
OUT = REPO / "src" / "suanwang" / "dashboard" / "static" / "countries.json"


def _ring(points: list[list[float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for lon, lat in points:
        p = [round(lon, 1), round(lat, 1)]
        if not out or out[-1] != p:
            out.append(p)
    return out if len(out) >= 4 else []


def _code(props: dict[str, Any]) -> str | None:
    for key in ("ISO_A2", "ISO_A2_EH"):
        value = str(props.get(key) or "")
        if len(value) == 2 and value.isalpha():
            return value.upper()
    return None


def build(source: Path) -> dict[str, Any]:
    """The compact table (see the module docstring)."""
    data = json.loads(source.read_text(encoding="utf-8"))
    countries = []
    for feature in data["features"]:
        props = feature["properties"]
        code = _code(props)
        geom = feature["geometry"]
        polygons = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        rings = [r for poly in polygons if (r := _ring(poly[0]))]  # outer rings only
        if code is None or not rings:
            continue
        countries.append(
            {
                "code": code,
                "name": props["NAME"],
                "name_zh": props.get("NAME_ZH") or props["NAME"],
                "rings": rings,
            }
        )
    countries.sort(key=lambda c: c["code"])
    return {
        "source": "Natural Earth 1:110m Admin-0 countries (public domain); made with Natural Earth",
        "countries": countries,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, default=SOURCE)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if not args.source.exists():
        raise SystemExit(f"{args.source}: no such file (the Natural Earth data is in ../shared)")
    table = build(args.source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{args.out}: {len(table['countries'])} countries, {args.out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
