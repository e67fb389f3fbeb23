"""Shared-risk corridors (chokepoints such as the Red Sea) as latitude/longitude boxes.

A cable system lists the corridors it passes; a *segment* of it is put in a corridor's shared-risk
group only if its great-circle path (or an end) lies inside that corridor's box. Corridors with
no box here, or whose box no segment of the cable touches, apply to every segment of the cable
(the conservative choice: a cut of the corridor cuts the whole system).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

# (south, north, west, east) in degrees; boxes are generous around the chokepoint.
CORRIDOR_BOXES: dict[str, tuple[float, float, float, float]] = {
    # chokepoints
    "red-sea": (12.5, 30.0, 32.0, 43.5),
    "bab-el-mandeb": (12.0, 13.5, 42.3, 44.0),
    "suez": (29.0, 31.8, 31.8, 33.0),
    "strait-of-malacca": (0.5, 7.0, 95.0, 104.5),
    "luzon-strait": (18.5, 22.8, 119.0, 123.0),
    "taiwan-strait": (22.0, 26.5, 117.0, 121.0),
    "strait-of-gibraltar": (35.0, 37.0, -7.0, -4.5),
    "strait-of-hormuz": (24.5, 27.5, 54.5, 58.5),
    "english-channel": (48.5, 51.5, -6.0, 2.5),
    # seas and coasts (oceans have no box: a corridor cut there cuts the whole system)
    "mediterranean": (30.0, 46.0, -5.5, 36.5),
    "arabian-sea": (0.0, 25.5, 50.0, 77.0),
    "east-africa-coast": (-35.0, 12.0, 32.0, 52.0),
    "west-africa-coast": (-35.0, 36.0, -26.0, 15.0),
    "persian-gulf": (23.5, 30.5, 47.5, 56.5),
    "bay-of-bengal": (5.0, 23.0, 79.5, 95.0),
    "south-china-sea": (0.0, 23.0, 99.0, 121.0),
    "java-sea": (-8.0, -2.5, 105.0, 117.0),
    "east-china-sea": (24.0, 33.5, 119.0, 130.0),
    "sea-of-japan": (33.5, 52.0, 127.5, 142.0),
    "north-sea": (51.0, 61.0, -4.0, 9.0),
    "baltic-sea": (53.5, 66.0, 9.5, 30.5),
    "irish-sea": (51.5, 56.0, -7.0, -2.5),
    "caribbean": (8.0, 27.0, -90.0, -59.0),
    "coral-sea": (-30.0, -8.0, 142.0, 170.0),
    "tasman-sea": (-48.0, -28.0, 147.0, 175.0),
    "pacific-coast-south-america": (-56.0, 10.0, -90.0, -70.0),
    "caspian-sea": (36.5, 47.5, 46.5, 55.5),
}


def _unit(lat: float, lon: float) -> tuple[float, float, float]:
    phi, lmb = math.radians(lat), math.radians(lon)
    return (math.cos(phi) * math.cos(lmb), math.cos(phi) * math.sin(lmb), math.sin(phi))


def great_circle_points(
    a: tuple[float, float], b: tuple[float, float], samples: int = 32
) -> Iterator[tuple[float, float]]:
    """``samples + 1`` points (lat, lon) on the great circle from ``a`` to ``b``, ends included."""
    pa, pb = _unit(*a), _unit(*b)
    dot = max(-1.0, min(1.0, sum(x * y for x, y in zip(pa, pb, strict=True))))
    omega = math.acos(dot)
    for i in range(samples + 1):
        t = i / samples
        if omega < 1e-12:
            wa, wb = 1.0 - t, t
        else:
            wa = math.sin((1 - t) * omega) / math.sin(omega)
            wb = math.sin(t * omega) / math.sin(omega)
        x, y, z = (wa * u + wb * v for u, v in zip(pa, pb, strict=True))
        yield math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x))


def crosses_box(
    a: tuple[float, float], b: tuple[float, float], box: tuple[float, float, float, float]
) -> bool:
    """True if the great-circle path from ``a`` to ``b`` passes through ``box``."""
    south, north, west, east = box
    return any(
        south <= lat <= north and west <= lon <= east for lat, lon in great_circle_points(a, b)
    )


def segment_corridors(
    cable_corridors: tuple[str, ...],
    segments: list[tuple[tuple[float, float], tuple[float, float]]],
) -> list[list[str]]:
    """Corridor ids per segment, following the rule in the module docstring."""
    per_segment: list[list[str]] = [[] for _ in segments]
    for corridor in cable_corridors:
        box = CORRIDOR_BOXES.get(corridor)
        hits = [box is not None and crosses_box(a, b, box) for a, b in segments]
        if not any(hits):
            hits = [True] * len(segments)
        for i, hit in enumerate(hits):
            if hit:
                per_segment[i].append(corridor)
    return per_segment
