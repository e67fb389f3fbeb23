"""Grow a world with generated sites in real cities, for scale tests and planning studies.

:func:`expand_world` keeps every site, landing point, cable and link of the given world and adds
generated sites until there are ``n_sites``. The rules, stated once here:

* **Where.** Cities come from the shipped Natural Earth table
  (:func:`suanwang.world.cities.load_cities`), only in countries of the world's country table.
  A city within 30 km of an existing site already hosts one and is passed over. Cities are
  taken greedily by ``population / (1 + sites already in the country)``, so the largest free
  city of each country comes first and countries that already have many sites give way to
  others. When every city has been used, further rounds place second (third, ...) campuses
  10-40 km from each city, in the same order.
* **Kind.** By city population: above 5 million a region (75 %), AI centre (15 %) or HPC
  centre (10 %); 1-5 million region 45 %, edge 40 %, AI 10 %, HPC 5 %; smaller edge 80 %,
  region 15 %, AI 3 %, HPC 2 %.
* **Pools** (1-3): edge: general + AI (70 %); region: general + AI + a second AI model (25 %);
  AI centre: AI + a second AI model (40 %) + general (60 %); HPC centre: HPC + a second HPC
  model (30 %) + general (50 %). Each pool copies the class and model of an existing pool at a
  site of a like kind, preferring the same country, then the same World Bank region, then
  anywhere (so Chinese sites get Ascend and Kunpeng, African edge sites T4s). Device counts
  are log-uniform in ranges per kind (e.g. 2-32 accelerators at an edge site, 4,000-60,000
  cores at a region). The price per normalized unit-hour is uniform between the lowest and
  highest price of that class and model in the world (+-5 % when only one pool has it).
* **PUE** uniform in 1.3-1.6 (edge), 1.2-1.5 (region) or 1.1-1.4 (AI, HPC), two decimals.
* **Grid zone**: the zone of the nearest existing site in the same country, else the country
  code. **Jurisdiction**: the most common tags of the existing sites of that country, else the
  country code plus its blocs (EU, EEA, GDPR for EEA members, ASEAN, GCC, AU for African
  Union members: Sub-Saharan Africa plus Algeria, Djibouti, Egypt, Libya, Morocco, Tunisia).
* **Links.** Each new site gets terrestrial links (metro when within 80 km, as in
  :mod:`suanwang.world.assemble`, with the same :class:`LinkDefaults`) to its 2 nearest nodes
  in the same country, topped up with the nearest nodes of any country when the country has
  fewer than 2. Candidate nodes are the sites and landing points of the world's largest fibre
  component plus the sites generated before, so every new site is reachable over fibre. Like
  every built-in site, each new site also gets one LEO satellite link to its nearest hub or
  region site in another city.

The result is checked (``World.check``); the same world, ``n_sites``, ``seed`` and cities give
the same world. Generated sites say so in ``operator``, ``source`` and ``note``.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from suanwang.core.countries import Country
from suanwang.core.geo import great_circle_km
from suanwang.core.network.graph import haversine_km
from suanwang.core.network.jurisdictions import ASEAN, EEA, EU, GCC
from suanwang.core.network.model import LandingPoint, LengthBasis, Link, LinkKind
from suanwang.core.sites import Pool, Site, SiteKind
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.units import ComputeClass, UnitTable
from suanwang.core.world import World
from suanwang.world.assemble import LinkDefaults
from suanwang.world.cities import City, load_cities

MAX_ID = 80
"""The core's identifier length limit."""

HOSTED_KM = 30.0
"""A city with a site closer than this already hosts one."""

LINKS_PER_SITE = 2
CAMPUS_KM = (10.0, 40.0)

AFRICAN_UNION_OUTSIDE_SSA = frozenset({"DZ", "DJ", "EG", "LY", "MA", "TN"})
"""African Union members the World Bank does not place in Sub-Saharan Africa."""

GATEWAY_KINDS = frozenset({SiteKind.HUB, SiteKind.REGION})
MAJOR_KINDS = GATEWAY_KINDS

