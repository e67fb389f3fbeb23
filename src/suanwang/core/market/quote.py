"""Quotes: what a task would cost where, before it is submitted, and why nothing fits if not.

A :class:`Quote` lists a task's :class:`Offer` s, cheapest first: for each site that can take
the task, the site's cheapest pool that passes every filter of the profile, with the money in
exact integer micros. When no site can take it, the quote says why, grouped by the filter that
rejected each site (:class:`NoOfferReason`), with the nearest miss where there is one: the
cheapest price over the budget, the lowest latency against the SLA, the most free units
against the demand.

The verdicts are the scheduler's own: :func:`quote` groups the tasks like the scheduler
(:class:`~suanwang.core.scheduling.groups.TaskGroups`), runs the profile's PreFilter and
Filter plugins over every pool (:meth:`~suanwang.core.scheduling.evaluate.Framework.evaluate`)
and reads the facts they judged. A site is judged as ``scheduling.explain.explain`` judges
it: feasible if any pool is, else rejected by the filter that rejected its most promising pool
(the one that got furthest through the filters, in order). Offers are ordered by total, then
site id; the score weights of the profile play no part (its filters and temporal-shift
weights do).

A quote reserves nothing: every task is judged alone against the same free capacity of the
snapshot, so two quoted tasks may both be offered the last free units of a pool.

Money. The scheduler's cost facts are float64; a quote recomputes the money in integers, the
way a lease bills it (:mod:`suanwang.core.market.money`, as ``contracts.lease_terms`` does):
the task's normalized units as integer milli-units (rounded once; a demand of half a device
is half the model's rating), its run time in whole seconds (at least one), and compute =
``milli-units x seconds x posted price / 3,600,000`` rounded half-even once
(:func:`~suanwang.core.market.money.rate_cumulative`). Egress is ``input GB x price per GB
along the input path`` as an exact decimal product (the GB read as the shortest decimal that
round-trips, i.e. what the file said) rounded half-even once; the price per GB is a sum of the
links' integer prices, read back from the facts' egress figure (``egress / GB``, rounded to the
integer it is). A lease splits egress per carrier and rounds each part, so its egress may differ
from the quote's by under one micro per carrier. The total is compute + egress. Prices are the
snapshot's posted prices (integer micros, as :meth:`Snapshot.build` reads them) in the currency
of the world's pool; like the scheduler, a quote compares numbers across currencies as they
stand.

Pure: no I/O and no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from suanwang.core.base import Frozen, Micros
from suanwang.core.errors import SuanwangError
from suanwang.core.market.money import MILLI, SECONDS_PER_HOUR, rate_cumulative, units_to_milli
from suanwang.core.scheduling.evaluate import Evaluation, Framework
from suanwang.core.scheduling.framework import Profile
from suanwang.core.scheduling.groups import TaskGroups
from suanwang.core.scheduling.scheduler import framework_for
from suanwang.core.scheduling.snapshot import CLASSES, Snapshot
from suanwang.core.sites import Pool
from suanwang.core.tasks import LatencyMode, TaskSpec
from suanwang.core.units import ComputeClass

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

DEFAULT_TOP = 5
"""Offers a quote keeps by default (the cheapest ones)."""

EXAMPLE_SITES = 3
"""Example sites each :class:`NoOfferReason` names."""

CHUNK_CELLS = 500_000
"""Task shapes x pools evaluated at once (bounds memory: about 30 arrays of this many cells)."""

_EXACT = Context(prec=200, rounding=ROUND_HALF_EVEN)
"""Decimal context for money products: wide enough that no product is ever rounded."""

_MICROS_PER_UNIT = Decimal(1_000_000)


# --- values ---------------------------------------------------------------------------------------
class Offer(Frozen):
    """One site's cheapest pool that can take the task, with what it would cost.

    ``units``: normalized units the task is billed for, to the milli-unit (a demand of 0.5
    devices counts half the model's rating); ``devices``: those units in devices of the
    offered pool's model. ``compute_micros`` = ``units x hours x price_per_unit_hour_micros``
    (hours to the second) and ``egress_micros`` = input GB x the path's price per GB, each
    rounded half-even once from the exact product (see the module docstring);
    ``total_micros`` = compute + egress exactly, all in ``currency`` (the pool's).
    ``start_h``: whole hours after the snapshot's start at which the task would start (a
    deferrable task may wait for a greener or cheaper hour); ``start`` the same as an ISO time.
    ``latency_ms`` is one-way from the task's origin. ``within_budget``: the task has no budget,
    or the total is at most the budget and in the budget's currency.
    """

    site: str
    country: str
    pool: str = Field(description="hardware model of the pool")
    compute_class: ComputeClass
    units: float = Field(ge=0.0)
    devices: float = Field(ge=0.0)
    hours: float = Field(gt=0.0)
    price_per_unit_hour_micros: Micros
    compute_micros: Micros
    egress_micros: Micros
    total_micros: Micros
    currency: str
    start_h: int = Field(ge=0)
    start: str
    latency_ms: float = Field(ge=0.0, description="one-way, from the task's origin")
    carbon_g: float = Field(ge=0.0)
    within_budget: bool

    @model_validator(mode="after")
    def _total_is_the_sum(self) -> Offer:
        if self.total_micros != self.compute_micros + self.egress_micros:
            raise ValueError("total_micros must be compute_micros + egress_micros")
        return self


class NoOfferReason(Frozen):
    """Sites rejected by one filter, for a task no site can take.

    ``sites`` counts them; ``examples`` names up to :data:`EXAMPLE_SITES` of them, nearest
    miss first where the filter has a measure (cheapest for ``budget``, lowest latency for
    ``latency-sla``, most free units for ``resource-fit``, earliest finish for ``deadline``,
    most bandwidth for ``transfer``), else by site id. ``message`` is one sentence a person can
    act on; ``nearest`` a short clause for the quote's summary (may be empty);
    ``example_reason`` the filter's own reason at the first example site.
    """

    filter: str
    sites: int = Field(ge=1)
    examples: tuple[str, ...]
    message: str
    nearest: str = ""
    example_reason: str = ""


class Quote(Frozen):
    """What ``task`` would cost where (``offers``, cheapest first) or why nothing fits.

    ``offers`` holds at most the ``top`` cheapest offers, one per site, ordered by
    ``total_micros`` then site id; ``best`` is the first (None when there is none).
    ``feasible_sites`` counts every site that could take the task (not only the kept ones).
    ``rejected_by`` counts the other sites per rejecting filter (as
    :func:`~suanwang.core.scheduling.explain.explain` does); ``no_offer`` explains them, one
    entry per filter, only when there is no offer at all, the filter furthest along the
    profile's order first (its sites came nearest: they passed every filter before it).
    ``summary`` is one line a person can read.
    ``start`` is the snapshot's start hour (ISO); ``budget_micros`` the task's budget in
    ``currency`` (the task's).
    """

    task: str
    tenant: str
    mode: str
    start: str
    budget_micros: Micros | None = None
    currency: str
    feasible_sites: int = Field(ge=0)
    offers: tuple[Offer, ...] = ()
    best: Offer | None = None
    rejected_by: dict[str, int] = Field(default_factory=dict)
    no_offer: tuple[NoOfferReason, ...] = ()
    summary: str

    @model_validator(mode="after")
    def _consistent(self) -> Quote:
        if self.best != (self.offers[0] if self.offers else None):
            raise ValueError("best must be the first offer (None when there is none)")
        if self.offers and self.no_offer:
            raise ValueError("a quote with offers carries no no-offer reasons")
        if len(self.offers) > self.feasible_sites:
            raise ValueError("more offers than feasible sites")
        return self

    @property
    def has_offer(self) -> bool:
        return self.best is not None


# --- the quote ------------------------------------------------------------------------------------
def quote(
    tasks: Sequence[TaskSpec],
    snap: Snapshot,
    profile: Profile | None = None,
    top: int = DEFAULT_TOP,
) -> list[Quote]:
    """One :class:`Quote` per task of ``tasks``, in the same order.

    Every task is judged alone against the snapshot's free capacity with ``profile``'s filters
    and temporal-shift weights (default: balanced); nothing is reserved, and the profile's
    score weights do not order the offers (price does). Identical task shapes are judged once.

    Raises:
        SuanwangError: ``top`` is below 1; two tasks share a name; a task names an unknown
            site or hardware model; the snapshot's pools do not match its world's.
    """
    if top < 1:
        raise SuanwangError(f"a quote keeps at least one offer, got top={top}")
    profile = profile or Profile.for_mode("balanced")
    shifted = framework_for(profile)
    # filters and the temporal-shift weights only: scores do not order offers, so none run
    fw = Framework(shifted.profile.model_copy(update={"weights": {}}), shifted.registry)
    groups = TaskGroups.of(tasks, snap)
    book = _Book.of(snap)
    start = snap.start_label(0)
    per_group: list[_GroupQuote] = []
    step = max(1, CHUNK_CELLS // max(1, snap.n_pools))
    for lo in range(0, groups.n, step):
        rows = np.arange(lo, min(groups.n, lo + step), dtype=np.int64)
        ev = fw.evaluate(groups, snap, rows)
        sites = _per_site(ev, book)
        per_group += [_judge(ev, book, sites, i, top) for i in range(len(rows))]
    out: list[Quote] = []
    for t, task in enumerate(tasks):
        gq = per_group[int(groups.group_of[t])]
        out.append(
            Quote(
                task=task.name,
                tenant=task.tenant,
                mode=profile.mode.value,
                start=start,
                budget_micros=task.budget_micros,
                currency=task.currency,
                feasible_sites=gq.feasible_sites,
                offers=gq.offers,
                best=gq.offers[0] if gq.offers else None,
                rejected_by=gq.rejected_by,
                no_offer=gq.reasons,
                summary=_summary(task.name, gq, len(book.site_ids)),
            )
        )
    return out


# --- internals ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Book:
    """Per-pool lookups a quote needs beyond the snapshot's arrays."""

    snap: Snapshot
    site_ids: tuple[str, ...]
    site_rank: I64
    site_pools: tuple[I64, ...]
    pools: tuple[Pool, ...]

    @classmethod
    def of(cls, snap: Snapshot) -> _Book:
        every = [pool for site in snap.world.sites for pool in site.pools]
        index = snap.global_pools()
        if len(index) and int(index.max()) >= len(every):
            raise SuanwangError("the snapshot has more pools than its world")
        pools = tuple(every[int(i)] for i in index)
        for p, pool in enumerate(pools):
            if pool.model != snap.pool_model[p]:
                raise SuanwangError(
                    f"snapshot pool {snap.pool_label(p)} does not match its world's "
                    f"({pool.model}): rebuild the snapshot from the world"
                )
        order = np.argsort(np.array(snap.site_ids, dtype=np.str_), kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return cls(
            snap=snap,
            site_ids=snap.site_ids,
            site_rank=rank,
            site_pools=tuple(snap.pools_of(s) for s in range(len(snap.site_ids))),
            pools=pools,
        )


@dataclass(frozen=True)
class _Sites:
    """Per (row, site) of one evaluated chunk: the cheapest feasible pool and its float cost
    (``-1`` / ``inf`` when none), and for sites without one the index of the filter that
    rejected their most promising pool, and that pool."""

    cost: F64
    pool: I64
    failed: I64
    failed_pool: I64
    memo: dict[int, B] = field(default_factory=dict)


@dataclass(frozen=True)
class _GroupQuote:
    feasible_sites: int
    offers: tuple[Offer, ...]
    rejected_by: dict[str, int]
    reasons: tuple[NoOfferReason, ...]


def _per_site(ev: Evaluation, book: _Book) -> _Sites:
    cost_all = np.where(ev.feasible, ev.facts.cost_micros, np.inf)
    r, n_sites = cost_all.shape[0], len(book.site_ids)
    cost = np.full((r, n_sites), np.inf)
    pool = np.full((r, n_sites), -1, dtype=np.int64)
    failed = np.full((r, n_sites), -1, dtype=np.int64)
    failed_pool = np.full((r, n_sites), -1, dtype=np.int64)
    at = np.arange(r)
    for s, ps in enumerate(book.site_pools):
        if len(ps) == 0:
            continue
        sub = cost_all[:, ps]
        j = np.argmin(sub, axis=1)  # first pool on equal cost: the world's pool order
        cost[:, s] = sub[at, j]
        pool[:, s] = np.where(np.isfinite(cost[:, s]), ps[j], -1)
        fb = ev.failed_by[:, ps].astype(np.int64)
        k = np.argmax(fb, axis=1)  # furthest through the filters, first pool on a tie
        none = ~np.isfinite(cost[:, s])
        failed[:, s] = np.where(none, fb[at, k], -1)
        failed_pool[:, s] = np.where(none, ps[k], -1)
    return _Sites(cost, pool, failed, failed_pool)


def _judge(ev: Evaluation, book: _Book, sites: _Sites, i: int, top: int) -> _GroupQuote:
    """The offers or the no-offer reasons of row ``i`` of ``ev``."""
    ok = np.flatnonzero(np.isfinite(sites.cost[i]))
    rejected: dict[str, int] = {}
    for f in sites.failed[i][sites.failed[i] >= 0].tolist():
        name = ev.filters[int(f)].name
        rejected[name] = rejected.get(name, 0) + 1
    rejected = dict(sorted(rejected.items()))
    if len(ok) == 0:
        return _GroupQuote(0, (), rejected, _reasons(ev, book, sites, i))
    # near-ties in float cost may reorder in exact micros: price every site within a micro
    # of the top-th cheapest, then order exactly
    by_cost = ok[np.lexsort((book.site_rank[ok], sites.cost[i, ok]))]
    bar = float(sites.cost[i, by_cost[min(top, len(by_cost)) - 1]]) + 2.0
    near = by_cost[sites.cost[i, by_cost] <= bar]
    offers = [_offer(ev, book, i, int(sites.pool[i, s])) for s in near.tolist()]
    offers.sort(key=lambda o: (o.total_micros, o.site, o.pool))
    return _GroupQuote(len(ok), tuple(offers[:top]), rejected, ())


# --- money ----------------------------------------------------------------------------------------
def _dec(x: float) -> Decimal:
    """``x`` as the shortest decimal that round-trips (what a task file said)."""
    return Decimal(repr(float(x)))


def _round(x: Decimal) -> int:
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_EVEN, context=_EXACT))


@dataclass(frozen=True)
class _Money:
    units_milli: int
    price: int
    per_gb: int
    compute: int
    egress: int

    @property
    def total(self) -> int:
        return self.compute + self.egress


def _money(ev: Evaluation, book: _Book, i: int, p: int) -> _Money:
    """Exact compute and egress micros of row ``i`` in pool ``p`` (see the module docstring)."""
    groups, snap = ev.ctx.groups, ev.ctx.snap
    g = int(ev.ctx.rows[i])
    task = groups.task(g)
    price = round(float(snap.pool_price[p]))
    units_milli = max(1, units_to_milli(float(groups.units[g])))
    seconds = max(1, round(task.duration_hours * SECONDS_PER_HOUR))
    compute = rate_cumulative(units_milli * seconds, price)
    gb = 0.0 if task.input is None else float(task.input.size_gb)
    egress_f = float(ev.facts.egress_micros[i, p])
    per_gb = round(egress_f / gb) if gb > 0 and np.isfinite(egress_f) else 0
    egress = _round(_EXACT.multiply(_dec(gb), Decimal(per_gb)))
    return _Money(units_milli, price, per_gb, compute, egress)


def _offer(ev: Evaluation, book: _Book, i: int, p: int) -> Offer:
    snap, f = book.snap, ev.facts
    g = int(ev.ctx.rows[i])
    task = ev.ctx.groups.task(g)
    pool = book.pools[p]
    m = _money(ev, book, i, p)
    units = m.units_milli / MILLI
    start_h = int(f.start_h[i, p])
    within = task.budget_micros is None or (
        pool.currency == task.currency and m.total <= task.budget_micros
    )
    return Offer(
        site=book.site_ids[int(snap.pool_site[p])],
        country=str(snap.site_country[int(snap.pool_site[p])]),
        pool=pool.model,
        compute_class=pool.compute_class,
        units=units,
        devices=round(units / float(snap.pool_rating[p]), 6),
        hours=float(task.duration_hours),
        price_per_unit_hour_micros=m.price,
        compute_micros=m.compute,
        egress_micros=m.egress,
        total_micros=m.total,
        currency=pool.currency,
        start_h=start_h,
        start=snap.start_label(start_h),
        latency_ms=round(float(f.origin_ms[i, p]), 3),
        carbon_g=round(float(f.carbon_g[i, p]), 3),
        within_budget=within,
    )


def money_text(micros: int, currency: str = "") -> str:
    """``micros`` in whole currency units: 2 decimals from one cent up (``12.40``), else as
    many as it takes (``0.0042``); exact (no float), rounded half-even. ``currency`` is
    appended when given."""
    value = Decimal(micros) / _MICROS_PER_UNIT
    if micros == 0 or abs(micros) >= 10_000:
        text = f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,}"
    else:
        text = f"{value.normalize():f}"
    return f"{text} {currency}" if currency else text


