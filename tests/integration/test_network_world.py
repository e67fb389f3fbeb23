"""The network engine on the built-in world: cuts, sovereignty, circles and the cost map."""

from __future__ import annotations

import numpy as np
import pytest

from suanwang.core.errors import UnknownIdError
from suanwang.core.network.circles import china_hub_clusters, circles, hub_pairs
from suanwang.core.network.engine import FailureStateError, Network
from suanwang.core.network.failures import FailureSpec, Reachability, Region
from suanwang.core.network.graph import CompiledGraph
from suanwang.core.network.jurisdictions import EU
from suanwang.core.network.model import LinkKind
from suanwang.core.network.paths import NoPathError, PathRules
from suanwang.core.tasks import LatencyMode
from suanwang.world.builtin import load_builtin_world


@pytest.fixture
def net() -> Network:
    return Network.from_world(load_builtin_world())


def test_cutting_the_tonga_cable_leaves_tonga_only_its_satellite_path(net: Network) -> None:
    before = net.path("to-nukualofa", "fj-suva")
    assert all(h.kind is not LinkKind.SATELLITE for h in before.hops)
    report = net.fail(FailureSpec(srlgs=frozenset({"cable:tonga-cable"})))
    assert [c.code for c in report.isolated_countries] == ["TO"]
    assert report.isolated_countries[0].reachable_by is Reachability.SATELLITE_ONLY
    assert report.unreachable_pairs == ()
    after = net.path("to-nukualofa", "fj-suva")
    assert any(h.kind is LinkKind.SATELLITE for h in after.hops)
    assert after.one_way_ms > before.one_way_ms
    worst = report.latency_changes[0]
    assert "to-nukualofa" in (worst.src, worst.dst)
    assert worst.increase_ms == pytest.approx(report.max_increase_ms)
    with pytest.raises(NoPathError, match=r"unreachable|fibre"):
        net.path("to-nukualofa", "fj-suva", PathRules(fibre_only=True))


def test_restoring_a_failure_brings_latencies_back(net: Network) -> None:
    base = net.cost_map().one_way_ms.copy()
    report = net.fail(FailureSpec(srlgs=frozenset({"corridor:red-sea"})))
    assert report.max_increase_ms > 0
    assert net.failures() == (report.key,)
    with pytest.raises(FailureStateError, match="already failed"):
        net.fail(FailureSpec(srlgs=frozenset({"corridor:red-sea"})))
    net.restore(report.key)
    np.testing.assert_allclose(net.cost_map().one_way_ms, base)
    with pytest.raises(FailureStateError, match="not failed"):
        net.restore(report.key)


def test_a_red_sea_cut_reroutes_europe_asia_traffic_away_from_the_corridor(net: Network) -> None:
    before = net.path("sg-singapore", "fr-marseille")
    assert "corridor:red-sea" in before.srlgs
    net.fail(FailureSpec(srlgs=frozenset({"corridor:red-sea"})))
    after = net.path("sg-singapore", "fr-marseille")
    assert "corridor:red-sea" not in after.srlgs
    assert after.one_way_ms > before.one_way_ms


def test_a_region_failure_takes_down_every_link_near_the_point(net: Network) -> None:
    report = net.fail(FailureSpec(region=Region(lat=1.35, lon=103.8, radius_km=60)))
    assert report.failed_links
    with pytest.raises(NoPathError, match="unreachable"):
        net.path("sg-singapore", "jp-tokyo")
    assert any("sg-singapore" in pair for pair in report.unreachable_pairs)


def test_never_transit_the_us(net: Network) -> None:
    fastest = net.path("jp-tokyo", "br-sao-paulo")
    assert "US" in fastest.countries
    path = net.path("jp-tokyo", "br-sao-paulo", PathRules(avoid=frozenset({"US"})))
    assert "US" not in path.countries


def test_stay_inside_the_eu(net: Network) -> None:
    path = net.path("de-frankfurt", "es-madrid", PathRules(within=EU))
    assert set(path.countries) <= EU
    with pytest.raises(NoPathError, match=r"GB is in|excludes|path rules"):
        net.path("de-frankfurt", "gb-london", PathRules(within=EU))


def test_a_latency_bound_that_cannot_be_met_says_how_close_it_gets(net: Network) -> None:
    with pytest.raises(NoPathError, match="fastest") as info:
        net.path("cn-beijing", "de-frankfurt", PathRules(max_one_way_ms=10.0))
    assert info.value.best_one_way_ms is not None
    assert info.value.best_one_way_ms > 10


