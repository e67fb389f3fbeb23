"""What the dashboard draws (``/v1/map``): the network as it is now (sites with load, prices
and carbon; links and cables with latency, capacity and cuts), the digital-divide layer per
country, and the task table with cost and carbon so far. Any valid token reads the network
and countries; tasks are scoped like ``/v1/tasks`` (a tenant sees only its own).
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from suanwang.api.routes_market import network_with_cuts, per_world
from suanwang.api.tokens import Principal
from suanwang.control.service import ControlService
from suanwang.core.access import sees_everything
from suanwang.core.energy.accounting import TaskUsage, account_task
from suanwang.core.energy.clock import epoch_hour
from suanwang.core.energy.signals import builtin_book
from suanwang.core.engine import TaskState
from suanwang.core.errors import SuanwangError
from suanwang.core.market.settlement import Market
from suanwang.core.network.engine import Network
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.units import ComputeClass
from suanwang.core.world import World

Needs = Callable[[str], Callable[..., Principal]]

AFFORDABLE_QUANTILE = 0.5
"""A site is affordable when its cheapest general-compute price is at or below this quantile
of all sites' cheapest general prices (the median)."""


class PoolOut(BaseModel):
    compute_class: str
    model: str
    count: int
    online: int | None
    price_per_unit_hour_micros: int
    currency: str


class SiteOut(BaseModel):
    id: str
    name: str
    city: str
    country: str
    lat: float
    lon: float
    kind: str
    operator: str
    pue: float
    grid_zone: str
    pools: list[PoolOut]
    capacity_units: float
    used_units: float
    load: float = Field(description="share of the site's normalized units in use, 0..1")
    running: int
    down: bool
    carbon_g_per_kwh: float
    price_usd_per_mwh: float
    band: str


class LinkOut(BaseModel):
    id: str
    a: str
    b: str
    kind: str
    name: str
    cable: str | None
    corridors: list[str]
    one_way_ms: float
    capacity_gbps: float
    utilisation: float = Field(description="reserved bandwidth over capacity, 0..1")
    cut: bool
    coords: list[list[float]] = Field(description="[lon, lat] of its two ends")


class NodeOut(BaseModel):
    id: str
    name: str
    lat: float
    lon: float


class CableOut(BaseModel):
    id: str
    name: str
    corridors: list[str]


class CutOut(BaseModel):
    key: str
    links: list[str]
    srlgs: list[str]


class NetworkOut(BaseModel):
    version: str
    at: datetime
    sites: list[SiteOut]
    links: list[LinkOut]
    landing_points: list[NodeOut]
    cables: list[CableOut]
    corridors: list[str]
    cuts: list[CutOut]


class CountryOut(BaseModel):
    code: str
    name: str
    income_group: str
    internet_users_pct: float | None
    population: float | None
    best_ms: float | None = Field(description="one-way ms to the nearest affordable site")
    best_site: str | None


class TaskRowOut(BaseModel):
    id: str
    name: str
    tenant: str
    state: str
    site: str | None
    reason: str | None
    submitted_at: datetime | None
    cost_micros: int = Field(description="paid so far over all its leases")
    currency: str | None
    carbon_g: float = Field(description="operational carbon so far (billed hours)")
    energy_kwh: float


def _indicator(value: Any) -> float | None:
    if value is None:
        return None
    latest = getattr(value, "value", value)
    try:
        return float(latest)
    except (TypeError, ValueError):
        return None


