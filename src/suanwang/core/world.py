"""The world: every site, landing point, link, cable and country, with integrity checks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

from pydantic import Field

from suanwang.core.base import Frozen
from suanwang.core.countries import Country
from suanwang.core.errors import SuanwangError, UnknownIdError
from suanwang.core.geo import great_circle_km
from suanwang.core.network.model import CableSystem, LandingPoint, Link, LinkKind
from suanwang.core.sites import Site
from suanwang.core.units import ComputeClass, UnitTable


class WorldIntegrityError(SuanwangError, ValueError):
    """The world's parts do not fit together; ``problems`` lists every violation."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n  - ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} integrity problem(s):\n  - {shown}{more}")


class _Located(Protocol):
    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


_T = TypeVar("_T", bound=_HasId)


def _find(kind: str, items: Iterable[_T], ident: str) -> _T:
    items = tuple(items)
    for item in items:
        if item.id == ident:
            return item
    raise UnknownIdError(kind, ident, (i.id for i in items))


def _duplicates(ids: Iterable[str]) -> list[str]:
    return sorted(i for i, n in Counter(ids).items() if n > 1)


class WorldSummary(Frozen):
    """Headline counts of a world (what `suanwang world summary` prints)."""

    version: str
    sites: int
    sites_by_kind: dict[str, int]
    site_countries: int
    landing_points: int
    submarine_cables: int
    links: int
    links_by_kind: dict[str, int]
    countries: int
    capacity: dict[ComputeClass, float] = Field(description="normalized units per class")
    unit_table_version: str


class World(Frozen):
    """An immutable snapshot of the grid's physical world.

    Construct freely; call :meth:`check` (or :meth:`problems`) to verify that the parts fit.
    """

    version: str = Field(min_length=1)
    sites: tuple[Site, ...]
    landing_points: tuple[LandingPoint, ...] = ()
    cables: tuple[CableSystem, ...] = ()
    links: tuple[Link, ...] = ()
    countries: tuple[Country, ...] = ()

    # --- lookups -------------------------------------------------------------------------
    def site(self, site_id: str) -> Site:
        """The site with ``site_id``; unknown ids raise :class:`UnknownIdError`."""
        return _find("site", self.sites, site_id)

    def cable(self, cable_id: str) -> CableSystem:
        """The cable system with ``cable_id``; unknown ids raise :class:`UnknownIdError`."""
        return _find("cable", self.cables, cable_id)

    def country(self, code: str) -> Country:
        """The country with ISO alpha-2 ``code`` (case-insensitive)."""
        wanted = code.upper()
        for c in self.countries:
            if c.code == wanted:
                return c
        raise UnknownIdError("country", code, (c.code for c in self.countries))

    def cable_links(self, cable_id: str) -> tuple[Link, ...]:
        """The submarine links (segments) of one cable system."""
        return tuple(link for link in self.links if link.cable == cable_id)

    def nodes(self) -> dict[str, _Located]:
        """Every network node (sites and landing points) by id."""
        out: dict[str, _Located] = {lp.id: lp for lp in self.landing_points}
        out.update({s.id: s for s in self.sites})
        return out

    # --- integrity -----------------------------------------------------------------------
    def problems(self, table: UnitTable) -> list[str]:
        """Every integrity violation, as human-readable lines (empty when the world is sound)."""
        return list(self._problems(table))

    def check(self, table: UnitTable) -> World:
        """Return ``self`` if sound, else raise :class:`WorldIntegrityError`."""
        found = self.problems(table)
        if found:
            raise WorldIntegrityError(found)
        return self

    def _problems(self, table: UnitTable) -> Iterator[str]:
        node_ids = [s.id for s in self.sites] + [lp.id for lp in self.landing_points]
        for kind, ids in (
            ("node", node_ids),
            ("link", [link.id for link in self.links]),
            ("cable", [c.id for c in self.cables]),
            ("country", [c.code for c in self.countries]),
        ):
            for dup in _duplicates(ids):
                yield f"duplicate {kind} id {dup!r}"
        yield from self._site_problems(table)
        yield from self._link_problems()
        cable_ids = {c.id for c in self.cables}
        landing_ids = {lp.id for lp in self.landing_points}
        for cable in self.cables:
            for lp in cable.landings:
                if lp not in landing_ids:
                    yield f"cable {cable.id}: unknown landing point {lp!r}"
            if not any(link.cable == cable.id for link in self.links):
                yield f"cable {cable.id}: has no segments"
        for link in self.links:
            if link.cable is not None and link.cable not in cable_ids:
                yield f"link {link.id}: unknown cable {link.cable!r}"

    def _site_problems(self, table: UnitTable) -> Iterator[str]:
        codes = {c.code for c in self.countries}
        for site in self.sites:
            if site.country not in codes:
                yield f"site {site.id}: country {site.country!r} is not in the country table"
            for pool in site.pools:
                try:
                    pool.capacity(table)
                except (LookupError, ValueError) as exc:
                    yield f"site {site.id}: pool {pool.model}/{pool.compute_class.value}: {exc}"
        for lp in self.landing_points:
            if lp.country not in codes:
                yield f"landing point {lp.id}: country {lp.country!r} is not in the country table"

    def _link_problems(self) -> Iterator[str]:
        nodes = self.nodes()
        codes = {c.code for c in self.countries}
        for link in self.links:
            missing = [end for end in (link.a, link.b) if end not in nodes]
            for end in missing:
                yield f"link {link.id}: unknown endpoint {end!r}"
            for cc in link.countries:
                if cc not in codes:
                    yield f"link {link.id}: country {cc!r} is not in the country table"
            if missing or link.kind is not LinkKind.SUBMARINE:
                continue
            a, b = nodes[link.a], nodes[link.b]
            floor = great_circle_km(a.lat, a.lon, b.lat, b.lon)
            if link.length_km < floor:
                yield (
                    f"link {link.id}: {link.length_km:.0f} km is shorter than the "
                    f"great-circle distance {floor:.0f} km between its landings"
                )

    # --- summary -------------------------------------------------------------------------
    def summary(self, table: UnitTable) -> WorldSummary:
        """Headline counts and total normalized capacity per class."""
        capacity = dict.fromkeys(ComputeClass, 0.0)
        for site in self.sites:
            for cls, qty in site.capacity(table).items():
                capacity[cls] += qty.amount
        return WorldSummary(
            version=self.version,
            sites=len(self.sites),
            sites_by_kind=dict(sorted(Counter(s.kind.value for s in self.sites).items())),
            site_countries=len({s.country for s in self.sites}),
            landing_points=len(self.landing_points),
            submarine_cables=len(self.cables),
            links=len(self.links),
            links_by_kind=dict(sorted(Counter(link.kind.value for link in self.links).items())),
            countries=len(self.countries),
            capacity={cls: round(v, 3) for cls, v in capacity.items()},
            unit_table_version=table.version,
        )
