"""Topology values: landing points, submarine cable systems and links.

Network nodes are compute sites and cable landing points; a :class:`Link` joins two of them.
A submarine cable system is split into one submarine link per segment between landings.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from suanwang.core.base import ISO2, Frozen, Identifier, Latitude, Longitude, Micros


class LinkKind(StrEnum):
    """Physical medium of a link."""

    TERRESTRIAL = "terrestrial"
    SUBMARINE = "submarine"
    METRO = "metro"
    SATELLITE = "satellite"


class LengthBasis(StrEnum):
    """What ``Link.length_km`` measures.

    ``route``: the cable/fibre route length (published, or estimated along the route).
    ``great_circle``: the straight-line distance between endpoints; a latency model must apply
    its own route factor on top.
    """

    ROUTE = "route"
    GREAT_CIRCLE = "great_circle"


class CableStatus(StrEnum):
    IN_SERVICE = "in-service"
    UNDER_CONSTRUCTION = "under-construction"
    PLANNED = "planned"
    RETIRED = "retired"


class LandingPoint(Frozen):
    """A cable landing station (a network node without compute)."""

    id: Identifier
    name: str = Field(min_length=1)
    country: ISO2
    lat: Latitude
    lon: Longitude


class CableSystem(Frozen):
    """A submarine cable system as published by its owners."""

    id: Identifier
    name: str = Field(min_length=1)
    length_km: float = Field(gt=0.0, description="published total system length")
    capacity_tbps: float = Field(gt=0.0, description="published design capacity")
    rfs: int = Field(ge=1850, le=2100, description="ready-for-service year")
    status: CableStatus
    owners: tuple[str, ...] = ()
    corridors: tuple[Identifier, ...] = ()
    landings: tuple[Identifier, ...] = Field(min_length=2)
    source: str = Field(min_length=1)
    note: str = ""

    @property
    def srlg(self) -> str:
        """The shared-risk group id every segment of this cable belongs to."""
        return f"cable:{self.id}"


class Link(Frozen):
    """A bidirectional link between two network nodes (sites or landing points)."""

    id: Identifier
    a: Identifier
    b: Identifier
    kind: LinkKind
    length_km: float = Field(gt=0.0)
    length_basis: LengthBasis
    capacity_gbps: float = Field(gt=0.0)
    price_per_gb_micros: Micros
    countries: tuple[ISO2, ...] = Field(min_length=1, description="countries the link touches")
    srlgs: tuple[str, ...] = Field(default=(), description="shared-risk groups, e.g. cable:peace")
    cable: Identifier | None = Field(default=None, description="cable system of a submarine link")
    name: str = ""
    source: str = ""

    @model_validator(mode="after")
    def _shape(self) -> Link:
        if self.a == self.b:
            raise ValueError(f"link {self.id!r} joins {self.a!r} to itself")
        if (self.kind is LinkKind.SUBMARINE) != (self.cable is not None):
            raise ValueError("a link names a cable system if and only if it is submarine")
        return self
