"""Geodesy on a spherical Earth: great-circle distance (pure maths)."""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088
"""IUGG mean Earth radius in kilometres."""


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in decimal degrees (haversine).

    Symmetric, zero for identical points, never above half the Earth's circumference.
    """
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