# --- no-offer reasons -----------------------------------------------------------------------------
def _reasons(ev: Evaluation, book: _Book, sites: _Sites, i: int) -> tuple[NoOfferReason, ...]:
    """Rejected sites grouped by filter, the nearest miss first: the filter furthest along
    the profile's order (a site it rejected passed every filter before it)."""
    failed = sites.failed[i]
    out: list[tuple[int, NoOfferReason]] = []
    for f in np.unique(failed[failed >= 0]).tolist():
        at = np.flatnonzero(failed == f)
        name = ev.filters[int(f)].name
        explain = _EXPLAINERS.get(name, _generic)
        reason = explain(ev, book, sites, i, int(f), at)
        out.append((int(f), reason))
    out.sort(key=lambda x: -x[0])
    return tuple(r for _, r in out)


def _only_by(ev: Evaluation, sites: _Sites, i: int, f: int) -> B | None:
    """Pools of row ``i`` that pass every filter but ``f`` (None when there is none).

    With ``f`` last (the budget, by default) these are the pools ``f`` rejected; otherwise the
    other filters are run once more on the chunk (memoised per filter in ``sites``).
    """
    if f == len(ev.filters) - 1:
        mask: B = ev.failed_by[i] == f
    else:
        if f not in sites.memo:
            ok = np.ones(ev.feasible.shape, dtype=np.bool_)
            for k, other in enumerate(ev.filters):
                if k != f:
                    ok &= other.filter(ev.state, ev.ctx)
            sites.memo[f] = ok
        mask = sites.memo[f][i]
    return mask if bool(mask.any()) else None