KIND_BY_SIZE: tuple[tuple[int, tuple[tuple[SiteKind, float], ...]], ...] = (
    (
        5_000_000,
        ((SiteKind.REGION, 0.75), (SiteKind.AI, 0.15), (SiteKind.HPC, 0.10)),
    ),
    (
        1_000_000,
        (
            (SiteKind.REGION, 0.45),
            (SiteKind.EDGE, 0.40),
            (SiteKind.AI, 0.10),
            (SiteKind.HPC, 0.05),
        ),
    ),
    (
        0,
        (
            (SiteKind.EDGE, 0.80),
            (SiteKind.REGION, 0.15),
            (SiteKind.AI, 0.03),
            (SiteKind.HPC, 0.02),
        ),
    ),
)
"""Site kind by the city's population: the first row whose threshold it reaches."""

TEMPLATE_KINDS: dict[SiteKind, frozenset[SiteKind]] = {
    SiteKind.EDGE: frozenset({SiteKind.EDGE}),
    SiteKind.REGION: frozenset({SiteKind.REGION, SiteKind.HUB}),
    SiteKind.AI: frozenset({SiteKind.AI, SiteKind.HUB, SiteKind.REGION}),
    SiteKind.HPC: frozenset({SiteKind.HPC}),
    SiteKind.HUB: frozenset({SiteKind.HUB, SiteKind.REGION}),
}
"""Pools of a new site copy pools of existing sites of these kinds."""

PUE_RANGE: dict[SiteKind, tuple[float, float]] = {
    SiteKind.EDGE: (1.3, 1.6),
    SiteKind.REGION: (1.2, 1.5),
    SiteKind.HUB: (1.2, 1.5),
    SiteKind.AI: (1.1, 1.4),
    SiteKind.HPC: (1.1, 1.4),
}

CPU_CORES: dict[tuple[SiteKind, ComputeClass], tuple[float, float]] = {
    (SiteKind.EDGE, ComputeClass.GENERAL): (256, 4_000),
    (SiteKind.REGION, ComputeClass.GENERAL): (4_000, 60_000),
    (SiteKind.AI, ComputeClass.GENERAL): (8_000, 40_000),
    (SiteKind.HPC, ComputeClass.GENERAL): (8_000, 40_000),
    (SiteKind.HPC, ComputeClass.HPC): (20_000, 200_000),
}
"""Log-uniform range of CPU cores of a CPU pool, by site kind and pool class."""

ACCELERATORS: dict[SiteKind, tuple[float, float]] = {
    SiteKind.EDGE: (2, 32),
    SiteKind.REGION: (32, 1_024),
    SiteKind.AI: (512, 8_192),
    SiteKind.HPC: (1_024, 16_384),
}
"""Log-uniform range of accelerators of an accelerator pool, by site kind."""

TRAINING_RATING = 300.0
"""An AI centre's first pool is a model rated at least this (TFLOPS FP16) where one exists."""


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    out = "".join(ch if ch.isalnum() else "-" for ch in ascii_text.lower())
    return "-".join(part for part in out.split("-") if part)[:60].strip("-") or "city"


def _kind_for(population: int, rng: np.random.Generator) -> SiteKind:
    for threshold, table in KIND_BY_SIZE:
        if population >= threshold:
            kinds = [k for k, _ in table]
            p = np.array([w for _, w in table])
            return kinds[int(rng.choice(len(kinds), p=p / p.sum()))]
    raise AssertionError("unreachable")  # pragma: no cover


def _jurisdiction(code: str, country: Country | None, existing: Sequence[Site]) -> tuple[str, ...]:
    if existing:
        counts = Counter(s.jurisdiction for s in existing)
        return min(counts, key=lambda tags: (-counts[tags], tags))
    tags = [code]
    if code in EU:
        tags.append("EU")
    if code in EEA:
        tags += ["EEA", "GDPR"]
    if code in ASEAN:
        tags.append("ASEAN")
    if code in GCC:
        tags.append("GCC")
    region = country.region if country is not None else ""
    if region == "Sub-Saharan Africa" or code in AFRICAN_UNION_OUTSIDE_SSA:
        tags.append("AU")
    return tuple(tags)


