"""Market, network and energy routes (``/v1``): quotes, leases and balances, paths, energy
signals. Reads of public facts need any valid token; money reads are scoped to the tenant
(operators see all)."""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from suanwang.api.errors import ApiError
from suanwang.api.tokens import Principal
from suanwang.core.access import Role, sees_everything
from suanwang.core.energy.clock import epoch_hour, hour_start
from suanwang.core.energy.signals import builtin_book
from suanwang.core.errors import SuanwangError, UnknownIdError
from suanwang.core.market.quote import Quote, quote
from suanwang.core.market.settlement import Market, tenant_account
from suanwang.core.network.engine import Network
from suanwang.core.network.failures import FailureSpec
from suanwang.core.scheduling.snapshot import Snapshot
from suanwang.core.tasks import TaskSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.world import World

Needs = Callable[[str], Callable[..., Principal]]
T = TypeVar("T")


def per_world(world: Callable[[], World], build: Callable[[World], T]) -> Callable[[], T]:
    """``build(world())``, rebuilt only when the world object changes (a provider registered
    or updated a site); safe to call from several threads (a race builds twice, harmlessly)."""
    last: list[tuple[World, T]] = []

    def get() -> T:
        w = world()
        if last and last[0][0] is w:
            return last[0][1]
        value = build(w)
        last[:] = [(w, value)]
        return value

    return get


def network_with_cuts(
    world: Callable[[], World], cuts: Callable[[], list[FailureSpec]]
) -> Callable[[], Network]:
    """The network of ``world()`` with the failures ``cuts()`` says are in force (an
    operator's cut, once the runtime took it), rebuilt only when either changes."""
    last: list[tuple[tuple[int, tuple[str, ...]], Network]] = []

    def get() -> Network:
        w, specs = world(), cuts()
        key = (id(w), tuple(s.key for s in specs))
        if last and last[0][0] == key:
            return last[0][1]
        net = Network.from_world(w)
        for spec in specs:
            net.fail(spec, report=False)
        last[:] = [(key, net)]
        return net

    return get


class Balance(BaseModel):
    tenant: str
    currency: str
    balance_micros: int
    available_micros: int = Field(description="balance less what live leases have committed")


class LeaseView(BaseModel):
    id: str
    task: str
    tenant: str
    site: str
    state: str
    close_reason: str | None
    price_micros_per_unit_hour: int
    units_milli: int
    currency: str
    funded_micros: int
    paid_micros: int
    refunded_micros: int
    credited_micros: int
    billed_seconds: int
    statements: int


class QuoteIn(BaseModel):
    tasks: list[TaskSpec] = Field(min_length=1, max_length=1000)
    top: int = Field(default=3, ge=1, le=20)


class PathOut(BaseModel):
    src: str
    dst: str
    nodes: list[str]
    one_way_ms: float
    rtt_ms: float
    countries: list[str]
    srlgs: list[str]
    price_per_gb_micros: float


