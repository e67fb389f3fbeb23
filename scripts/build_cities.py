#!/usr/bin/env python3
"""Regenerate ``src/suanwang/world/data/cities.json`` from Natural Earth populated places.

Input (public domain; "Made with Natural Earth", see DATA.md):
  <shared>/natural-earth/ne_50m_populated_places_simple.geojson   Natural Earth v4.0.0, 1:50m

Kept: every place with an ISO 3166-1 alpha-2 code (Natural Earth's ``iso_a2``), except those in
Antarctica (research stations). Values: name, ISO2, latitude and longitude rounded to 4
decimals, population (``pop_max``; 0 where absent). Order: population, largest first, then
country and name, so the file is stable.

Usage: python scripts/build_cities.py [--shared ../shared/data] [--check]
``--check`` exits 1 if the generated file differs from the one in the tree.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from suanwang.world.cities import CITY_FIELDS
from suanwang.world.packs.natural_earth import NATURAL_EARTH_ATTRIBUTION, populated_places

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "src" / "suanwang" / "world" / "data" / "cities.json"
SOURCE_FILE = Path("natural-earth") / "ne_50m_populated_places_simple.geojson"
EXCLUDED = frozenset({"AQ"})


def render(shared: Path) -> str:
    """The text of ``cities.json``: a small header, then one city per line."""
    places = sorted(
        (p for p in populated_places(shared / SOURCE_FILE) if p.country_iso2 not in EXCLUDED),
        key=lambda p: (-(p.population or 0), p.country_iso2, p.name, p.lat, p.lon),
    )
    rows = [
        [p.name, p.country_iso2, round(p.lat, 4), round(p.lon, 4), p.population or 0]
        for p in places
    ]
    header = {
        "source": "Natural Earth 1:50m populated places, v4.0.0 "
        "(ne_50m_populated_places_simple), public domain",
        "attribution": NATURAL_EARTH_ATTRIBUTION,
        "generated_by": "scripts/build_cities.py",
        "fields": list(CITY_FIELDS),
    }
    head = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in header.items()]
    body = ",\n".join(f"  {json.dumps(row, ensure_ascii=False)}" for row in rows)
    return "{\n" + "\n".join(head) + '\n "cities": [\n' + body + "\n ]\n}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--check", action="store_true", help="fail if the output would change")
    args = parser.parse_args()
    if not (args.shared / SOURCE_FILE).is_file():
        print(f"error: {args.shared / SOURCE_FILE} not found", file=sys.stderr)
        return 2
    text = render(args.shared)
    json.loads(text)  # the output is valid JSON
    if args.check:
        same = OUTPUT.exists() and OUTPUT.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{OUTPUT} is out of date: run scripts/build_cities.py")
        return 0 if same else 1
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(json.loads(text)['cities'])} cities)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
