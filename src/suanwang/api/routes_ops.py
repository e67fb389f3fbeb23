"""Operations routes (``/v1``): latency circles and the cost map, green and cheap energy
windows, placement explanations, lease statements, compute vouchers, and declaring sites
down or up.

Reads of public facts (the network, energy signals) need any valid token; a task's
explanation and a lease's statements are the tenant's own (another tenant's answers 404, as
if it did not exist; operators see all); vouchers are listed to their tenant and granted by
operators. State-changing calls go to the runtime through the service's inbox (the market
belongs to the runtime's thread) and are written to the audit log, allowed or refused.
"""

import math
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from suanwang.api.errors import ApiError
from suanwang.api.routes_market import Needs, per_world
from suanwang.api.tokens import Principal
from suanwang.control.service import ControlService
from suanwang.core.access import sees_everything
from suanwang.core.base import Identifier
from suanwang.core.energy.clock import epoch_hour, hour_start
from suanwang.core.energy.signals import builtin_book
from suanwang.core.energy.windows import WindowReport, find_windows
from suanwang.core.errors import SuanwangError, UnknownIdError
from suanwang.core.market.leases import Lease
from suanwang.core.market.metering import from_epoch_s
from suanwang.core.market.settlement import Market
from suanwang.core.market.vouchers import Voucher
from suanwang.core.network.circles import RingMember, circles
from suanwang.core.network.engine import Network
from suanwang.core.scheduling.explain import Explanation, explain, why_not
from suanwang.core.scheduling.framework import Mode, Profile
from suanwang.core.scheduling.snapshot import Snapshot
from suanwang.core.tasks import LatencyMode, TaskSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.units import ComputeClass
from suanwang.core.world import World

Record = Callable[..., None]
"""``record(request, who, action, target, outcome, detail=None)``: the audit log writer."""

MAX_RINGS = 10
MAX_RING_MS = 1000.0
MAX_COSTMAP_SITES = 100
MAX_COSTMAP_ROWS = 200
MAX_QUERY_CHARS = 1000
"""A longer query string may not fit the server's request line (16 kB once percent-encoded)."""
COSTMAP_DEFAULT_ROWS = 50
"""Rows of the cost map when no ``sites`` are named: 50 of the built-in world's 129 sites
against every site is about 115 kB of JSON (the whole map is about 290 kB)."""
MAX_VOUCHER_MICROS = 10**12


# --- responses -----------------------------------------------------------------------------
class RingOut(BaseModel):
    within_ms: float
    sites: list[RingMember] = Field(description="nearest first")


class CirclesOut(BaseModel):
    site: str = Field(description="the centre: a site or a network node")
    version: str = Field(description="the network state the rings were measured on")
    mode: LatencyMode
    rings: list[RingOut] = Field(description="innermost first; the centre itself excluded")


class CostMapOut(BaseModel):
    """Latency and transit price along the fastest path from each row site to each column
    site; ``null`` where a pair is unreachable. Round trip is twice one-way."""

    version: str
    rows: list[str]
    columns: list[str]
    one_way_ms: list[list[float | None]]
    price_per_gb_micros: list[list[float | None]]
    total_sites: int = Field(description="sites in the whole map")
    offset: int = Field(description="the first row's position among all sites (paging)")


class SiteWindows(WindowReport):
    """A site's grid zone's surplus windows and its greenest and cheapest blocks ahead."""

    site: str


class ExplainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: TaskSpec
    site: str | None = Field(
        default=None, max_length=80, description="also say why (not) this site"
    )
    mode: Mode = Mode.BALANCED


class ExplainOut(BaseModel):
    task: str = Field(description="the task's id (or, for a spec, its name)")
    hour: datetime = Field(description="the hour whose capacity and signals were judged")
    why_not: str | None = Field(default=None, description="one line about the site asked for")
    explanation: Explanation


class StatementView(BaseModel):
    seq: int
    period_start: datetime
    period_end: datetime
    seconds: int
    qty_cum: int
    due_cum_micros: int
    paid_cum_micros: int
    usage_micros: int
    correction_micros: int
    correction_seconds: int


class LeaseStatements(BaseModel):
    lease: str
    tenant: str
    currency: str
    statements: list[StatementView] = Field(description="oldest first; later ones supersede")


class VoucherView(BaseModel):
    id: str
    program: str
    issuer: str
    tenant: str
    currency: str
    grant_micros: int
    balance_micros: int
    share_bps: int = Field(description="the share of a lease's cost it may pay (10000 = all)")
    classes: list[ComputeClass] = Field(description="the classes it pays for; empty: all")
    issued_at: datetime
    expires_at: datetime
    expired: bool


class VoucherIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: Identifier
    amount_micros: int = Field(gt=0, le=MAX_VOUCHER_MICROS, description="in market currency")
    share_bps: int = Field(default=5000, gt=0, le=10_000)
    classes: list[ComputeClass] = Field(default_factory=list, max_length=len(ComputeClass))
    valid_days: int = Field(
        default=90, ge=1, le=3650, description="it expires this long after it is granted"
    )


class VoucherQueued(BaseModel):
    id: str = Field(description="the voucher's id once granted")
    tenant: str
    amount_micros: int
    detail: str = "granted on the runtime's next tick"


class SiteQueued(BaseModel):
    site: str
    accepted: bool = True
    detail: str


# --- helpers -------------------------------------------------------------------------------
def _ids(raw: str, field: str, limit: int) -> list[str]:
    out = list(dict.fromkeys(x.strip() for x in raw.split(",") if x.strip()))
    if not out:
        raise ApiError(422, "invalid", "name at least one id", field=field)
    if len(out) > limit:
        raise ApiError(422, "invalid", f"at most {limit} ids", field=field)
    return out


def _rings(raw: str) -> list[float]:
    parts = [x.strip() for x in raw.split(",") if x.strip()]
    if not 1 <= len(parts) <= MAX_RINGS:
        raise ApiError(422, "invalid", f"give 1 to {MAX_RINGS} ring radii in ms", field="rings")
    out: list[float] = []
    for p in parts:
        try:
            v = float(p)
        except ValueError:
            raise ApiError(422, "invalid", f"{p!r} is not a number", field="rings") from None
        if not (math.isfinite(v) and 0 < v <= MAX_RING_MS):
            raise ApiError(
                422, "invalid", f"a ring radius is in (0, {MAX_RING_MS:g}] ms", field="rings"
            )
        out.append(v)
    return sorted(set(out))


def _cells(m: Any) -> list[list[float | None]]:
    return [[round(float(x), 3) if math.isfinite(x) else None for x in row] for row in m.tolist()]


def _spec_of(service: ControlService, task: str) -> TaskSpec:
    """The task's spec as submitted: its row, or its inbox request while still waiting."""
    found = service.specs([task]).get(task)
    if found is None:
        raise UnknownIdError("task", task, [])
    return found