def _fibre_component(world: World) -> set[str]:
    """Node ids of the connected component (non-satellite links) holding the most sites."""
    parent: dict[str, str] = {n: n for n in world.nodes()}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for link in world.links:
        if link.kind is not LinkKind.SATELLITE and link.a in parent and link.b in parent:
            parent[root(link.a)] = root(link.b)
    members: dict[str, set[str]] = {}
    for node in parent:
        members.setdefault(root(node), set()).add(node)
    site_ids = {s.id for s in world.sites}
    return max(members.values(), key=lambda m: (len(m & site_ids), len(m), min(m)))


@dataclass
class _Nodes:
    """Growable arrays of the nodes new sites may link to."""

    ids: list[str] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    country: list[str] = field(default_factory=list)
    major: list[bool] = field(default_factory=list)
    city: list[str] = field(default_factory=list)
    by_country: dict[str, list[int]] = field(default_factory=dict)

    def add(self, node: Site | LandingPoint) -> None:
        self.by_country.setdefault(node.country, []).append(len(self.ids))
        self.ids.append(node.id)
        self.lat.append(node.lat)
        self.lon.append(node.lon)
        self.country.append(node.country)
        self.major.append(isinstance(node, Site) and node.kind in MAJOR_KINDS)
        self.city.append(node.city if isinstance(node, Site) else node.name)

    def distances(
        self, lat: float, lon: float, idx: list[int] | None = None
    ) -> NDArray[np.float64]:
        la, lo = np.asarray(self.lat), np.asarray(self.lon)
        if idx is not None:
            la, lo = la[idx], lo[idx]
        return haversine_km(np.full(la.size, lat), np.full(la.size, lon), la, lo)

    def nearest(self, lat: float, lon: float, country: str, count: int) -> list[int]:
        """Up to ``count`` nearest in ``country``, topped up with the nearest of any country."""
        same = self.by_country.get(country, [])
        chosen: list[int] = []
        if same:
            d = self.distances(lat, lon, same)
            chosen = [same[int(i)] for i in np.argsort(d, kind="stable")[:count]]
        if len(chosen) < count and self.ids:
            d = self.distances(lat, lon)
            for i in np.argsort(d, kind="stable"):
                if len(chosen) >= count:
                    break
                if int(i) not in chosen:
                    chosen.append(int(i))
        return chosen