def _build(
    ev: Evaluation,
    book: _Book,
    i: int,
    f: int,
    ranked: list[tuple[int, int]],
    message: str,
    nearest: str = "",
) -> NoOfferReason:
    """A reason from ``ranked`` (site, pool) pairs, nearest miss first."""
    s0, p0 = ranked[0]
    return NoOfferReason(
        filter=ev.filters[f].name,
        sites=len(ranked),
        examples=tuple(book.site_ids[s] for s, _ in ranked[:EXAMPLE_SITES]),
        message=message,
        nearest=nearest,
        example_reason=f"{book.site_ids[s0]}/{book.snap.pool_model[p0]}: "
        f"{ev.filters[f].reason(ev.state, ev.ctx, i, p0)}",
    )


def _ranked(
    book: _Book, sites: _Sites, i: int, at: I64, key: F64 | None = None
) -> list[tuple[int, int]]:
    """Sites ``at`` with their most promising pool, by ``key`` (lower first) then site id."""
    rank = book.site_rank[at]
    order = np.lexsort((rank,) if key is None else (rank, key))
    return [(int(s), int(sites.failed_pool[i, s])) for s in at[order]]


def _best_pool_per_site(
    values: F64, eligible: npt.NDArray[np.bool_], book: _Book
) -> tuple[F64, I64]:
    """Per site, the lowest ``values`` among ``eligible`` pools and that pool (inf / -1)."""
    best = np.full(len(book.site_ids), np.inf)
    pool = np.full(len(book.site_ids), -1, dtype=np.int64)
    v = np.where(eligible, values, np.inf)
    for s, ps in enumerate(book.site_pools):
        if len(ps) == 0:
            continue
        j = int(np.argmin(v[ps]))
        if np.isfinite(v[ps[j]]):
            best[s], pool[s] = float(v[ps[j]]), int(ps[j])
    return best, pool