def test_cheapest_within_a_bound_is_no_dearer_than_the_fastest(net: Network) -> None:
    fastest = net.path("cn-beijing", "de-frankfurt")
    got = net.cheapest_path("cn-beijing", "de-frankfurt", fastest.one_way_ms * 1.5)
    assert got.path.one_way_ms <= fastest.one_way_ms * 1.5
    assert got.path.price_per_gb_micros <= fastest.price_per_gb_micros
    assert 0 <= got.lower_bound_micros <= got.path.price_per_gb_micros
    assert got.fastest_one_way_ms == pytest.approx(fastest.one_way_ms)


def test_unknown_names_get_suggestions(net: Network) -> None:
    with pytest.raises(UnknownIdError, match="did you mean"):
        net.path("cn-shangai", "de-frankfurt")
    with pytest.raises(UnknownIdError, match="shared-risk group"):
        net.fail(FailureSpec(srlgs=frozenset({"cable:nope"})))


def test_circles_state_one_way_and_round_trip_separately(net: Network) -> None:
    got = circles(net, "cn-shanghai")
    rings = {(r.within_ms, r.mode): {m.site for m in r.sites} for r in got.rings}
    assert set(rings) == {(ms, mode) for ms in (1.0, 5.0, 20.0) for mode in LatencyMode}
    for ms in (1.0, 5.0, 20.0):
        # a round-trip ring is never wider than the one-way ring of the same radius
        assert rings[(ms, LatencyMode.ROUND_TRIP)] <= rings[(ms, LatencyMode.ONE_WAY)]
    assert rings[(1.0, LatencyMode.ONE_WAY)] <= rings[(5.0, LatencyMode.ONE_WAY)]
    assert "cn-yrd-demo-zone" in rings[(5.0, LatencyMode.ONE_WAY)]


def test_china_hub_pairs_against_the_20ms_target(net: Network) -> None:
    hubs = china_hub_clusters(load_builtin_world())
    assert len(hubs) == 10
    report = hub_pairs(net, hubs)
    assert len(report.pairs) == 45
    assert report.meeting_rtt <= report.meeting_one_way <= 45
    for p in report.pairs:
        assert p.meets_one_way == (p.one_way_ms is not None and p.one_way_ms <= 20.0)


def test_cost_map_matches_path_queries_and_is_versioned(net: Network) -> None:
    cm = net.cost_map()
    assert cm.one_way_ms.shape == (len(cm.sites), len(cm.sites))
    for a, b in [("cn-beijing", "de-frankfurt"), ("za-cape-town", "br-fortaleza")]:
        path = net.path(a, b)
        i, j = cm.index(a), cm.index(b)
        assert cm.one_way_ms[i, j] == pytest.approx(path.one_way_ms)
        assert cm.price_per_gb_micros[i, j] == pytest.approx(path.price_per_gb_micros)
        assert cm.bottleneck_gbps[i, j] == pytest.approx(path.bottleneck_gbps)
    version = cm.version
    assert net.cost_map() is cm  # cached while nothing changes
    net.fail(FailureSpec(links=frozenset({net.path("cn-beijing", "de-frankfurt").links[0]})))
    assert net.cost_map().version != version


def test_one_to_all_agrees_with_single_paths(net: Network) -> None:
    lats = {x.site: x for x in net.latencies_from("in-mumbai")}
    assert lats["in-mumbai"].one_way_ms == 0.0
    path = net.path("in-mumbai", "sg-singapore")
    assert lats["sg-singapore"].one_way_ms == pytest.approx(path.one_way_ms, abs=1e-3)
    assert lats["sg-singapore"].rtt_ms == pytest.approx(2 * path.one_way_ms, abs=2e-3)
    from_point = {x.site: x for x in net.latencies_from_point(19.08, 72.88)}
    assert from_point["sg-singapore"].one_way_ms is not None


def test_the_graph_is_recompiled_only_when_the_topology_changes(net: Network) -> None:
    world = load_builtin_world()
    same = CompiledGraph.from_world(world)
    assert same.fingerprint == net.graph.fingerprint
    assert net.recompile(same) is False
    fewer = world.model_copy(update={"links": world.links[1:]})
    assert net.recompile(CompiledGraph.from_world(fewer)) is True
    assert net.graph.n_links == len(world.links) - 1
