"""Integrity of the shipped world: what `make demo` shows must be sound."""

from __future__ import annotations

from collections import deque

import pytest

from suanwang.core.geo import great_circle_km
from suanwang.core.network.model import LinkKind
from suanwang.core.sites import SiteKind
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.world import World
from suanwang.world import load_builtin_world

CHINA_CLUSTERS = [
    "cn-zhangjiakou",
    "cn-wuhu",
    "cn-yrd-demo-zone",
    "cn-shaoguan",
    "cn-guian",
    "cn-horinger",
    "cn-qingyang",
    "cn-zhongwei",
    "cn-tianfu",
    "cn-chongqing",
]
REPORT_PLACES = [
    "hk-tseung-kwan-o",
    "sg-singapore",
    "za-cape-town",
    "ke-nairobi",
    "zw-harare",
    "ml-bamako",
    "pe-lima",
    "pe-iquitos",
    "to-nukualofa",
    "az-baku",
    "kz-aktau",
    "fr-marseille",
    "us-virginia-beach",
    "es-bilbao",
    "pk-karachi",
    "gr-piraeus",
]
REQUIRED_CABLES = ["peace", "2africa", "marea", "aae-1", "ellalink", "sacs", "equiano", "faster"]


@pytest.fixture(scope="module")
def world() -> World:
    return load_builtin_world()


def test_headline_counts(world: World) -> None:
    s = world.summary(UNIT_TABLE)
    assert s.sites >= 80
    assert s.submarine_cables >= 40
    assert s.countries >= 190


def test_no_integrity_problems(world: World) -> None:
    assert world.problems(UNIT_TABLE) == []


def test_china_national_clusters_and_report_places_are_present(world: World) -> None:
    ids = {s.id for s in world.sites}
    assert set(CHINA_CLUSTERS) <= ids
    assert all(world.site(c).kind is SiteKind.HUB for c in CHINA_CLUSTERS)
    missing = [p for p in REPORT_PLACES if p not in ids]
    assert not missing, f"sites the reports cite are missing: {missing}"


def test_named_cables_are_present(world: World) -> None:
    ids = {c.id for c in world.cables}
    assert set(REQUIRED_CABLES) <= ids
    assert any("tonga" in i for i in ids)
    assert any("caspian" in i for i in ids)
    assert {"seamewe-5", "seamewe-6", "tonga-cable", "trans-caspian"} <= ids


def test_every_inhabited_continent_has_sites(world: World) -> None:
    regions = {c.code: c.region for c in world.countries}
    seen = {regions[s.country] for s in world.sites}
    for region in (
        "East Asia & Pacific",
        "Europe & Central Asia",
        "Latin America & Caribbean",
        "Middle East & North Africa",
        "North America",
        "South Asia",
        "Sub-Saharan Africa",
    ):
        assert any(region in r for r in seen), region
    assert any(s.country in {"AU", "NZ", "FJ", "TO"} for s in world.sites)  # Oceania


def test_every_submarine_segment_is_at_least_its_great_circle(world: World) -> None:
    nodes = world.nodes()
    for link in world.links:
        if link.kind is LinkKind.SUBMARINE:
            a, b = nodes[link.a], nodes[link.b]
            assert link.length_km >= great_circle_km(a.lat, a.lon, b.lat, b.lon), link.id


def test_cable_segments_do_not_exceed_the_published_length_by_much(world: World) -> None:
    for cable in world.cables:
        total = sum(x.length_km for x in world.cable_links(cable.id))
        assert total <= cable.length_km * 1.6 + 1.0, cable.id


def test_every_site_is_reachable_from_every_other(world: World) -> None:
    adjacency: dict[str, set[str]] = {n: set() for n in world.nodes()}
    for link in world.links:
        adjacency[link.a].add(link.b)
        adjacency[link.b].add(link.a)
    start = world.sites[0].id
    seen, queue = {start}, deque([start])
    while queue:
        for nxt in adjacency[queue.popleft()] - seen:
            seen.add(nxt)
            queue.append(nxt)
    assert {s.id for s in world.sites} <= seen


def test_tonga_has_a_cable_and_a_satellite_fallback(world: World) -> None:
    links = [x for x in world.links if "to-nukualofa" in (x.a, x.b)]
    assert any(x.kind is LinkKind.SATELLITE for x in links)
    tonga_landings = {lp.id for lp in world.landing_points if lp.country == "TO"}
    assert any({x.a, x.b} & tonga_landings for x in links)


def test_countries_carry_indicators(world: World) -> None:
    cn, ke = world.country("CN"), world.country("KE")
    assert cn.population is not None
    assert cn.population.value > 1e9
    assert ke.internet_users_pct is not None
    assert 0 < ke.internet_users_pct.value < 100
    assert world.country("sg").fixed_broadband_per_100 is not None
    located = [c for c in world.countries if c.lat is not None and c.lon is not None]
    assert len(located) >= 215
    assert all(world.country(cc).lat is not None for cc in ("HK", "SG", "TO", "GU", "MV"))
    with_income = [c for c in world.countries if c.income_group.value != "unclassified"]
    assert len(with_income) >= 190
