"""Invariants of path queries on seeded random topologies (hypothesis)."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netkit import connected_pair, small_network, twin

from suanwang.core.geo import great_circle_km
from suanwang.core.network.failures import FailureSpec
from suanwang.core.network.latency import physics_floor_one_way_ms
from suanwang.core.network.paths import NoPathError, PathRules

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(min_value=0, max_value=10_000)
sizes = st.integers(min_value=8, max_value=120)


@SETTINGS
@given(n=sizes, seed=seeds)
def test_path_latency_is_the_sum_of_its_links_and_matches_networkx(n: int, seed: int) -> None:
    net = small_network(n, seed)
    pair = connected_pair(net, np.random.default_rng(seed))
    if pair is None:
        return
    path = net.path(*pair)
    assert path.one_way_ms == pytest.approx(path.endpoint_ms + sum(h.one_way_ms for h in path.hops))
    assert path.rtt_ms == pytest.approx(2 * path.one_way_ms)
    assert [h.src for h in path.hops] == list(path.nodes[:-1])
    assert [h.dst for h in path.hops] == list(path.nodes[1:])
    oracle = nx.shortest_path_length(twin(net), *pair, weight="w")
    assert path.one_way_ms - path.endpoint_ms == pytest.approx(oracle, rel=1e-9)


@SETTINGS
@given(n=sizes, seed=seeds)
def test_no_path_beats_the_physics_floor(n: int, seed: int) -> None:
    net = small_network(n, seed)
    for src in net.graph.site_ids[:5]:
        for lat in net.latencies_from(src):
            if lat.one_way_ms is None or lat.site == src:
                continue
            g = net.graph
            a, b = g.node_index[src], g.node_index[lat.site]
            gc = great_circle_km(g.node_lat[a], g.node_lon[a], g.node_lat[b], g.node_lon[b])
            assert lat.one_way_ms >= physics_floor_one_way_ms(gc) - 1e-9, (src, lat)


@SETTINGS
@given(n=sizes, seed=seeds, pick=st.integers(min_value=0, max_value=10_000))
def test_removing_a_link_never_shortens_a_shortest_path(n: int, seed: int, pick: int) -> None:
    net = small_network(n, seed)
    pair = connected_pair(net, np.random.default_rng(seed))
    if pair is None:
        return
    before = net.path(*pair).one_way_ms
    link = net.graph.link_ids[pick % net.graph.n_links]
    net.fail(FailureSpec(links=frozenset({link})), report=False)
    try:
        after = net.path(*pair).one_way_ms
    except NoPathError:
        return  # the link was a bridge: unreachable is "longer" still
    assert after >= before - 1e-9


@SETTINGS
@given(n=sizes, seed=seeds, k=st.integers(min_value=2, max_value=4))
def test_backup_paths_share_no_risk_group(n: int, seed: int, k: int) -> None:
    net = small_network(n, seed)
    pair = connected_pair(net, np.random.default_rng(seed))
    if pair is None:
        return
    paths = net.disjoint_paths(*pair, k=k)
    assert 1 <= len(paths) <= k
    assert paths[0].one_way_ms == pytest.approx(net.path(*pair).one_way_ms)
    for p, q in itertools.combinations(paths, 2):
        assert not (p.risk_groups() & q.risk_groups()), (p.risk_groups(), q.risk_groups())


@SETTINGS
@given(n=sizes, seed=seeds, pick=st.integers(min_value=0, max_value=10_000))
def test_an_avoided_country_never_appears_on_a_path(n: int, seed: int, pick: int) -> None:
    net = small_network(n, seed)
    pair = connected_pair(net, np.random.default_rng(seed))
    if pair is None:
        return
    on_path = net.path(*pair).countries
    ends = {net.path(*pair).countries[0], net.path(pair[1], pair[0]).countries[0]}
    transit = [c for c in on_path if c not in ends]
    if not transit:
        return
    avoid = transit[pick % len(transit)]
    rules = PathRules(avoid=frozenset({avoid}))
    try:
        path = net.path(*pair, rules)
    except NoPathError:
        return
    assert avoid not in path.countries
    assert all(avoid not in h.countries for h in path.hops)


@SETTINGS
@given(n=sizes, seed=seeds)
def test_within_keeps_every_hop_inside(n: int, seed: int) -> None:
    net = small_network(n, seed)
    pair = connected_pair(net, np.random.default_rng(seed))
    if pair is None:
        return
    allowed = frozenset(net.path(*pair).countries)
    path = net.path(*pair, PathRules(within=allowed))  # the fastest path itself qualifies
    assert set(path.countries) <= allowed


@settings(max_examples=30, deadline=None)
@given(n=st.integers(min_value=6, max_value=11), seed=seeds, slack=st.floats(1.0, 2.0))
def test_larac_is_feasible_and_its_bound_brackets_the_true_optimum(
    n: int, seed: int, slack: float
) -> None:
    net = small_network(n, seed, degree=3)
    pair = connected_pair(net, np.random.default_rng(seed))
    if pair is None:
        return
    fastest = net.path(*pair)
    bound = fastest.one_way_ms * slack
    got = net.cheapest_path(*pair, bound)
    assert got.path.one_way_ms <= bound + 1e-9
    assert got.path.price_per_gb_micros <= fastest.price_per_gb_micros + 1e-9
    # brute force over simple paths of the twin (min-latency link per node pair)
    g = twin(net)
    prices = twin(net, weight="price")
    best = min(
        sum(prices[u][v]["w"] for u, v in itertools.pairwise(p))
        for p in nx.all_simple_paths(g, *pair)
        if sum(g[u][v]["w"] for u, v in itertools.pairwise(p)) + fastest.endpoint_ms <= bound + 1e-9
    )
    assert got.lower_bound_micros <= best + 1e-6
    assert got.path.price_per_gb_micros >= best - 1e-6