def market_router(
    needs: Needs,
    world: Callable[[], World],
    market: Callable[[], Market | None],
    clock: Callable[[], datetime],
    network: Callable[[], Network] | None = None,
) -> APIRouter:
    """The routes; ``world`` gives the world as it is now (providers change it), ``market`` the
    live market of the runtime in this process (None: no runtime here, and money reads answer
    503)."""
    r = APIRouter(prefix="/v1")
    network = network or per_world(world, Network.from_world)
    book = per_world(world, builtin_book)
    snaps: dict[tuple[int, int], Snapshot] = {}

    def live_market() -> Market:
        m = market()
        if m is None:
            raise ApiError(503, "unavailable", "no runtime runs in this process")
        return m

    def view(lease: Any) -> LeaseView:
        t = lease.terms
        return LeaseView(
            id=t.id,
            task=t.task,
            tenant=t.tenant,
            site=t.site,
            state=lease.state.value,
            close_reason=lease.close_reason.value if lease.close_reason else None,
            price_micros_per_unit_hour=t.price_micros_per_unit_hour,
            units_milli=t.units_milli,
            currency=t.currency,
            funded_micros=lease.funded_micros,
            paid_micros=lease.paid_cum_micros,
            refunded_micros=lease.refunded_micros,
            credited_micros=lease.credited_micros,
            billed_seconds=lease.seconds_cum,
            statements=len(lease.statements),
        )

    @r.get("/balance", tags=["market"])
    def balance(
        who: Annotated[Principal, Depends(needs("market.read"))],
        tenant: str | None = None,
    ) -> Balance:
        """The calling tenant's balance (operators may name a tenant)."""
        name = tenant if (tenant and sees_everything(who.role)) else who.principal
        m = live_market()
        if name not in m.tenants:
            if who.role is Role.TENANT:
                return Balance(
                    tenant=name, currency=m.config.currency, balance_micros=0, available_micros=0
                )
            raise UnknownIdError("tenant", name, list(m.tenants))
        total = m.ledger.balance(tenant_account(name))
        return Balance(
            tenant=name,
            currency=m.config.currency,
            balance_micros=total,
            available_micros=total,
        )

    @r.get("/leases", tags=["market"])
    def leases(
        who: Annotated[Principal, Depends(needs("market.read"))],
        task: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[LeaseView]:
        """Leases, newest first: a tenant's own, or every one for operators."""
        m = live_market()
        out = [
            view(lease)
            for lease in reversed(list(m.leases.values()))
            if (sees_everything(who.role) or lease.terms.tenant == who.principal)
            and (task is None or lease.terms.task == task)
        ]
        return out[:limit]

    @r.get("/leases/{lease}", tags=["market"])
    def lease(lease: str, who: Annotated[Principal, Depends(needs("market.read"))]) -> LeaseView:
        """One lease (another tenant's answers 404)."""
        m = live_market()
        found = m.leases.get(lease)
        if found is None or not (sees_everything(who.role) or found.terms.tenant == who.principal):
            raise UnknownIdError("lease", lease, [])
        return view(found)

    @r.post("/market/quote", tags=["market"])
    def market_quote(
        body: QuoteIn, who: Annotated[Principal, Depends(needs("market.quote"))]
    ) -> list[Quote]:
        """What each task would cost where (cheapest offers first), or why nothing fits."""
        w = world()
        key = (id(w), epoch_hour(clock()))
        snap = snaps.get(key)
        if snap is None:  # another thread may clear the cache meanwhile: keep our own
            snap = Snapshot.build(w, UNIT_TABLE, key[1])
            snaps.clear()
            snaps[key] = snap
        return quote(body.tasks, snap, top=body.top)

    @r.get("/network/path", tags=["network"])
    def path(
        src: str, dst: str, who: Annotated[Principal, Depends(needs("world.read"))]
    ) -> PathOut:
        """The fastest path between two sites (or landing points), hop by hop."""
        try:
            p = network().path(src, dst)
        except UnknownIdError:
            raise
        except SuanwangError as exc:
            raise ApiError(404, "no_path", str(exc)) from None
        return PathOut(
            src=p.src,
            dst=p.dst,
            nodes=list(p.nodes),
            one_way_ms=p.one_way_ms,
            rtt_ms=p.rtt_ms,
            countries=list(p.countries),
            srlgs=list(p.srlgs),
            price_per_gb_micros=p.price_per_gb_micros,
        )

    @r.get("/energy/sites/{site}", tags=["energy"])
    def energy(
        site: str,
        who: Annotated[Principal, Depends(needs("world.read"))],
        hours: Annotated[int, Query(ge=1, le=168)] = 24,
    ) -> dict[str, Any]:
        """A site's PUE, grid zone, and carbon intensity and price now and for the next hours."""
        s = world().site(site)
        start = epoch_hour(clock())
        sig = book().signals(s.grid_zone, start, hours)
        return {
            "site": s.id,
            "zone": s.grid_zone,
            "pue": s.pue,
            "hours": [
                {
                    "start": hour_start(int(h)).isoformat(),
                    "intensity_g_per_kwh": round(float(ci), 2),
                    "price_usd_per_mwh": round(float(p), 2),
                    "band": b.value,
                }
                for h, ci, p, b in zip(
                    sig.hours,
                    sig.intensity_g_per_kwh,
                    sig.price_usd_per_mwh,
                    sig.band_names(),
                    strict=True,
                )
            ],
        }

    return r