class _Expander:
    def __init__(self, world: World, seed: int, table: UnitTable, defaults: LinkDefaults) -> None:
        self.world, self.table, self.d = world, table, defaults
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.countries = {c.code: c for c in world.countries}
        self.sites_in: dict[str, list[Site]] = {}
        for s in world.sites:
            self.sites_in.setdefault(s.country, []).append(s)
        self.templates: list[tuple[Site, Pool]] = [(s, p) for s in world.sites for p in s.pools]
        ranges: dict[tuple[ComputeClass, str], list[int]] = {}
        for _, p in self.templates:
            ranges.setdefault((p.compute_class, p.model), []).append(p.price_per_unit_hour_micros)
        self.price_range = {k: (min(v), max(v)) for k, v in ranges.items()}
        component = _fibre_component(world)
        self.nodes = _Nodes()
        for lp in world.landing_points:
            if lp.id in component:
                self.nodes.add(lp)
        self.gateways = _Nodes()
        for s in world.sites:
            if s.id in component:
                self.nodes.add(s)
            if s.kind in GATEWAY_KINDS:
                self.gateways.add(s)
        self.used_ids = set(world.nodes()) | {link.id for link in world.links}

    # --- pools -------------------------------------------------------------------------------
    def _template(
        self, cls: ComputeClass, kind: SiteKind, code: str, exclude: set[str], min_ai: float = 0.0
    ) -> str | None:
        """A model for a pool of ``cls`` at a new site of ``kind`` in country ``code``."""
        of_class = [(s, p) for s, p in self.templates if p.compute_class is cls]
        of_class = [(s, p) for s, p in of_class if p.model not in exclude]
        if not of_class:
            return None
        like = [(s, p) for s, p in of_class if s.kind in TEMPLATE_KINDS[kind]] or of_class
        if min_ai:
            strong = [
                (s, p)
                for s, p in like
                if self.table.model(p.model).ratings.get(ComputeClass.AI, 0.0) >= min_ai
            ]
            like = strong or like
        region = self.countries[code].region if code in self.countries else ""
        home = [(s, p) for s, p in like if s.country == code]
        near = [
            (s, p)
            for s, p in like
            if region and s.country in self.countries and self.countries[s.country].region == region
        ]
        pool_of = home or near or like
        return pool_of[int(self.rng.integers(len(pool_of)))][1].model

    def _count(self, cls: ComputeClass, kind: SiteKind, model: str) -> int:
        cpu = self.table.model(model).device == "CPU core"
        if cpu:
            lo, hi = CPU_CORES.get((kind, cls), CPU_CORES[(SiteKind.REGION, ComputeClass.GENERAL)])
        else:
            lo, hi = ACCELERATORS.get(kind, ACCELERATORS[SiteKind.REGION])
        x = float(np.exp(self.rng.uniform(math.log(lo), math.log(hi))))
        if cpu:
            return max(64, round(x / 64) * 64)
        return max(1, round(x)) if x < 16 else round(x / 8) * 8

    def _price(self, cls: ComputeClass, model: str) -> int:
        lo, hi = self.price_range[(cls, model)]
        if lo == hi:
            return max(1, round(lo * self.rng.uniform(0.95, 1.05)))
        return max(1, round(self.rng.uniform(lo, hi)))

    def _pools(self, kind: SiteKind, code: str) -> tuple[Pool, ...]:
        AI, GEN, HPC = ComputeClass.AI, ComputeClass.GENERAL, ComputeClass.HPC  # noqa: N806
        wanted: list[tuple[ComputeClass, bool, float]] = []  # class, is a second pool, min AI
        if kind is SiteKind.EDGE:
            wanted = [(GEN, False, 0.0)] + ([(AI, False, 0.0)] if self.rng.random() < 0.7 else [])
        elif kind is SiteKind.AI:
            wanted = [(AI, False, TRAINING_RATING)]
            wanted += [(AI, True, TRAINING_RATING)] if self.rng.random() < 0.4 else []
            wanted += [(GEN, False, 0.0)] if self.rng.random() < 0.6 else []
        elif kind is SiteKind.HPC:
            wanted = [(HPC, False, 0.0)]
            wanted += [(HPC, True, 0.0)] if self.rng.random() < 0.3 else []
            wanted += [(GEN, False, 0.0)] if self.rng.random() < 0.5 else []
        else:
            wanted = [(GEN, False, 0.0), (AI, False, 0.0)]
            wanted += [(AI, True, 0.0)] if self.rng.random() < 0.25 else []
        pools: list[Pool] = []
        for cls, second, min_ai in wanted:
            taken = {p.model for p in pools if p.compute_class is cls}
            if second and not taken:
                continue
            model = self._template(cls, kind, code, taken, min_ai)
            if model is None:
                continue
            pools.append(
                Pool(
                    compute_class=cls,
                    model=model,
                    count=self._count(cls, kind, model),
                    price_per_unit_hour_micros=self._price(cls, model),
                )
            )
        return tuple(pools)

    # --- sites and links ---------------------------------------------------------------------
    def _unique(self, base: str) -> str:
        """``base`` (cut to 80 characters with a hash when longer), made unique with ``-2``..."""
        if len(base) > MAX_ID:
            digest = hashlib.blake2s(base.encode("utf-8"), digest_size=4).hexdigest()
            base = f"{base[: MAX_ID - 9].rstrip('-')}-{digest}"
        ident, k = base, 2
        while ident in self.used_ids:
            suffix = f"-{k}"
            ident, k = f"{base[: MAX_ID - len(suffix)].rstrip('-')}{suffix}", k + 1
        self.used_ids.add(ident)
        return ident

    def site(self, city: City, campus: int) -> Site | None:
        lat, lon = city.lat, city.lon
        if campus > 1:
            km = self.rng.uniform(*CAMPUS_KM)
            bearing = self.rng.uniform(0.0, 2 * math.pi)
            lat = min(max(lat + km / 111.2 * math.cos(bearing), -89.9), 89.9)
            lon += km / (111.2 * max(math.cos(math.radians(lat)), 0.01)) * math.sin(bearing)
            lon = (lon + 180.0) % 360.0 - 180.0
        kind = _kind_for(city.population, self.rng)
        pools = self._pools(kind, city.country)
        if not pools:
            return None
        lo, hi = PUE_RANGE[kind]
        existing = self.sites_in.get(city.country, [])
        zone = city.country
        if existing:
            zone = min(
                existing, key=lambda s: (great_circle_km(lat, lon, s.lat, s.lon), s.id)
            ).grid_zone
        suffix = f"-{campus}" if campus > 1 else ""
        return Site(
            id=self._unique(f"{city.country.lower()}-{_slug(city.name)}{suffix}"),
            name=f"{city.name} data centre{f' {campus}' if campus > 1 else ''} (generated)",
            city=city.name,
            country=city.country,
            lat=round(lat, 4),
            lon=round(lon, 4),
            kind=kind,
            operator="synthetic operator",
            pools=pools,
            pue=round(float(self.rng.uniform(lo, hi)), 2),
            grid_zone=zone,
            jurisdiction=_jurisdiction(city.country, self.countries.get(city.country), existing),
            source=f"generated by suanwang.world.expand.expand_world (seed {self.seed})",
            note="not a real facility: placed in a Natural Earth city; pools, prices and PUE "
            "drawn like the existing sites",
        )

    def links(self, site: Site) -> list[Link]:
        out: list[Link] = []
        d = self.d
        for i in self.nodes.nearest(site.lat, site.lon, site.country, LINKS_PER_SITE):
            other = self.nodes.ids[i]
            km = max(great_circle_km(site.lat, site.lon, self.nodes.lat[i], self.nodes.lon[i]), 1.0)
            metro = km <= d.metro_radius_km
            countries = tuple(dict.fromkeys((site.country, self.nodes.country[i])))
            if metro:
                kind, gbps, price = LinkKind.METRO, d.metro_gbps, d.metro_price_micros
            else:
                major = site.kind in MAJOR_KINDS and self.nodes.major[i]
                kind = LinkKind.TERRESTRIAL
                gbps = d.hub_backbone_gbps if major else d.backbone_gbps
                domestic = len(countries) == 1
                price = d.domestic_price_micros if domestic else d.cross_border_price_micros
            out.append(
                Link(
                    id=self._unique(f"xl-{site.id}--{other}"),
                    a=site.id,
                    b=other,
                    kind=kind,
                    length_km=round(km, 1),
                    length_basis=LengthBasis.GREAT_CIRCLE,
                    capacity_gbps=gbps,
                    price_per_gb_micros=price,
                    countries=countries,
                    name=f"{site.city} - {self.nodes.city[i]} (generated)",
                )
            )
        gateways = [i for i in range(len(self.gateways.ids)) if self.gateways.city[i] != site.city]
        if gateways:
            dist = self.gateways.distances(site.lat, site.lon, gateways)
            g = gateways[int(np.argmin(dist))]
            out.append(
                Link(
                    id=self._unique(f"sat-{site.id}"),
                    a=site.id,
                    b=self.gateways.ids[g],
                    kind=LinkKind.SATELLITE,
                    length_km=round(max(float(dist.min()), 1.0), 1),
                    length_basis=LengthBasis.GREAT_CIRCLE,
                    capacity_gbps=d.satellite_gbps,
                    price_per_gb_micros=d.satellite_price_micros,
                    countries=tuple(dict.fromkeys((site.country, self.gateways.country[g]))),
                    srlgs=("satellite:leo",),
                    name=f"LEO satellite {site.city} - {self.gateways.city[g]} (generated)",
                )
            )
        return out

    def adopt(self, site: Site) -> None:
        self.nodes.add(site)
        if site.kind in GATEWAY_KINDS:
            self.gateways.add(site)


