"""The latency model: link figures, the physics floor, one-way vs round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanwang.core.network.latency import (
    FIBRE_KM_PER_MS,
    Latency,
    LatencyModel,
    SatelliteModel,
    physics_floor_one_way_ms,
    physics_floor_rtt_ms,
)
from suanwang.core.network.model import LengthBasis, LinkKind

MODEL = LatencyModel(
    terrestrial_route_factor=1.5,
    metro_route_factor=1.2,
    submarine_route_factor=1.1,
    per_hop_ms=0.5,
    endpoint_ms=0.0,
)


@pytest.mark.parametrize(
    ("kind", "km", "basis", "expected_ms"),
    [
        (LinkKind.TERRESTRIAL, 204.0, LengthBasis.GREAT_CIRCLE, 1.5),
        (LinkKind.TERRESTRIAL, 204.0, LengthBasis.ROUTE, 1.0),
        (LinkKind.METRO, 102.0, LengthBasis.GREAT_CIRCLE, 0.6),
        (LinkKind.SUBMARINE, 2040.0, LengthBasis.ROUTE, 11.0),
    ],
)
def test_fibre_propagation_is_route_km_over_light_in_fibre(
    kind: LinkKind, km: float, basis: LengthBasis, expected_ms: float
) -> None:
    assert MODEL.propagation_ms(kind, km, basis) == pytest.approx(expected_ms)


def test_round_trip_is_twice_one_way() -> None:
    assert Latency.from_one_way(12.5) == Latency(one_way_ms=12.5, rtt_ms=25.0)
    assert physics_floor_rtt_ms(1000.0) == pytest.approx(2 * 1000.0 / FIBRE_KM_PER_MS)


def test_short_satellite_hop_costs_the_access_delay() -> None:
    sat = SatelliteModel(altitude_km=550.0, access_ms=15.0)
    assert sat.one_way_ms(0.0) == pytest.approx(15.0 + 1100.0 / 299.792458)


@given(st.floats(min_value=0.0, max_value=20_000.0))
def test_no_link_is_faster_than_light_in_fibre(gc_km: float) -> None:
    floor = physics_floor_one_way_ms(gc_km)
    fast_sat = SatelliteModel(altitude_km=300.0, access_ms=0.0, ground_track_factor=1.0)
    assert fast_sat.one_way_ms(gc_km) >= floor - 1e-12
    for kind in (LinkKind.TERRESTRIAL, LinkKind.METRO):
        assert LatencyModel().propagation_ms(kind, gc_km, LengthBasis.GREAT_CIRCLE) >= floor


def test_queueing_is_off_by_default_and_grows_with_load() -> None:
    assert LatencyModel().queueing_ms(0.9) == 0.0
    q = LatencyModel(queueing_ms_at_half_load=1.0)
    assert q.queueing_ms(0.5) == pytest.approx(1.0)
    assert q.queueing_ms(0.9) > q.queueing_ms(0.5) > q.queueing_ms(0.1) > 0.0
    assert q.queueing_ms(1.0) == q.queueing_ms(0.99)  # capped, never infinite


def test_constants_below_physics_are_rejected() -> None:
    with pytest.raises(ValueError, match="route_factor"):
        LatencyModel(terrestrial_route_factor=0.9)
    with pytest.raises(ValueError, match="fibre_km_per_ms"):
        LatencyModel(fibre_km_per_ms=300.0)
