"""Assemble a :class:`World` from validated facts (pure: no file or network access).

Rules, stated once here and in DATA.md:

* **Prices**: a pool's price per device-hour (USD) becomes integer micro-USD per normalized
  unit-hour: ``round(1e6 * usd / rating)``.
* **Submarine links**: one per cable segment, ``length_basis=route``. A segment with a published
  length keeps it (never below its great-circle distance). The others share what is left of
  the published system length in proportion to their great-circle distances, with the slack
  factor clamped to ``[route_slack_min, route_slack_max]`` (published totals include branches
  this table may not list). Shared-risk groups: ``cable:<id>`` plus the segment's corridors.
* **Backhaul**: each landing point joins the nearest site in its own country, or failing that
  the nearest site within ``backhaul_radius_km``; otherwise it is a transit-only node.
* **Backbones**: the compiled terrestrial backbones, ``length_basis=great_circle``.
* **Metro**: sites closer than ``metro_radius_km`` with no other link between them.
* **Satellite**: every site gets a LEO link to its nearest hub/region gateway in another city,
  so that no inhabited site is unreachable when its fibre is cut.
"""

from __future__ import annotations

from dataclasses import dataclass

from suanwang.core.countries import Country
from suanwang.core.geo import great_circle_km
from suanwang.core.network.model import CableSystem, LandingPoint, LengthBasis, Link, LinkKind
from suanwang.core.sites import Pool, Site, SiteKind
from suanwang.core.units import UnitTable
from suanwang.core.world import World
from suanwang.world.corridors import segment_corridors
from suanwang.world.facts import BackboneFact, BackbonesFile, CableFact, CablesFile, SitesFile


@dataclass(frozen=True, slots=True)
class LinkDefaults:
    """Assumed link parameters where the facts give none (documented in DATA.md)."""

    domestic_price_micros: int = 5_000
    cross_border_price_micros: int = 10_000
    submarine_price_micros: int = 20_000
    metro_price_micros: int = 1_000
    satellite_price_micros: int = 500_000
    hub_backbone_gbps: float = 1_600.0
    backbone_gbps: float = 400.0
    backhaul_gbps: float = 1_600.0
    metro_gbps: float = 1_000.0
    satellite_gbps: float = 2.0
    metro_radius_km: float = 80.0
    backhaul_radius_km: float = 800.0
    route_slack_min: float = 1.05
    route_slack_max: float = 1.6


def _pair_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _countries(*codes: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(codes))


def build_sites(facts: SitesFile, table: UnitTable) -> tuple[Site, ...]:
    """Sites with pool prices converted to micro-USD per normalized unit-hour."""
    sites = []
    for f in facts.site:
        pools = tuple(
            Pool(
                compute_class=p.compute_class,
                model=p.model,
                count=p.count,
                price_per_unit_hour_micros=round(
                    1e6 * p.price_usd_per_device_hour / table.model(p.model).rating(p.compute_class)
                ),
            )
            for p in f.pool
        )
        data = f.model_dump(exclude={"pool"})
        sites.append(Site(**data, pools=pools))
    return tuple(sorted(sites, key=lambda s: s.id))


def segment_lengths(
    cable: CableFact, where: dict[str, LandingPoint], d: LinkDefaults
) -> list[float]:
    """Route length of each segment of ``cable`` (see the module rules)."""
    gcs = [
        great_circle_km(where[s[0]].lat, where[s[0]].lon, where[s[1]].lat, where[s[1]].lon)
        for s in cable.segments
    ]
    given = [float(s[2]) if len(s) == 3 else None for s in cable.segments]
    left = cable.length_km - sum(g for g in given if g is not None)
    free_gc = sum(gc for gc, g in zip(gcs, given, strict=True) if g is None)
    slack = left / free_gc if free_gc > 0 else 1.0
    slack = min(max(slack, d.route_slack_min), d.route_slack_max)
    return [
        max(g, gc) if g is not None else max(gc * slack, 1.0)
        for gc, g in zip(gcs, given, strict=True)
    ]


def submarine_links(
    facts: CablesFile, d: LinkDefaults
) -> tuple[tuple[CableSystem, ...], tuple[LandingPoint, ...], list[Link]]:
    """Cable systems, landing points and one submarine link per cable segment."""
    landings = tuple(LandingPoint(**lp.model_dump()) for lp in facts.landing)
    where = {lp.id: lp for lp in landings}
    cables, links = [], []
    for cf in facts.cable:
        cables.append(CableSystem(**cf.model_dump(exclude={"segments"})))
        ends = [
            ((where[s[0]].lat, where[s[0]].lon), (where[s[1]].lat, where[s[1]].lon))
            for s in cf.segments
        ]
        corridors = segment_corridors(cf.corridors, ends)
        lengths = segment_lengths(cf, where, d)
        for i, (seg, km, corr) in enumerate(zip(cf.segments, lengths, corridors, strict=True), 1):
            a, b = where[seg[0]], where[seg[1]]
            links.append(
                Link(
                    id=f"{cf.id}-{i}",
                    a=a.id,
                    b=b.id,
                    kind=LinkKind.SUBMARINE,
                    length_km=round(km, 1),
                    length_basis=LengthBasis.ROUTE,
                    capacity_gbps=cf.capacity_tbps * 1000.0,
                    price_per_gb_micros=d.submarine_price_micros,
                    countries=_countries(a.country, b.country),
                    srlgs=(f"cable:{cf.id}", *(f"corridor:{c}" for c in corr)),
                    cable=cf.id,
                    name=f"{cf.name}: {a.name} - {b.name}",
                    source=cf.source,
                )
            )
    return (
        tuple(sorted(cables, key=lambda c: c.id)),
        tuple(sorted(landings, key=lambda x: x.id)),
        links,
    )