def _num(x: float) -> str:
    """A quantity for people: ``12,345`` from ten thousand up, else 4 significant digits."""
    return f"{x:,.0f}" if abs(x) >= 10_000 else f"{x:.4g}"


def _site_word(n: int) -> str:
    return f"{n} site" if n == 1 else f"{n} sites"


def _budget(ev: Evaluation, book: _Book, sites: _Sites, i: int, f: int, at: I64) -> NoOfferReason:
    task = ev.ctx.groups.task(int(ev.ctx.rows[i]))
    cost, pool = _best_pool_per_site(ev.facts.cost_micros[i], ev.failed_by[i] == f, book)
    ranked = [(s, int(pool[s])) for s, _ in _ranked(book, sites, i, at, cost[at])]
    only = _only_by(ev, sites, i, f)
    if only is not None:  # the true nearest miss: the cheapest pool only the budget rejects
        p0 = int(np.argmin(np.where(only, ev.facts.cost_micros[i], np.inf)))
        who = "the cheapest site that passes every other check"
    else:
        p0 = ranked[0][1]
        who = "the cheapest site that passes the checks before the budget"
    s0 = int(book.snap.pool_site[p0])
    if any(s == s0 for s, _ in ranked):  # the nearest miss first among the examples
        ranked = [(s0, p0), *((s, p) for s, p in ranked if s != s0)]
    m = _money(ev, book, i, p0)
    cur = book.pools[p0].currency
    budget = int(task.budget_micros or 0)
    price, limit = money_text(m.total, cur), money_text(budget, task.currency)
    if price == limit:  # too close to tell apart in cents
        price = f"{Decimal(m.total) / _MICROS_PER_UNIT:f} {cur}"
        limit = f"{Decimal(budget) / _MICROS_PER_UNIT:f} {task.currency}"
    parts = f"compute {money_text(m.compute)}"
    if m.egress:
        parts += f" + egress {money_text(m.egress)}"
    message = (
        f"{who}, {book.site_ids[s0]} ({book.snap.pool_model[p0]}), would cost {price} "
        f"({parts}), over the budget of {limit}"
    )
    more = len(ranked) - (1 if ranked[0][0] == s0 else 0)
    if more:
        message += f"; {more} more {'site is' if more == 1 else 'sites are'} over the budget"
    return _build(ev, book, i, f, ranked, message, f"cheapest {price} vs a budget of {limit}")


