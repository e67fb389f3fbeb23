"""Providers joining the grid (算力并网): a site registered or changed through the API.

A provider describes a site (:class:`SiteRegistration`: where it is, its pools and prices,
its PUE and grid zone, and optionally which network nodes it connects to). :func:`join_site`
turns that into a :class:`Site` and its access links; :func:`apply_registrations` lays every
registered site over the base world and checks that the result is sound.

Rules:

* A new site connects by terrestrial (or metro) links to the nodes named in ``connect_to``;
  with none named, to the nearest site in its country, else the nearest site anywhere (one
  link), plus metro links to every site within the metro radius. Link lengths are great-circle
  distances (the latency model adds its route factor), prices and capacities the assembly
  defaults (``LinkDefaults``; ``access_gbps`` overrides the capacity).
* A site already in the base world keeps the base world's links; a registration replaces its
  description (pools, prices, PUE, ...), never its position in the network.
* A change may add pools and change a pool's count or price but never remove or reorder
  pools: running work refers to pools by index (:func:`pool_change_problems`).
* Every registered pool is priced in the world's currency (one market, one currency).

Contracts: pure (no I/O); the base world is never changed; the same registrations give the
same world.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from pydantic import Field, ValidationError, field_validator

from suanwang.core.base import ISO2, Frozen, Identifier, Latitude, Longitude
from suanwang.core.errors import SuanwangError
from suanwang.core.geo import great_circle_km
from suanwang.core.network.model import LandingPoint, Link
from suanwang.core.sites import Pool, Site, SiteKind
from suanwang.core.units import UnitTable
from suanwang.core.world import World
from suanwang.world.assemble import LinkDefaults, _terrestrial


class OnboardingError(SuanwangError, ValueError):
    """A registration that cannot join the grid; ``field`` names the offending field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SiteRegistration(Frozen):
    """What a provider says about a site (the body of ``PUT /v1/sites/{id}``)."""

    name: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    country: ISO2
    lat: Latitude
    lon: Longitude
    kind: SiteKind = SiteKind.REGION
    pools: tuple[Pool, ...] = Field(min_length=1, max_length=64)
    pue: float = Field(ge=1.0, le=3.0)
    pue_per_degree_c: float = Field(default=0.0, ge=0.0, le=0.1)
    green_share: float = Field(default=0.0, ge=0.0, le=1.0)
    grid_zone: str = Field(min_length=2, max_length=40, description="electricity grid zone key")
    jurisdiction: tuple[str, ...] = Field(
        default=(), max_length=16, description="legal tags, country first (default: the country)"
    )
    operator: str | None = Field(
        default=None, min_length=1, max_length=100, description="default: the provider"
    )
    connect_to: tuple[Identifier, ...] = Field(
        default=(), max_length=16, description="network nodes to link to (default: nearest)"
    )
    access_gbps: float | None = Field(default=None, gt=0.0, le=1_000_000.0)
    note: str = Field(default="", max_length=500)

    @field_validator("jurisdiction")
    @classmethod
    def _tags(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        if any(not t.strip() or len(t) > 40 for t in tags):
            raise ValueError("jurisdiction tags are non-empty strings of at most 40 characters")
        return tags


class Registered(Frozen):
    """A registration as stored: the site and the links it brings (none for a base site)."""

    site: Site
    links: tuple[Link, ...] = ()


def join_site(
    world: World,
    site_id: str,
    reg: SiteRegistration,
    provider: str,
    *,
    defaults: LinkDefaults | None = None,
) -> Registered:
    """The site ``reg`` describes, and its access links if it is new to ``world``.

    Raises:
        OnboardingError: an unknown ``connect_to`` node, a pool in another currency, or a
            change that removes or reorders an existing site's pools.
    """
    d = defaults or LinkDefaults()
    currency = world.sites[0].pools[0].currency if world.sites else "USD"
    for i, pool in enumerate(reg.pools):
        if pool.currency != currency:
            raise OnboardingError(
                f"pool {i} is priced in {pool.currency}; this grid settles in {currency}",
                f"pools.{i}.currency",
            )
    fields = {
        "id": site_id,
        "name": reg.name,
        "city": reg.city,
        "country": reg.country,
        "lat": reg.lat,
        "lon": reg.lon,
        "kind": reg.kind,
        "operator": reg.operator or provider,
        "pools": reg.pools,
        "pue": reg.pue,
        "pue_per_degree_c": reg.pue_per_degree_c,
        "green_share": reg.green_share,
        "grid_zone": reg.grid_zone,
        "jurisdiction": reg.jurisdiction or (reg.country,),
        "source": f"registered by {provider}",
        "note": reg.note,
    }
    try:
        site = Site.model_validate(fields)
    except ValidationError as exc:  # a rule of Site the registration's own schema let by
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        raise OnboardingError(str(first["msg"]).removeprefix("Value error, "), where) from None
    existing = {s.id: s for s in world.sites}
    if site_id in existing:
        problems = pool_change_problems(existing[site_id].pools, site.pools)
        if problems:
            raise OnboardingError(problems[0], "pools")
        return Registered(site=site)
    return Registered(site=site, links=tuple(_access_links(world, site, reg, d)))


def pool_change_problems(old: Sequence[Pool], new: Sequence[Pool]) -> list[str]:
    """Why ``new`` may not replace ``old`` (empty when it may): pools are appended, never
    removed or reordered, and each keeps its hardware model and class."""
    out = []
    if len(new) < len(old):
        out.append(f"a site's pools cannot be removed ({len(old)} pools, {len(new)} given)")
    for i, (a, b) in enumerate(zip(old, new, strict=False)):
        if (a.model, a.compute_class) != (b.model, b.compute_class):
            out.append(
                f"pool {i} is {a.model}/{a.compute_class.value}; it cannot become "
                f"{b.model}/{b.compute_class.value} (append a new pool instead)"
            )
    return out


def _access_links(
    world: World, site: Site, reg: SiteRegistration, d: LinkDefaults
) -> Iterable[Link]:
    gbps = reg.access_gbps or d.backbone_gbps
    nodes: dict[str, Site | LandingPoint] = {s.id: s for s in world.sites}
    nodes.update({lp.id: lp for lp in world.landing_points})
    targets: dict[str, Site | LandingPoint] = {}
    for i, wanted in enumerate(reg.connect_to):
        if wanted not in nodes:
            raise OnboardingError(f"unknown network node {wanted!r}", f"connect_to.{i}")
        targets[wanted] = nodes[wanted]
    if not targets:
        local = [s for s in world.sites if s.country == site.country] or list(world.sites)
        if local:
            near = min(local, key=lambda s: great_circle_km(site.lat, site.lon, s.lat, s.lon))
            targets[near.id] = near
        for s in world.sites:
            if great_circle_km(site.lat, site.lon, s.lat, s.lon) <= d.metro_radius_km:
                targets.setdefault(s.id, s)
    for node_id, end in targets.items():
        link_id = f"access-{site.id}--{node_id}"
        if len(link_id) > 80:  # ids are at most 80 characters: keep a readable, unique prefix
            digest = hashlib.sha256(link_id.encode()).hexdigest()[:12]
            link_id = f"{link_id[:67].rstrip('-')}-{digest}"
        yield _terrestrial(
            link_id,
            end,
            site,
            gbps,
            d,
            f"{site.city} access to {end.city if isinstance(end, Site) else end.name}",
        )


def apply_registrations(base: World, registered: Iterable[Registered], table: UnitTable) -> World:
    """``base`` with every registered site laid over it (replacing a base site's description,
    or added with its links), checked.

    Raises:
        suanwang.core.world.WorldIntegrityError: the result is not sound (e.g. a country not
            in the country table).
    """
    regs = list(registered)
    if not regs:
        return base
    by_id = {r.site.id: r for r in regs}
    sites = [by_id.pop(s.id).site if s.id in by_id else s for s in base.sites]
    links = list(base.links)
    for r in by_id.values():
        sites.append(r.site)
        links.extend(r.links)
    world = base.model_copy(update={"sites": tuple(sites), "links": tuple(links)})
    return world.check(table)
