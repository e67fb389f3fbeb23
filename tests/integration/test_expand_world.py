"""A world grown to 1,000 sites in real cities: sound, connected, realistic and fast."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pytest

from suanwang.core.geo import great_circle_km
from suanwang.core.network.engine import Network
from suanwang.core.network.jurisdictions import EU
from suanwang.core.network.model import LinkKind
from suanwang.core.network.paths import PathRules
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.sites import Site
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.world import World
from suanwang.world.builtin import load_builtin_world
from suanwang.world.cities import load_cities
from suanwang.world.expand import HOSTED_KM, expand_world

BUILTIN = load_builtin_world()
BUILTIN_IDS = {s.id for s in BUILTIN.sites}


@pytest.fixture(scope="module")
def big() -> World:
    return expand_world(BUILTIN, 1000, seed=11)


def generated(world: World) -> list[Site]:
    return [s for s in world.sites if s.id not in BUILTIN_IDS]


def test_the_world_has_exactly_the_sites_asked_for_and_keeps_the_builtin_ones(big: World) -> None:
    assert len(big.sites) == 1000
    assert {s.id: s for s in big.sites if s.id in BUILTIN_IDS} == {s.id: s for s in BUILTIN.sites}
    assert set(BUILTIN.links) <= set(big.links)
    assert big.landing_points == BUILTIN.landing_points
    assert big.cables == BUILTIN.cables


def test_the_expanded_world_passes_its_integrity_check(big: World) -> None:
    assert big.problems(UNIT_TABLE) == []
    assert World.model_validate_json(big.model_dump_json()) == big


def test_the_network_reaches_every_site_over_fibre(big: World) -> None:
    net = Network.from_world(big)
    latencies = net.latencies_from("de-frankfurt", PathRules(fibre_only=True))
    assert len(latencies) == 1000
    unreachable = [x.site for x in latencies if x.one_way_ms is None]
    assert unreachable == []


def test_every_new_site_is_linked_to_two_nodes_and_a_satellite(big: World) -> None:
    links: dict[str, Counter[LinkKind]] = {s.id: Counter() for s in generated(big)}
    for link in big.links:
        for end in (link.a, link.b):
            if end in links:
                links[end][link.kind] += 1
    for site_id, kinds in links.items():
        assert kinds[LinkKind.TERRESTRIAL] + kinds[LinkKind.METRO] >= 2, site_id
        assert kinds[LinkKind.SATELLITE] >= 1, site_id


def test_new_sites_look_like_the_builtin_ones(big: World) -> None:
    by_model = {(p.compute_class, p.model) for s in BUILTIN.sites for p in s.pools}
    prices: dict[tuple[object, str], list[int]] = {}
    for s in BUILTIN.sites:
        for p in s.pools:
            prices.setdefault((p.compute_class, p.model), []).append(p.price_per_unit_hour_micros)
    for site in generated(big):
        assert 1 <= len(site.pools) <= 3
        assert 1.1 <= site.pue <= 1.6
        assert site.jurisdiction[0] == site.country
        assert site.country not in EU or "EU" in site.jurisdiction
        home_zones = {s.grid_zone for s in BUILTIN.sites if s.country == site.country}
        assert site.grid_zone in (home_zones or {site.country})
        for pool in site.pools:
            assert (pool.compute_class, pool.model) in by_model
            seen = prices[(pool.compute_class, pool.model)]
            assert 0.95 * min(seen) <= pool.price_per_unit_hour_micros <= 1.05 * max(seen)
    kinds = Counter(s.kind for s in generated(big))
    assert len(kinds) >= 4  # edge, region, AI and HPC sites


def test_new_sites_sit_in_free_cities_largest_first_within_each_country(big: World) -> None:
    cities = load_cities()
    placed = {(s.country, s.lat, s.lon) for s in generated(big)}
    for site in generated(big):
        for old in BUILTIN.sites:
            assert great_circle_km(site.lat, site.lon, old.lat, old.lon) >= HOSTED_KM
    for country in {c for c, _, _ in placed}:
        free = [
            c
            for c in cities
            if c.country == country
            and all(great_circle_km(c.lat, c.lon, s.lat, s.lon) >= HOSTED_KM for s in BUILTIN.sites)
        ]
        taken = [(c.country, c.lat, c.lon) in placed for c in free]
        assert taken == sorted(taken, reverse=True), country  # a prefix of the largest


def test_the_same_seed_gives_the_same_world(big: World) -> None:
    assert expand_world(BUILTIN, 1000, seed=11) == big
    assert expand_world(BUILTIN, 1000, seed=12) != big


def test_a_thousand_sites_take_well_under_a_few_seconds() -> None:
    began = time.perf_counter()
    expand_world(BUILTIN, 1000, seed=3)
    assert time.perf_counter() - began < 3.0


def test_beyond_the_city_table_further_campuses_are_added() -> None:
    world = expand_world(BUILTIN, len(load_cities()) + 300, seed=5)
    assert world.problems(UNIT_TABLE) == []
    assert any(s.id.endswith("-2") and "data centre 2" in s.name for s in world.sites)


def test_the_site_count_cannot_shrink() -> None:
    assert expand_world(BUILTIN, len(BUILTIN.sites), seed=0) is BUILTIN
    with pytest.raises(ValueError, match="below"):
        expand_world(BUILTIN, 10, seed=0)


def test_generated_tasks_fit_the_expanded_world(big: World) -> None:
    tasks = generate_tasks(
        big, 500, np.random.default_rng(0), start=datetime(2026, 1, 1, tzinfo=UTC)
    )
    sold = {(p.compute_class, p.model) for s in big.sites for p in s.pools}
    site_ids = {s.id for s in big.sites}
    for task in tasks:
        if task.demand.model is not None:
            assert (task.demand.compute_class, task.demand.model) in sold
        if task.input is not None:
            assert task.input.site in site_ids