def _latency(ev: Evaluation, book: _Book, sites: _Sites, i: int, f: int, at: I64) -> NoOfferReason:
    g = int(ev.ctx.rows[i])
    task = ev.ctx.groups.task(g)
    ms, pool = _best_pool_per_site(ev.facts.origin_ms[i], ev.failed_by[i] == f, book)
    ranked = [(s, int(pool[s])) for s, _ in _ranked(book, sites, i, at, ms[at])]
    s0, _ = ranked[0]
    sla = task.latency_sla
    factor = 2.0 if bool(ev.ctx.groups.sla_rtt[g]) else 1.0
    mode = (sla.mode if sla is not None else LatencyMode.ONE_WAY).value
    limit = f"{sla.max_ms:g} ms {mode}" if sla is not None else "the SLA"
    got = f"{float(ms[s0]) * factor:.1f} ms {mode}"
    message = (
        f"the lowest latency from the origin to a site that passes the earlier checks is {got} "
        f"({book.site_ids[s0]}), over the SLA of {limit}"
    )
    return _build(ev, book, i, f, ranked, message, f"best latency {got} vs an SLA of {limit}")


def _deadline(ev: Evaluation, book: _Book, sites: _Sites, i: int, f: int, at: I64) -> NoOfferReason:
    g = int(ev.ctx.rows[i])
    fa = ev.facts
    end = fa.start_h[i] + fa.transfer_h[i] + float(ev.ctx.groups.duration_h[g])
    ends, pool = _best_pool_per_site(end.astype(np.float64), ev.failed_by[i] == f, book)
    ranked = [(s, int(pool[s])) for s, _ in _ranked(book, sites, i, at, ends[at])]
    s0, p0 = ranked[0]
    deadline = float(ev.ctx.groups.deadline_h[g])
    message = (
        f"the earliest finish is at {book.site_ids[s0]}: "
        f"{ev.filters[f].reason(ev.state, ev.ctx, i, p0)}"
    )
    nearest = f"earliest finish {float(ends[s0]):.2f} h vs a deadline {deadline:.2f} h from now"
    return _build(ev, book, i, f, ranked, message, nearest)


