"""The latency model: how long a bit takes to cross a link, and the physics floor under it.

Every figure here is **one-way** unless its name says ``rtt``. The model is symmetric, so a
round trip is exactly twice the one-way figure.

One-way latency of a path = ``endpoint_ms`` + the sum over its links of
``propagation + per_hop_ms (+ queueing)``, where propagation is

* fibre links (terrestrial, metro): great-circle km x route factor / ``fibre_km_per_ms``
  (or the stored route length when the link stores one);
* submarine links: the cable's route length between landings x ``submarine_route_factor``
  / ``fibre_km_per_ms``;
* satellite links: :class:`SatelliteModel` (a LEO bent pipe: fixed access/scheduling delay
  plus up- and down-link through vacuum plus the ground track).

No figure is ever below the physics floor: one-way >= great-circle km / ``FIBRE_KM_PER_MS``.
For fibre this holds by construction (route factors >= 1, cable routes >= great circle,
delays >= 0); for satellite links, whose vacuum path could beat fibre over very long hauls,
each link is clamped to its floor so that the guarantee stays unconditional.
"""

from __future__ import annotations

import math

from pydantic import Field

from suanwang.core.base import Frozen
from suanwang.core.network.model import LengthBasis, Link, LinkKind

FIBRE_KM_PER_MS = 204.0
"""Speed of light in silica fibre (group index ~1.468), km per millisecond."""

VACUUM_KM_PER_MS = 299.792458
"""Speed of light in vacuum, km per millisecond."""


def physics_floor_one_way_ms(great_circle_km: float) -> float:
    """The least possible one-way latency over ``great_circle_km`` (light in fibre)."""
    return great_circle_km / FIBRE_KM_PER_MS


def physics_floor_rtt_ms(great_circle_km: float) -> float:
    """The least possible round trip over ``great_circle_km``: twice the one-way floor."""
    return 2.0 * physics_floor_one_way_ms(great_circle_km)


class Latency(Frozen):
    """A latency that always states both one-way and round-trip figures, in milliseconds."""

    one_way_ms: float = Field(ge=0.0)
    rtt_ms: float = Field(ge=0.0)

    @classmethod
    def from_one_way(cls, one_way_ms: float) -> Latency:
        """A symmetric latency: the round trip is twice ``one_way_ms``."""
        return cls(one_way_ms=one_way_ms, rtt_ms=2.0 * one_way_ms)


class SatelliteModel(Frozen):
    """LEO bent-pipe satellite hop: ``access_ms`` + (2 x altitude + ground track) / c.

    ``access_ms`` covers uplink scheduling, gateway processing and the terrestrial tail to
    the point of presence. The defaults give ~19 ms one way for a short hop, in line with
    published LEO broadband measurements (median RTT 30-45 ms); they are not calibrated on
    the GCP matrix, which has no satellite paths.
    """

    altitude_km: float = Field(default=550.0, gt=0.0)
    access_ms: float = Field(default=15.0, ge=0.0)
    ground_track_factor: float = Field(default=1.1, ge=1.0)

    def one_way_ms(self, great_circle_km: float) -> float:
        """One-way latency of one satellite hop spanning ``great_circle_km`` on the ground."""
        vacuum_km = 2.0 * self.altitude_km + great_circle_km * self.ground_track_factor
        modelled = self.access_ms + vacuum_km / VACUUM_KM_PER_MS
        return max(modelled, physics_floor_one_way_ms(great_circle_km))


class LatencyModel(Frozen):
    """Constants of the latency model (see the module docstring for the formula).

    The defaults are the calibration on the measured GCP inter-region matrix
    (``scripts/calibrate_latency.py``; figures in ``docs/network.md``).
    """

    fibre_km_per_ms: float = Field(default=FIBRE_KM_PER_MS, gt=0.0, le=FIBRE_KM_PER_MS)
    terrestrial_route_factor: float = Field(default=1.45, ge=1.0, le=4.0)
    metro_route_factor: float = Field(default=1.45, ge=1.0, le=4.0)
    submarine_route_factor: float = Field(default=1.0, ge=1.0, le=2.0)
    per_hop_ms: float = Field(default=0.5, ge=0.0, le=20.0)
    endpoint_ms: float = Field(default=0.0, ge=0.0, le=50.0)
    queueing_ms_at_half_load: float = Field(
        default=0.0,
        ge=0.0,
        description="optional M/M/1-style queueing: delay q*u/(1-u) at utilisation u "
        "(so q at 50% load); 0 disables queueing",
    )
    satellite: SatelliteModel = SatelliteModel()

    def propagation_ms(self, kind: LinkKind, length_km: float, basis: LengthBasis) -> float:
        """One-way propagation over one link (no per-hop or queueing delay).

        ``length_km`` is the link's stored length and ``basis`` what it measures; a
        great-circle length gets the route factor of the link's kind.
        """
        if kind is LinkKind.SATELLITE:
            return self.satellite.one_way_ms(length_km)
        factor = self.route_factor(kind) if basis is LengthBasis.GREAT_CIRCLE else 1.0
        if kind is LinkKind.SUBMARINE and basis is LengthBasis.ROUTE:
            factor = self.submarine_route_factor
        return length_km * factor / self.fibre_km_per_ms

    def route_factor(self, kind: LinkKind) -> float:
        """Route length over great-circle length assumed for a link of ``kind``."""
        if kind is LinkKind.METRO:
            return self.metro_route_factor
        if kind is LinkKind.SUBMARINE:
            return self.submarine_route_factor
        return self.terrestrial_route_factor

    def link_one_way_ms(self, link: Link, utilisation: float = 0.0) -> float:
        """One-way latency across ``link``: propagation + per-hop delay + queueing."""
        return (
            self.propagation_ms(link.kind, link.length_km, link.length_basis)
            + self.per_hop_ms
            + self.queueing_ms(utilisation)
        )

    def queueing_ms(self, utilisation: float) -> float:
        """Queueing delay at ``utilisation`` in [0, 1] (capped at 99% load); 0 if disabled."""
        if self.queueing_ms_at_half_load <= 0.0 or utilisation <= 0.0:
            return 0.0
        u = min(utilisation, 0.99)
        return self.queueing_ms_at_half_load * u / (1.0 - u)

    def access_one_way_ms(self, great_circle_km: float) -> float:
        """One-way latency of a terrestrial access leg (e.g. a user to the nearest node)."""
        if great_circle_km <= 0.0 or math.isclose(great_circle_km, 0.0):
            return 0.0
        return great_circle_km * self.terrestrial_route_factor / self.fibre_km_per_ms


DEFAULT_LATENCY_MODEL = LatencyModel()
"""The calibrated default model."""