def _terrestrial(
    link_id: str,
    a: Site | LandingPoint,
    b: Site,
    gbps: float,
    d: LinkDefaults,
    name: str,
    via: tuple[str, ...] = (),
) -> Link:
    km = max(great_circle_km(a.lat, a.lon, b.lat, b.lon), 1.0)
    metro = km <= d.metro_radius_km
    countries = _countries(a.country, *via, b.country)
    price = d.domestic_price_micros if len(countries) == 1 else d.cross_border_price_micros
    return Link(
        id=link_id,
        a=a.id,
        b=b.id,
        kind=LinkKind.METRO if metro else LinkKind.TERRESTRIAL,
        length_km=round(km, 1),
        length_basis=LengthBasis.GREAT_CIRCLE,
        capacity_gbps=max(gbps, d.metro_gbps) if metro else gbps,
        price_per_gb_micros=d.metro_price_micros if metro else price,
        countries=countries,
        name=name,
    )


def backbone_links(facts: BackbonesFile, sites: dict[str, Site], d: LinkDefaults) -> list[Link]:
    """Terrestrial links from the compiled backbones (unknown site ids raise ``KeyError``)."""
    out = []
    for bb in facts.backbone:
        a, b = sites[bb.a], sites[bb.b]
        out.append(
            _terrestrial(
                f"bb-{bb.a}--{bb.b}",
                a,
                b,
                _backbone_gbps(bb, a, b, d),
                d,
                bb.name or f"{a.city} - {b.city} backbone",
                bb.via,
            )
        )
    return out


def _backbone_gbps(bb: BackboneFact, a: Site, b: Site, d: LinkDefaults) -> float:
    if bb.capacity_gbps is not None:
        return bb.capacity_gbps
    major = {SiteKind.HUB, SiteKind.REGION}
    return d.hub_backbone_gbps if a.kind in major and b.kind in major else d.backbone_gbps


def _nearest(point: Site | LandingPoint, candidates: list[Site]) -> tuple[Site, float] | None:
    return min(
        (
            (s, great_circle_km(point.lat, point.lon, s.lat, s.lon))
            for s in candidates
            if s.id != point.id
        ),
        key=lambda pair: pair[1],
        default=None,
    )


def backhaul_links(
    landings: tuple[LandingPoint, ...], sites: tuple[Site, ...], d: LinkDefaults
) -> list[Link]:
    """Join each landing point to a site (see the module rules)."""
    out = []
    for lp in landings:
        found = _nearest(lp, [s for s in sites if s.country == lp.country])
        if found is None:
            found = _nearest(lp, list(sites))
            if found is None or found[1] > d.backhaul_radius_km:
                continue
        site = found[0]
        out.append(
            _terrestrial(
                f"bh-{lp.id}--{site.id}",
                lp,
                site,
                d.backhaul_gbps,
                d,
                f"{lp.name} landing backhaul to {site.city}",
            )
        )
    return out


def metro_links(
    sites: tuple[Site, ...], linked: set[tuple[str, str]], d: LinkDefaults
) -> list[Link]:
    """Metro links between sites within ``metro_radius_km`` that have no link yet."""
    out = []
    for i, a in enumerate(sites):
        for b in sites[i + 1 :]:
            if _pair_key(a.id, b.id) in linked:
                continue
            if great_circle_km(a.lat, a.lon, b.lat, b.lon) <= d.metro_radius_km:
                out.append(
                    _terrestrial(f"metro-{a.id}--{b.id}", a, b, d.metro_gbps, d, f"{a.city} metro")
                )
    return out


def satellite_links(sites: tuple[Site, ...], d: LinkDefaults) -> list[Link]:
    """One LEO satellite link per site to its nearest hub/region gateway in another city."""
    gateways = [s for s in sites if s.kind in (SiteKind.HUB, SiteKind.REGION)]
    out = []
    for site in sites:
        others = [g for g in gateways if g.city != site.city]
        found = _nearest(site, others)
        if found is None:
            continue
        gw, km = found
        out.append(
            Link(
                id=f"sat-{site.id}",
                a=site.id,
                b=gw.id,
                kind=LinkKind.SATELLITE,
                length_km=round(max(km, 1.0), 1),
                length_basis=LengthBasis.GREAT_CIRCLE,
                capacity_gbps=d.satellite_gbps,
                price_per_gb_micros=d.satellite_price_micros,
                countries=_countries(site.country, gw.country),
                srlgs=("satellite:leo",),
                name=f"LEO satellite {site.city} - {gw.city}",
            )
        )
    return out


def assemble_world(
    *,
    version: str,
    sites: SitesFile,
    backbones: BackbonesFile,
    cables: CablesFile,
    countries: tuple[Country, ...],
    table: UnitTable,
    defaults: LinkDefaults | None = None,
) -> World:
    """Build the world from facts and check its integrity (raises ``WorldIntegrityError``)."""
    d = defaults or LinkDefaults()
    built_sites = build_sites(sites, table)
    by_id = {s.id: s for s in built_sites}
    cable_systems, landing_points, links = submarine_links(cables, d)
    links += backbone_links(backbones, by_id, d)
    links += backhaul_links(landing_points, built_sites, d)
    links += metro_links(built_sites, {_pair_key(x.a, x.b) for x in links}, d)
    links += satellite_links(built_sites, d)
    world = World(
        version=version,
        sites=built_sites,
        landing_points=landing_points,
        cables=cable_systems,
        links=tuple(links),
        countries=tuple(sorted(countries, key=lambda c: c.code)),
    )
    return world.check(table)