def _transfer(ev: Evaluation, book: _Book, sites: _Sites, i: int, f: int, at: I64) -> NoOfferReason:
    free = -np.nan_to_num(ev.facts.link_free_gbps[i], nan=0.0)
    most, pool = _best_pool_per_site(free, ev.failed_by[i] == f, book)
    ranked = [(s, int(pool[s])) for s, _ in _ranked(book, sites, i, at, most[at])]
    s0, p0 = ranked[0]
    task = ev.ctx.groups.task(int(ev.ctx.rows[i]))
    src = task.input.site if task.input is not None else "the input"
    message = (
        f"the input data at {src} cannot move fast enough to any of them; the best path, to "
        f"{book.site_ids[s0]}: {ev.filters[f].reason(ev.state, ev.ctx, i, p0)}"
    )
    nearest = f"at most {-float(most[s0]):.3g} Gbps free from {src}"
    return _build(ev, book, i, f, ranked, message, nearest)


def _sovereignty(
    ev: Evaluation, book: _Book, sites: _Sites, i: int, f: int, at: I64
) -> NoOfferReason:
    g = int(ev.ctx.rows[i])
    groups = ev.ctx.groups
    ranked = _ranked(book, sites, i, at)
    rule = groups.rules[int(groups.rule[g])]
    if rule is None:
        message = groups.rule_errors[int(groups.rule[g])]
        return _build(ev, book, i, f, ranked, message, "the rules allow no country")
    sov = groups.sovereignty[g]
    allowed = np.zeros(len(book.site_ids), dtype=np.bool_)
    for s, ps in enumerate(book.site_pools):
        allowed[s] = bool(len(ps)) and bool(ev.facts.allowed[i, ps[0]])
    rules = [r.describe(sov.origin, sov.data_class, sov.sector) for r in sov.applied]
    if sov.residency_tags:
        rules.append(f"residency {', '.join(sorted(sov.residency_tags))}")
    if sov.avoid:
        rules.append(f"never in or through {', '.join(sorted(sov.avoid))}")
    n_allowed = int(allowed.sum())
    short = "; ".join(rules) or "the data's rules"
    short += f"; {_site_word(n_allowed)} allowed" if n_allowed else "; no site allowed"
    if n_allowed == 0:
        where = (
            f" (the rules allow {', '.join(sorted(sov.allowed))})"
            if sov.allowed is not None and sov.allowed
            else ""
        )
        tail = f"no site of the world is allowed{where}"
    else:
        countries = sorted({str(book.snap.site_country[s]) for s in np.flatnonzero(allowed)})
        cut_off = int(np.sum(allowed[at]))
        fates: dict[str, int] = {}
        for s in np.flatnonzero(allowed & (sites.failed[i] >= 0)).tolist():
            if int(sites.failed[i, s]) != f:
                name = ev.filters[int(sites.failed[i, s])].name
                fates[name] = fates.get(name, 0) + 1
        tail = f"{_site_word(n_allowed)} are allowed ({', '.join(countries)})"
        pieces = []
        if cut_off:
            pieces.append(f"{cut_off} of them have no network path within the rules")
        if fates:
            pieces.append(
                "rejected by " + ", ".join(f"{k} ({v})" for k, v in sorted(fates.items()))
            )
        if pieces:
            tail += ": " + "; ".join(pieces)
    message = f"{sov.explain()}; {tail}"
    return _build(ev, book, i, f, ranked, message, short)