def ops_router(
    needs: Needs,
    world: Callable[[], World],
    market: Callable[[], Market | None],
    clock: Callable[[], datetime],
    service: ControlService,
    record: Record,
    network: Callable[[], Network] | None = None,
) -> APIRouter:
    """The routes; ``world`` gives the world as it is now, ``market`` the live market of the
    runtime in this process (None: money reads answer 503), ``record`` writes the audit log."""
    r = APIRouter(prefix="/v1")
    network = network or per_world(world, Network.from_world)
    book = per_world(world, builtin_book)
    snaps: dict[tuple[int, int], Snapshot] = {}

    def live_market() -> Market:
        m = market()
        if m is None:
            raise ApiError(503, "unavailable", "no runtime runs in this process")
        return m

    def snapshot() -> tuple[int, Snapshot]:
        w = world()
        key = (id(w), epoch_hour(clock()))
        snap = snaps.get(key)
        if snap is None:  # a new hour or a new world (another thread may race: harmless)
            snap = Snapshot.build(w, UNIT_TABLE, key[1])
            snaps.clear()
            snaps[key] = snap
        return key[1], snap

    def explained(name: str, spec: TaskSpec, site: str | None, mode: Mode) -> ExplainOut:
        hour, snap = snapshot()
        profile = Profile.for_mode(mode)
        line = None
        if site is not None:
            try:
                line = why_not(spec, site, snap, profile)
            except UnknownIdError as exc:
                raise ApiError(404, "not_found", str(exc), field="site") from None
        return ExplainOut(
            task=name,
            hour=hour_start(hour),
            why_not=line,
            explanation=explain(spec, snap, profile),
        )

    def visible_lease(who: Principal, lease: str) -> Lease:
        found = live_market().leases.get(lease)
        if found is None or not (sees_everything(who.role) or found.terms.tenant == who.principal):
            raise UnknownIdError("lease", lease, [])
        return found

    # --- network ---------------------------------------------------------------------------
    @r.get("/network/circles/{site}", tags=["network"])
    def latency_circles(
        site: str,
        who: Annotated[Principal, Depends(needs("world.read"))],
        rings: Annotated[
            str, Query(max_length=200, description="radii in ms, comma-separated")
        ] = "1,5,20",
        rtt: Annotated[bool, Query(description="rings of round-trip latency")] = False,
    ) -> CirclesOut:
        """The sites within each ring of latency around a site or network node (时延圈):
        one-way by default, round trip with ``rtt=true``."""
        radii = _rings(rings)
        try:
            c = circles(network(), site, radii)
        except UnknownIdError as exc:
            raise ApiError(404, "not_found", str(exc), field="site") from None
        mode = LatencyMode.ROUND_TRIP if rtt else LatencyMode.ONE_WAY
        return CirclesOut(
            site=c.site,
            version=c.version,
            mode=mode,
            rings=[
                RingOut(within_ms=x.within_ms, sites=list(x.sites))
                for x in c.rings
                if x.mode is mode
            ],
        )

    @r.get("/network/costmap", tags=["network"])
    def cost_map(
        who: Annotated[Principal, Depends(needs("world.read"))],
        sites: Annotated[
            str | None,
            Query(
                max_length=MAX_QUERY_CHARS,
                description=f"only these sites (comma-separated, at most {MAX_COSTMAP_SITES}), "
                "both ways",
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_COSTMAP_ROWS)] = COSTMAP_DEFAULT_ROWS,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> CostMapOut:
        """The network's cost map: one-way latency (ms) and transit price (micros per GB)
        along each pair's fastest path. With ``sites``, the square map of those sites; without,
        ``limit`` rows from ``offset`` (sites by id) against every site."""
        cm = network().cost_map()
        if sites is not None:
            names = _ids(sites, "sites", MAX_COSTMAP_SITES)
            try:
                idx = [cm.index(x) for x in names]
            except UnknownIdError as exc:
                raise ApiError(404, "not_found", str(exc), field="sites") from None
            rows, cols, offset = idx, idx, 0
        else:
            rows = list(range(len(cm.sites)))[offset : offset + limit]
            cols = list(range(len(cm.sites)))
        return CostMapOut(
            version=cm.version,
            rows=[cm.sites[i] for i in rows],
            columns=[cm.sites[j] for j in cols],
            one_way_ms=_cells(cm.one_way_ms[rows][:, cols]),
            price_per_gb_micros=_cells(cm.price_per_gb_micros[rows][:, cols]),
            total_sites=len(cm.sites),
            offset=offset,
        )

    # --- energy ----------------------------------------------------------------------------
    @r.get("/energy/windows", tags=["energy"])
    def energy_windows(
        site: str,
        who: Annotated[Principal, Depends(needs("world.read"))],
        hours: Annotated[int, Query(ge=1, le=168, description="how far ahead to look")] = 24,
        duration_h: Annotated[int, Query(ge=1, le=168, description="the block's length")] = 4,
        percentile: Annotated[float, Query(gt=0, lt=100)] = 20.0,
    ) -> SiteWindows:
        """Renewable-surplus windows of the site's grid zone from this hour on, and the
        greenest and cheapest blocks of ``duration_h`` hours (at most ``hours``)."""
        try:
            s = world().site(site)
        except UnknownIdError as exc:
            raise ApiError(404, "not_found", str(exc), field="site") from None
        report = find_windows(
            book(),
            s.grid_zone,
            epoch_hour(clock()),
            hours,
            percentile=percentile,
            block_hours=duration_h,
        )
        return SiteWindows(site=s.id, **dict(report))

    # --- explanations ----------------------------------------------------------------------
    @r.get("/tasks/{task}/explain", tags=["tasks"])
    def explain_task(
        task: str,
        who: Annotated[Principal, Depends(needs("tasks.read"))],
        site: Annotated[str | None, Query(max_length=80)] = None,
        mode: Mode = Mode.BALANCED,
    ) -> ExplainOut:
        """Where the task would go on the world's capacity this hour, the runner-up, and why
        every other site lost; with ``site``, one line on why (not) there. Judged alone on
        the full capacity, not on what other tasks hold now."""
        view = service.get(task)  # UnknownIdError -> 404
        if not sees_everything(who.role) and view.tenant != who.principal:
            raise UnknownIdError("task", task, [])
        return explained(task, _spec_of(service, task), site, mode)

    @r.post("/market/explain", tags=["market"])
    def explain_spec(
        body: ExplainIn, who: Annotated[Principal, Depends(needs("market.quote"))]
    ) -> ExplainOut:
        """As ``GET /v1/tasks/{task}/explain``, for a task not submitted."""
        return explained(body.task.name, body.task, body.site, body.mode)

    # --- leases and vouchers ---------------------------------------------------------------
    @r.get("/leases/{lease}/statements", tags=["market"])
    def statements(
        lease: str, who: Annotated[Principal, Depends(needs("market.read"))]
    ) -> LeaseStatements:
        """A lease's usage statements (another tenant's lease answers 404)."""
        found = visible_lease(who, lease)
        return LeaseStatements(
            lease=found.id,
            tenant=found.terms.tenant,
            currency=found.terms.currency,
            statements=[
                StatementView(
                    seq=st.seq,
                    period_start=from_epoch_s(st.period_start),
                    period_end=from_epoch_s(st.period_end),
                    seconds=st.seconds,
                    qty_cum=st.qty_cum,
                    due_cum_micros=st.due_cum_micros,
                    paid_cum_micros=st.paid_cum_micros,
                    usage_micros=st.usage_micros,
                    correction_micros=st.correction_micros,
                    correction_seconds=st.correction_seconds,
                )
                for st in list(found.statements)
            ],
        )

    def voucher_view(m: Market, v: Voucher, now: datetime) -> VoucherView:
        program = m.programs.get(v.program)
        return VoucherView(
            id=v.id,
            program=v.program,
            issuer=program.issuer if program is not None else "",
            tenant=v.tenant,
            currency=m.config.currency,
            grant_micros=v.grant_micros,
            balance_micros=m.ledger.balance(v.account),
            share_bps=v.share_bps,
            classes=list(v.classes),
            issued_at=v.issued_at,
            expires_at=v.expires_at,
            expired=v.expires_at <= now,
        )

    @r.get("/vouchers", tags=["market"])
    def vouchers(
        who: Annotated[Principal, Depends(needs("market.read"))],
        tenant: Annotated[str | None, Query(max_length=80)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[VoucherView]:
        """Vouchers, newest first, with what is left of each: a tenant's own, or every one
        (or one tenant's) for operators."""
        m = live_market()
        name = tenant if sees_everything(who.role) else who.principal
        now = clock()
        mine = [v for v in reversed(list(m.vouchers.values())) if name in (None, v.tenant)]
        return [voucher_view(m, v, now) for v in mine[:limit]]

    @r.get("/vouchers/{voucher}", tags=["market"])
    def voucher(
        voucher: str, who: Annotated[Principal, Depends(needs("market.read"))]
    ) -> VoucherView:
        """One voucher (another tenant's answers 404)."""
        m = live_market()
        found = m.vouchers.get(voucher)
        if found is None or not (sees_everything(who.role) or found.tenant == who.principal):
            raise UnknownIdError("voucher", voucher, [])
        return voucher_view(m, found, clock())

    @r.post("/vouchers", status_code=202, tags=["market"])
    def grant(
        request: Request,
        body: VoucherIn,
        who: Annotated[Principal, Depends(needs("vouchers.grant"))],
    ) -> VoucherQueued:
        """Grant a tenant a compute voucher (operators): credit in the market's currency that
        pays up to ``share_bps`` of each of its leases' cost, for ``valid_days``."""
        try:
            voucher = service.grant_voucher(
                body.tenant,
                body.amount_micros,
                share_bps=body.share_bps,
                classes=[c.value for c in body.classes],
                valid_days=body.valid_days,
                issuer=f"{who.role.value}:{who.principal}",
            )
        except SuanwangError as exc:
            record(request, who, "vouchers.grant", body.tenant, "rejected")
            raise ApiError(400, "bad_request", str(exc)) from None
        record(
            request,
            who,
            "vouchers.grant",
            voucher,
            "accepted",
            {"tenant": body.tenant, "amount_micros": body.amount_micros},
        )
        return VoucherQueued(id=voucher, tenant=body.tenant, amount_micros=body.amount_micros)

    # --- sites -----------------------------------------------------------------------------
    def site_request(request: Request, who: Principal, site: str, up: bool) -> SiteQueued:
        action = "sites.up" if up else "sites.down"
        try:
            world().site(site)
        except UnknownIdError as exc:
            record(request, who, action, site, "rejected")
            raise ApiError(404, "not_found", str(exc), field="site") from None
        (service.site_up if up else service.site_down)(site)
        record(request, who, action, site, "accepted")
        return SiteQueued(site=site, detail=f"site {'up' if up else 'down'} queued")

    @r.post("/sites/{site}/down", status_code=202, tags=["sites"])
    def site_down(
        request: Request, site: str, who: Annotated[Principal, Depends(needs("sites.down"))]
    ) -> SiteQueued:
        """Declare a site failed (operators): its running tasks move elsewhere and it takes
        no new work until it is declared up."""
        return site_request(request, who, site, up=False)

    @r.post("/sites/{site}/up", status_code=202, tags=["sites"])
    def site_up(
        request: Request, site: str, who: Annotated[Principal, Depends(needs("sites.down"))]
    ) -> SiteQueued:
        """Declare a failed site back (operators): it takes work again."""
        return site_request(request, who, site, up=True)

    return r