def _order(cities: Sequence[City], hosted: set[int]) -> list[list[int]]:
    """Per country, the indices of its free cities, largest first."""
    queues: dict[str, list[int]] = {}
    for i, c in enumerate(cities):
        if i not in hosted:
            queues.setdefault(c.country, []).append(i)
    for q in queues.values():
        q.sort(key=lambda i: (-cities[i].population, cities[i].name, i))
    return [queues[cc] for cc in sorted(queues)]


def expand_world(
    world: World,
    n_sites: int,
    seed: int,
    *,
    cities: Sequence[City] | None = None,
    table: UnitTable = UNIT_TABLE,
    defaults: LinkDefaults | None = None,
) -> World:
    """``world`` plus generated sites, ``n_sites`` sites in all (see the module rules).

    ``cities`` defaults to the shipped table; only cities in countries of the world's country
    table are used. ``world`` itself is returned when it already has ``n_sites`` sites.

    Raises:
        ValueError: ``n_sites`` is below the world's site count, or no city can host a site.
        WorldIntegrityError: the result does not pass ``World.check`` (a bug).
    """
    if n_sites < len(world.sites):
        raise ValueError(
            f"n_sites={n_sites} is below the {len(world.sites)} sites the world already has"
        )
    wanted = n_sites - len(world.sites)
    if wanted == 0:
        return world
    codes = {c.code for c in world.countries}
    pool = [c for c in (load_cities() if cities is None else cities) if c.country in codes]
    if not pool:
        raise ValueError("no city lies in a country of the world's country table")
    ex = _Expander(world, seed, table, defaults or LinkDefaults())
    if world.sites:
        lat = np.array([s.lat for s in world.sites])
        lon = np.array([s.lon for s in world.sites])
        hosted = {
            i
            for i, c in enumerate(pool)
            if haversine_km(np.full(lat.size, c.lat), np.full(lat.size, c.lon), lat, lon).min()
            < HOSTED_KM
        }
    else:
        hosted = set()
    counts: Counter[str] = Counter(s.country for s in world.sites)
    new_sites: list[Site] = []
    new_links: list[Link] = []
    campus = 1
    while len(new_sites) < wanted:
        queues = _order(pool, hosted if campus == 1 else set())
        heap = [
            (-pool[q[0]].population / (1 + counts[pool[q[0]].country]), k, 0)
            for k, q in enumerate(queues)
            if q
        ]
        heapq.heapify(heap)
        placed_this_round = 0
        while heap and len(new_sites) < wanted:
            _, k, pos = heapq.heappop(heap)
            city = pool[queues[k][pos]]
            site = ex.site(city, campus)
            if site is not None:
                new_links += ex.links(site)
                ex.adopt(site)
                new_sites.append(site)
                counts[city.country] += 1
                placed_this_round += 1
            if pos + 1 < len(queues[k]):
                nxt = pool[queues[k][pos + 1]]
                heapq.heappush(heap, (-nxt.population / (1 + counts[nxt.country]), k, pos + 1))
        if placed_this_round == 0 and any(queues):
            raise ValueError("no site could be generated: the world has no pools to copy")
        campus += 1
    expanded = World(
        version=f"{world.version}+expanded-{n_sites}-seed-{seed}",
        sites=tuple(sorted((*world.sites, *new_sites), key=lambda s: s.id)),
        landing_points=world.landing_points,
        cables=world.cables,
        links=(*world.links, *new_links),
        countries=world.countries,
    )
    return expanded.check(table)