def _resource_fit(
    ev: Evaluation, book: _Book, sites: _Sites, i: int, f: int, at: I64
) -> NoOfferReason:
    g = int(ev.ctx.rows[i])
    groups, snap, fa = ev.ctx.groups, book.snap, ev.facts
    cls = CLASSES[int(groups.cls[g])].value
    model = groups.model[g]
    units = float(groups.units[g])
    memory = float(groups.memory_gb[g])
    c_ok, m_ok, mem_ok = fa.class_ok[i], fa.model_ok[i], fa.memory_ok[i]
    # how far each pool got through the filter's checks: class, model, memory, capacity
    stage = (
        c_ok.astype(np.int64)
        + (c_ok & m_ok).astype(np.int64)
        + (c_ok & m_ok & mem_ok).astype(np.int64)
    )
    rejected = ev.failed_by[i] == f
    free = np.maximum(ev.ctx.free, 0.0)
    # most promising pool per site: furthest stage, then most free units
    key = np.where(rejected, -(stage * 1e15 + np.minimum(free, 1e14)), np.inf)
    _, pool = _best_pool_per_site(key, rejected, book)
    site_stage = np.array([int(stage[pool[s]]) for s in at.tolist()], dtype=np.int64)
    site_free = np.array([float(free[pool[s]]) for s in at.tolist()])
    order = np.lexsort((book.site_rank[at], -site_free, -site_stage))
    ranked = [(int(at[j]), int(pool[at[j]])) for j in order]
    d = groups.task(g).demand
    want = f"{_num(units)} {cls} units"
    if d.model is not None:
        want = f"{_num(float(d.count or 0.0))} {d.model} ({want})"
    if memory > 0:
        want += f" with {memory:g} GB of device memory"
    pieces: list[str] = []
    nearest = ""
    n0, n1, n2, n3 = (int(np.sum(site_stage == k)) for k in range(4))
    if n0:
        pieces.append(f"{_site_word(n0)} sell no {cls} compute")
        nearest = f"none sells {cls} compute"
    if n1:
        pieces.append(f"{_site_word(n1)} have {cls} pools but none of {model}")
        nearest = f"none sells {model}"
    if n2:
        held = np.where(
            rejected & (stage == 2),
            units / snap.pool_rating * snap.pool_mem_per_device,
            -np.inf,
        )
        p = int(np.argmax(held))
        pieces.append(
            f"{_site_word(n2)} lack device memory (at most {float(held[p]):.3g} GB on "
            f"{units / float(snap.pool_rating[p]):.3g} {snap.pool_model[p]} device(s), "
            f"{snap.pool_label(p)})"
        )
        nearest = f"at most {float(held[p]):.3g} GB of device memory vs {memory:g} GB needed"
    if n3:
        most = np.where(rejected & (stage == 3), free, -np.inf)
        p = int(np.argmax(most))
        pieces.append(
            f"{_site_word(n3)} lack free capacity (at most {_num(float(most[p]))} units free, in "
            f"{snap.pool_label(p)})"
        )
        nearest = f"at most {_num(float(most[p]))} units free vs {_num(units)} needed"
    message = f"the task needs {want}: " + "; ".join(pieces)
    return _build(ev, book, i, f, ranked, message, nearest)


