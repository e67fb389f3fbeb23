"""Great-circle distance and corridor geometry."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanwang.core.geo import EARTH_RADIUS_KM, great_circle_km
from suanwang.world.corridors import CORRIDOR_BOXES, crosses_box, segment_corridors

lat = st.floats(min_value=-90, max_value=90, allow_nan=False)
lon = st.floats(min_value=-180, max_value=180, allow_nan=False)
point = st.tuples(lat, lon)


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [
        ((0.0, 0.0), (0.0, 0.0), 0.0),
        ((0.0, 0.0), (0.0, 180.0), math.pi * EARTH_RADIUS_KM),  # antipodes on the equator
        ((51.5074, -0.1278), (48.8566, 2.3522), 343.6),  # London - Paris
        ((36.85, -75.98), (43.39, -2.98), 6_100.0),  # Virginia Beach - Bilbao (MAREA: 6,644)
    ],
)
def test_known_distances(a: tuple[float, float], b: tuple[float, float], km: float) -> None:
    assert great_circle_km(*a, *b) == pytest.approx(km, rel=0.01, abs=0.1)


@given(point, point)
def test_symmetric_and_bounded(a: tuple[float, float], b: tuple[float, float]) -> None:
    d = great_circle_km(*a, *b)
    assert d == pytest.approx(great_circle_km(*b, *a), abs=1e-6)
    assert 0.0 <= d <= math.pi * EARTH_RADIUS_KM + 1e-6


@given(point, point, point)
def test_triangle_inequality(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]
) -> None:
    assert great_circle_km(*a, *c) <= great_circle_km(*a, *b) + great_circle_km(*b, *c) + 1e-6


def test_red_sea_segment_is_in_the_corridor_and_mediterranean_one_is_not() -> None:
    zafarana, djibouti = (29.1, 32.65), (11.6, 43.15)
    marseille, abu_talat = (43.3, 5.37), (31.0, 29.7)
    box = CORRIDOR_BOXES["red-sea"]
    assert crosses_box(zafarana, djibouti, box)
    assert not crosses_box(marseille, abu_talat, box)
    per_segment = segment_corridors(
        ("red-sea", "mediterranean", "indian-ocean"),
        [(marseille, abu_talat), (zafarana, djibouti)],
    )
    # indian-ocean has no box, so it is put on every segment of the cable (conservative)
    assert per_segment == [["mediterranean", "indian-ocean"], ["red-sea", "indian-ocean"]]
