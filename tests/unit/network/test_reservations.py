"""Bandwidth reservation: all or nothing, the bottleneck named, release restores."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from netkit import connected_pair, small_network

from suanwang.core.errors import UnknownIdError
from suanwang.core.network.engine import AdmissionError
from suanwang.core.network.paths import NoPathError, PathRules


def _net_and_path(seed: int = 3):  # type: ignore[no-untyped-def]
    net = small_network(40, seed)
    pair = connected_pair(net, np.random.default_rng(seed))
    assert pair is not None
    return net, net.path(*pair)


def test_reserving_lowers_free_capacity_along_the_path_only_in_its_direction() -> None:
    net, path = _net_and_path()
    assert path.bottleneck_gbps is not None
    gbps = path.bottleneck_gbps / 4
    version = net.version
    net.reserve("flow-1", path, gbps)
    assert net.version != version
    again = net.path(path.src, path.dst)
    for before, after in zip(path.hops, again.hops, strict=True):
        assert after.free_gbps == pytest.approx(before.free_gbps - gbps)
    back = net.path(path.dst, path.src)
    assert back.bottleneck_gbps == pytest.approx(path.bottleneck_gbps)


def test_admission_fails_cleanly_naming_the_bottleneck() -> None:
    net, path = _net_and_path()
    assert path.bottleneck_gbps is not None
    assert path.bottleneck_link is not None
    too_much = path.bottleneck_gbps * 1.5
    with pytest.raises(AdmissionError) as info:
        net.reserve("big", path, too_much)
    assert info.value.link == path.bottleneck_link
    assert path.bottleneck_link in str(info.value)
    # nothing was held: the same path still shows its full capacity
    assert net.path(path.src, path.dst).bottleneck_gbps == pytest.approx(path.bottleneck_gbps)
    assert net.reservations() == ()


def test_release_gives_everything_back_and_unknown_flows_are_named() -> None:
    net, path = _net_and_path()
    net.reserve("f", path, 1.0)
    net.release("f")
    assert net.path(path.src, path.dst).bottleneck_gbps == pytest.approx(path.bottleneck_gbps)
    with pytest.raises(UnknownIdError, match="flow"):
        net.release("f")


def test_min_gbps_routes_around_a_full_link_or_says_why() -> None:
    net, path = _net_and_path()
    assert path.bottleneck_gbps is not None
    net.reserve("fill", path, path.bottleneck_gbps)
    rules = PathRules(min_gbps=1.0)
    try:
        detour = net.path(path.src, path.dst, rules)
    except NoPathError:
        with pytest.raises(NoPathError, match="Gbps"):
            net.path(path.src, path.dst, rules)
        return
    assert detour.bottleneck_gbps is not None
    assert detour.bottleneck_gbps >= 1.0
    assert detour.links != path.links


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 5000), shares=st.lists(st.floats(0.05, 0.6), min_size=1, max_size=6))
def test_reservations_never_overbook_a_link(seed: int, shares: list[float]) -> None:
    net = small_network(30, seed)
    pair = connected_pair(net, np.random.default_rng(seed))
    if pair is None:
        return
    path = net.path(*pair)
    cap = path.bottleneck_gbps or 0.0
    for i, share in enumerate(shares):
        with contextlib.suppress(AdmissionError):
            net.reserve(f"f{i}", path, cap * share)
    assert (net.arc_free_gbps() >= -1e-9).all()