def _generic(ev: Evaluation, book: _Book, sites: _Sites, i: int, f: int, at: I64) -> NoOfferReason:
    ranked = _ranked(book, sites, i, at)
    s0, p0 = ranked[0]
    message = f"e.g. {book.site_ids[s0]}: {ev.filters[f].reason(ev.state, ev.ctx, i, p0)}"
    return _build(ev, book, i, f, ranked, message)


_EXPLAINERS = {
    "resource-fit": _resource_fit,
    "sovereignty": _sovereignty,
    "latency-sla": _latency,
    "transfer": _transfer,
    "deadline": _deadline,
    "budget": _budget,
}
"""Filter name -> the function that explains the sites it rejected (others: ``_generic``)."""


def _summary(name: str, gq: _GroupQuote, n_sites: int) -> str:
    if gq.offers:
        best = gq.offers[0]
        price = money_text(best.total_micros, best.currency)
        line = f"{name}: best {best.site} ({best.pool}) at {price}"
        if len(gq.offers) > 1:
            nxt = gq.offers[1]
            line += f", next {nxt.site} at {money_text(nxt.total_micros, nxt.currency)}"
        return f"{line}; {gq.feasible_sites} of {n_sites} sites can take it"
    if not gq.reasons:
        return f"No site can take {name}: the world has no sites"
    parts = []
    for k, r in enumerate(gq.reasons):
        head = f"{_site_word(r.sites)} rejected by" if k == 0 else f"{r.sites} by"
        parts.append(f"{head} {r.filter}" + (f" ({r.nearest})" if r.nearest else ""))
    return f"No site can take {name}: " + ", ".join(parts)
