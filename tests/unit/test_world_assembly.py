"""Assembling a world from facts, on a tiny generated world (no package data, no ../shared)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from suanwang.core.countries import Country, IncomeGroup
from suanwang.core.geo import great_circle_km
from suanwang.core.network.model import LinkKind
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.world import World, WorldIntegrityError
from suanwang.world.assemble import LinkDefaults, assemble_world
from suanwang.world.facts import BackbonesFile, CablesFile, SitesFile


def site(
    id_: str, cc: str, lat: float, lon: float, kind: str = "region", city: str | None = None
) -> dict[str, Any]:
    return {
        "id": id_,
        "name": id_,
        "city": city or id_,
        "country": cc,
        "lat": lat,
        "lon": lon,
        "kind": kind,
        "operator": "op",
        "pue": 1.3,
        "grid_zone": cc,
        "jurisdiction": [cc],
        "pool": [
            {"class": "ai", "model": "nvidia-h100", "count": 8, "price_usd_per_device_hour": 2.967}
        ],
    }


SITES = {
    "site": [
        site("sg-sin", "SG", 1.29, 103.85, "hub"),
        site("sg-jurong", "SG", 1.33, 103.70, "edge"),  # 17 km away: a metro link
        site("my-kl", "MY", 3.14, 101.69),
        site("fj-suva", "FJ", -18.14, 178.44, "edge"),
        site("to-nuku", "TO", -21.14, -175.20, "edge"),
    ]
}
BACKBONES = {"backbone": [{"a": "sg-sin", "b": "my-kl"}]}
CABLES = {
    "landing": [
        {"id": "lp-sg", "name": "Singapore", "country": "SG", "lat": 1.30, "lon": 103.95},
        {"id": "lp-suva", "name": "Suva", "country": "FJ", "lat": -18.15, "lon": 178.45},
        {"id": "lp-nuku", "name": "Nuku'alofa", "country": "TO", "lat": -21.13, "lon": -175.2},
    ],
    "cable": [
        {
            "id": "toy",
            "name": "Toy Cable",
            "length_km": 10_000.0,
            "capacity_tbps": 10.0,
            "rfs": 2020,
            "status": "in-service",
            "corridors": ["south-pacific"],
            "source": "test",
            "landings": ["lp-sg", "lp-suva", "lp-nuku"],
            "segments": [["lp-sg", "lp-suva"], ["lp-suva", "lp-nuku", 900.0]],
        }
    ],
}
COUNTRIES = tuple(
    Country(code=c, iso3=c + "X", name=c, income_group=IncomeGroup.HIGH)
    for c in ("SG", "MY", "FJ", "TO")
)


def build(**overrides: Any) -> World:
    parts: dict[str, Any] = {"sites": SITES, "backbones": BACKBONES, "cables": CABLES}
    parts.update(overrides)
    return assemble_world(
        version="test",
        sites=SitesFile.model_validate(parts["sites"]),
        backbones=BackbonesFile.model_validate(parts["backbones"]),
        cables=CablesFile.model_validate(parts["cables"]),
        countries=COUNTRIES,
        table=UNIT_TABLE,
    )


def test_prices_become_micros_per_normalized_unit_hour() -> None:
    pool = build().site("sg-sin").pools[0]
    # $2.967 per H100-hour / 989 TFLOPS-FP16 = $0.003 per unit-hour = 3,000 micro-USD
    assert pool.price_per_unit_hour_micros == 3_000


def test_segment_lengths_share_the_published_total_and_respect_the_floor() -> None:
    world = build()
    seg1, seg2 = world.cable_links("toy")
    assert seg2.length_km == 900.0  # published segment length kept
    lp = {p.id: p for p in world.landing_points}
    gc = great_circle_km(lp["lp-sg"].lat, lp["lp-sg"].lon, lp["lp-suva"].lat, lp["lp-suva"].lon)
    # 9,100 km left for a ~8,500 km great circle: slack clamped into [1.05, 1.6]
    assert gc * 1.05 <= seg1.length_km <= gc * 1.6
    assert seg1.srlgs[0] == "cable:toy"
    assert "corridor:south-pacific" in seg1.srlgs  # no box for it: applies to every segment


def test_links_of_every_kind_are_generated() -> None:
    world = build()
    by_kind = {k: [x for x in world.links if x.kind is k] for k in LinkKind}
    assert {(x.a, x.b) for x in by_kind[LinkKind.METRO]} >= {("sg-jurong", "sg-sin")}
    assert len(by_kind[LinkKind.SATELLITE]) == len(SITES["site"])
    backbone = next(x for x in world.links if x.id == "bb-sg-sin--my-kl")
    assert backbone.countries == ("SG", "MY")
    assert backbone.price_per_gb_micros == LinkDefaults().cross_border_price_micros
    backhauls = {x.a: x.b for x in world.links if x.id.startswith("bh-")}
    assert backhauls["lp-nuku"] == "to-nuku"  # same-country site wins


def test_bad_facts_name_the_record_and_field() -> None:
    bad = {"site": [{**SITES["site"][0], "lat": 123.0}]}
    with pytest.raises(ValidationError) as info:
        build(sites=bad)
    assert info.value.errors()[0]["loc"] == ("site", 0, "lat")


def test_segment_with_a_foreign_landing_is_rejected() -> None:
    cables = {**CABLES, "cable": [{**CABLES["cable"][0], "segments": [["lp-sg", "lp-xx"]]}]}
    with pytest.raises(ValidationError, match="not in this cable's landings"):
        build(cables=cables)


def test_integrity_problems_are_all_reported() -> None:
    world = build()
    broken_link = world.links[0].model_copy(update={"a": "nowhere", "length_km": 1.0})
    short = next(x for x in world.links if x.kind is LinkKind.SUBMARINE).model_copy(
        update={"id": "short", "length_km": 5.0}
    )
    bad_site = world.sites[0].model_copy(update={"country": "ZZ"})
    broken = world.model_copy(
        update={
            "links": (broken_link, short, *world.links[1:]),
            "sites": (bad_site, *world.sites[1:], world.sites[1]),
        }
    )
    with pytest.raises(WorldIntegrityError) as info:
        broken.check(UNIT_TABLE)
    text = "\n".join(info.value.problems)
    assert "unknown endpoint 'nowhere'" in text
    assert "shorter than the great-circle distance" in text
    assert "country 'ZZ' is not in the country table" in text
    assert f"duplicate node id '{world.sites[1].id}'" in text


def test_unknown_pool_model_is_an_integrity_problem() -> None:
    world = build()
    pool = world.sites[0].pools[0].model_copy(update={"model": "nvidia-h1000"})
    site0 = world.sites[0].model_copy(update={"pools": (pool,)})
    problems = world.model_copy(update={"sites": (site0, *world.sites[1:])}).problems(UNIT_TABLE)
    assert any("did you mean nvidia-h100" in p for p in problems)


def test_summary_counts() -> None:
    s = build().summary(UNIT_TABLE)
    assert (s.sites, s.submarine_cables, s.countries, s.landing_points) == (5, 1, 4, 3)
    assert s.capacity[next(iter(s.capacity))] >= 0
    assert sum(s.links_by_kind.values()) == s.links