def map_router(
    needs: Needs,
    world: Callable[[], World],
    market: Callable[[], Market | None],
    clock: Callable[[], datetime],
    service: ControlService,
    load: Callable[[], dict[str, Any]],
    statuses: Callable[[], dict[str, Any]],
    network: Callable[[], Network] | None = None,
) -> APIRouter:
    """The routes; ``load`` gives the runtime's last published load per site (empty when no
    runtime runs in this process)."""
    r = APIRouter(prefix="/v1/map", tags=["map"])
    book = per_world(world, builtin_book)
    divide: dict[tuple[int, tuple[str, ...]], list[CountryOut]] = {}
    live_network = network or network_with_cuts(world, service.cut_specs)

    def network_now() -> tuple[Network, list[Any]]:
        """The network now (cuts in force) and those cuts."""
        return live_network(), service.cut_specs()

    @r.get("/network")
    def network_map(who: Annotated[Principal, Depends(needs("world.read"))]) -> NetworkOut:
        """Sites (load, prices, carbon now), links (latency, capacity, cut) and cuts."""
        w = world()
        net, specs = network_now()
        now = clock()
        hour = epoch_hour(now)
        loads = load()
        down = set(service.sites_down())
        beats = statuses()
        signals = {}
        for zone in {s.grid_zone for s in w.sites}:
            sig = book().signals(zone, hour, 1)
            signals[zone] = (
                float(sig.intensity_g_per_kwh[0]),
                float(sig.price_usd_per_mwh[0]),
                sig.band_names()[0].value,
            )
        sites = []
        for s in w.sites:
            beat = beats.get(s.id)
            online = beat.online if beat is not None else None
            cap = float(sum(p.capacity(UNIT_TABLE).amount for p in s.pools))
            lv = loads.get(s.id)
            used = float(lv.used_units) if lv is not None else 0.0
            ci, price, band = signals[s.grid_zone]
            sites.append(
                SiteOut(
                    id=s.id,
                    name=s.name,
                    city=s.city,
                    country=s.country,
                    lat=s.lat,
                    lon=s.lon,
                    kind=s.kind.value,
                    operator=s.operator,
                    pue=s.pue,
                    grid_zone=s.grid_zone,
                    pools=[
                        PoolOut(
                            compute_class=p.compute_class.value,
                            model=p.model,
                            count=p.count,
                            online=online[i] if online is not None else None,
                            price_per_unit_hour_micros=p.price_per_unit_hour_micros,
                            currency=p.currency,
                        )
                        for i, p in enumerate(s.pools)
                    ],
                    capacity_units=round(cap, 3),
                    used_units=round(used, 3),
                    load=round(min(1.0, used / cap), 4) if cap > 0 else 0.0,
                    running=int(lv.running) if lv is not None else 0,
                    down=s.id in down,
                    carbon_g_per_kwh=round(ci, 1),
                    price_usd_per_mwh=round(price, 2),
                    band=band,
                )
            )
        g = net.graph
        up = net.link_up
        reserved = net.reserved_gbps()
        nodes = w.nodes()
        cables = {c.id: c for c in w.cables}
        links = []
        for i, link in enumerate(w.links):
            a, b = nodes[link.a], nodes[link.b]
            corridors = sorted(x.split(":", 1)[1] for x in link.srlgs if x.startswith("corridor:"))
            links.append(
                LinkOut(
                    id=link.id,
                    a=link.a,
                    b=link.b,
                    kind=link.kind.value,
                    name=link.name,
                    cable=link.cable,
                    corridors=corridors,
                    one_way_ms=round(float(g.link_ms[i]), 3),
                    capacity_gbps=link.capacity_gbps,
                    utilisation=round(float(min(1.0, reserved[i] / link.capacity_gbps)), 4),
                    cut=not bool(up[i]),
                    coords=[[a.lon, a.lat], [b.lon, b.lat]],
                )
            )
        corridors = sorted({c for link in links for c in link.corridors})
        return NetworkOut(
            version=net.version,
            at=now,
            sites=sites,
            links=links,
            landing_points=[
                NodeOut(id=lp.id, name=lp.name, lat=lp.lat, lon=lp.lon) for lp in w.landing_points
            ],
            cables=[
                CableOut(id=c.id, name=c.name, corridors=list(c.corridors)) for c in cables.values()
            ],
            corridors=corridors,
            cuts=[CutOut(key=s.key, links=sorted(s.links), srlgs=sorted(s.srlgs)) for s in specs],
        )

    @r.get("/countries")
    def countries(
        who: Annotated[Principal, Depends(needs("world.read"))],
    ) -> list[CountryOut]:
        """Per country: income group, internet use and the one-way latency from its label
        point to the nearest affordable site (cheapest general price at or below the median).
        """
        w = world()
        net, specs = network_now()
        key = (id(w), tuple(s.key for s in specs))
        if key in divide:
            return divide[key]
        cheapest = {
            s.id: min(
                (p.price_per_unit_hour_micros for p in s.pools if p.compute_class is GENERAL),
                default=None,
            )
            for s in w.sites
        }
        prices = [v for v in cheapest.values() if v is not None]
        limit = float(np.quantile(prices, AFFORDABLE_QUANTILE)) if prices else 0.0
        affordable = {sid for sid, v in cheapest.items() if v is not None and v <= limit}
        out = []
        for c in w.countries:
            best: tuple[float, str] | None = None
            if c.lat is not None and c.lon is not None:
                for x in net.latencies_from_point(c.lat, c.lon):
                    ms = x.one_way_ms
                    if x.site in affordable and ms is not None and (best is None or ms < best[0]):
                        best = (ms, x.site)
            out.append(
                CountryOut(
                    code=c.code,
                    name=c.name,
                    income_group=c.income_group.value,
                    internet_users_pct=_indicator(c.internet_users_pct),
                    population=_indicator(c.population),
                    best_ms=round(best[0], 2) if best else None,
                    best_site=best[1] if best else None,
                )
            )
        divide.clear()
        divide[key] = out
        return out

    @r.get("/tasks")
    def tasks(
        who: Annotated[Principal, Depends(needs("tasks.read"))],
        state: TaskState | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[TaskRowOut]:
        """Tasks, newest first, with cost and carbon so far (a tenant sees only its own)."""
        tenant = None if sees_everything(who.role) else who.principal
        rows = service.tasks(state=state, tenant=tenant, limit=limit, offset=0)
        m = market()
        w = world()
        sites = {s.id: s for s in w.sites}
        by_task: dict[str, list[Any]] = {}
        if m is not None:
            wanted = {t.id for t in rows}
            for lease in list(m.leases.values()):
                if lease.terms.task in wanted:
                    by_task.setdefault(lease.terms.task, []).append(lease)
        now = clock()
        specs = service.specs(t.id for t in rows if t.id in by_task)
        out = []
        for t in rows:
            leases = by_task.get(t.id, [])
            cost = sum(int(x.paid_cum_micros) for x in leases)
            carbon = energy = 0.0
            for x in leases:
                hours = x.seconds_cum / 3600.0
                site = sites.get(x.terms.site)
                spec = specs.get(t.id)
                if hours <= 0 or site is None or spec is None:
                    continue
                try:
                    acct = account_task(
                        TaskUsage(
                            id=t.id,
                            site=site.id,
                            start=now - timedelta(hours=hours),
                            duration_hours=hours,
                            demand=spec.demand,
                        ),
                        site,
                        book(),
                        UNIT_TABLE,
                    )
                except SuanwangError:  # no power model for the hardware: cost, no carbon
                    continue
                carbon += acct.gco2e_location
                energy += acct.kwh_total
            out.append(
                TaskRowOut(
                    id=t.id,
                    name=t.name,
                    tenant=t.tenant,
                    state=t.state,
                    site=t.site,
                    reason=t.reason,
                    submitted_at=t.submitted_at,
                    cost_micros=cost,
                    currency=leases[0].terms.currency if leases else None,
                    carbon_g=round(carbon, 2),
                    energy_kwh=round(energy, 4),
                )
            )
        return out

    return r


GENERAL = ComputeClass.GENERAL
