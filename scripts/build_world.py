#!/usr/bin/env python3
"""Regenerate ``src/suanwang/world/data/world.json`` from the fact files and public data.

Inputs:
  scripts/world_facts/sites.toml, backbones.toml, cables.toml   hand-compiled facts (DATA.md)
  <shared>/world-bank/      World Bank WDI, CC BY 4.0         -> the country table
  <shared>/natural-earth/   Natural Earth, public domain      -> country label points

Without ``--shared`` (or when the folder is absent) the country table already in the package is
reused, so sites and cables can be rebuilt anywhere. Run through ``make world``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pycountry

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from suanwang.core.countries import Country, IncomeGroup  # noqa: E402
from suanwang.core.unit_catalog import UNIT_TABLE  # noqa: E402
from suanwang.core.world import WorldIntegrityError  # noqa: E402
from suanwang.world.assemble import assemble_world  # noqa: E402
from suanwang.world.facts import FactsError, load_facts  # noqa: E402
from suanwang.world.packs.natural_earth import label_points, populated_places  # noqa: E402
from suanwang.world.packs.world_bank import load_world_bank  # noqa: E402

FACTS = ROOT / "scripts" / "world_facts"
OUTPUT = ROOT / "src" / "suanwang" / "world" / "data" / "world.json"
WORLD_VERSION = "2026.11"

# World Bank codes that are not ISO 3166-1 alpha-3.
ISO3_OVERRIDES = {"XKX": "XK"}
# Names for ISO entries the World Bank does not list, where pycountry's name is not the usual one.
NAME_OVERRIDES = {"TW": "Taiwan"}


def iso3_map() -> dict[str, str]:
    out = {c.alpha_3: c.alpha_2 for c in pycountry.countries}
    out.update(ISO3_OVERRIDES)
    return out


def derive_countries(shared: Path) -> tuple[Country, ...]:
    ne = shared / "natural-earth"
    points = label_points(ne / "ne_110m_admin_0_countries.geojson")
    # Small states have no 1:110m polygon: fall back to their capital in the 1:50m places,
    # and for territories without a capital entry, to their most populous place.
    places = populated_places(ne / "ne_50m_populated_places_simple.geojson")
    ranked = sorted(places, key=lambda p: (not p.is_capital, -(p.population or 0)))
    for place in ranked:
        if place.country_iso2:
            points.setdefault(place.country_iso2, (place.lat, place.lon))
    countries, skipped = load_world_bank(shared / "world-bank", iso3_map(), points)
    if skipped:
        print(f"note: no ISO alpha-2 code for {', '.join(skipped)}; left out", file=sys.stderr)
    listed = {c.code for c in countries}
    extra = []
    for entry in pycountry.countries:
        if entry.alpha_2 in listed:
            continue
        lat, lon = points.get(entry.alpha_2, (None, None))
        name = getattr(entry, "common_name", None) or entry.name
        extra.append(
            Country(
                code=entry.alpha_2,
                iso3=entry.alpha_3,
                name=NAME_OVERRIDES.get(entry.alpha_2, name),
                income_group=IncomeGroup.UNCLASSIFIED,
                lat=lat,
                lon=lon,
                source="ISO 3166-1 (pycountry); not in World Bank WDI",
            )
        )
    return (*countries, *extra)


def packaged_countries() -> tuple[Country, ...]:
    data = json.loads(OUTPUT.read_text("utf-8"))
    return tuple(Country.model_validate(c) for c in data["countries"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared",
        type=Path,
        default=ROOT.parent / "shared" / "data",
        help="folder holding world-bank/ and natural-earth/ (default: %(default)s)",
    )
    args = parser.parse_args()
    if (args.shared / "world-bank").is_dir():
        countries = derive_countries(args.shared)
    elif OUTPUT.exists():
        print(f"note: {args.shared} absent; reusing the packaged country table", file=sys.stderr)
        countries = packaged_countries()
    else:
        sys.exit(f"{args.shared}/world-bank not found and no packaged country table to reuse")
    try:
        sites, backbones, cables = load_facts(FACTS)
        world = assemble_world(
            version=WORLD_VERSION,
            sites=sites,
            backbones=backbones,
            cables=cables,
            countries=countries,
            table=UNIT_TABLE,
        )
    except FactsError as exc:
        sys.exit(str(exc))
    except (WorldIntegrityError, KeyError) as exc:
        sys.exit(f"the facts do not fit together: {exc}")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(world.model_dump_json(indent=1, exclude_defaults=True) + "\n", "utf-8")
    s = world.summary(UNIT_TABLE)
    print(
        f"wrote {OUTPUT.relative_to(ROOT)}: {s.sites} sites, {s.submarine_cables} cables, "
        f"{s.links} links, {s.countries} countries"
    )


if __name__ == "__main__":
    main()
