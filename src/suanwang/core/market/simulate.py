"""The market end to end on a generated workload: match, lease, meter, settle, dispute, release.

:func:`simulate` is seeded and pure. It generates tasks (:mod:`...scheduling.workload`),
places them with the converged scheduler, opens a lease per placement, and then plays the
lease's life through a time-ordered queue with the faults real markets see: workloads that
never start, outages longer than the grace period, duplicated and late usage events, tenants
who run out of money (their leases pause, and most top up), disputes, budget caps, vouchers
that expire. Every money movement goes through :class:`~.settlement.Market`, so the ledger it
leaves must pass :func:`~.verify.verify`; the report counts what happened.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from pydantic import AwareDatetime, Field

from suanwang.core.base import Frozen
from suanwang.core.countries import Country
from suanwang.core.energy.clock import epoch_hour
from suanwang.core.errors import SuanwangError
from suanwang.core.market.contracts import lease_terms
from suanwang.core.market.errors import MarketError
from suanwang.core.market.leases import CloseReason, LeaseState
from suanwang.core.market.ledger import TxnKind
from suanwang.core.market.metering import UsageEvent, UsageKind, event_id, from_epoch_s
from suanwang.core.market.settlement import (
    DisputeReason,
    Market,
    MarketConfig,
)
from suanwang.core.market.vouchers import TenantProfile, VoucherProgram, eligibility
from suanwang.core.network.paths import Hop
from suanwang.core.scheduling.scheduler import schedule
from suanwang.core.scheduling.snapshot import Snapshot
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.tasks import TaskSpec
from suanwang.core.units import UnitTable
from suanwang.core.world import World


class SimConfig(Frozen):
    """Knobs of a market simulation (the defaults are a plausible mix of trouble)."""

    tasks: int = Field(default=300, ge=0)
    seed: int = 0
    start: AwareDatetime = datetime.fromisoformat("2026-07-01T00:00:00+00:00")
    heartbeat_s: int = Field(default=300, gt=0)
    grace_s: int = Field(default=900, gt=0)
    max_hours: float = Field(default=8.0, gt=0.0, description="runs are capped to this")
    settle_every_s: int = Field(default=3600, gt=0)
    prepay_hours: float = Field(default=1.0, gt=0.0, description="escrow funded up front")
    p_no_start: float = Field(default=0.03, ge=0.0, le=1.0)
    p_outage: float = Field(default=0.15, ge=0.0, le=1.0)
    p_unstable: float = Field(default=0.03, ge=0.0, le=1.0)
    p_duplicate: float = Field(default=0.05, ge=0.0, le=1.0)
    p_late: float = Field(default=0.03, ge=0.0, le=1.0)
    p_short_funds: float = Field(default=0.15, ge=0.0, le=1.0)
    p_top_up: float = Field(default=0.7, ge=0.0, le=1.0)
    p_budget_cap: float = Field(default=0.1, ge=0.0, le=1.0)
    p_dispute: float = Field(default=0.05, ge=0.0, le=1.0)
    sme_share: float = Field(default=0.2, ge=0.0, le=1.0)
    voucher_days: int = Field(default=1, gt=0)
    voucher_grant_micros: int = Field(default=500_000_000, gt=0)
    platform_fee_bps: int = Field(default=500, ge=0, le=10_000)
    dispute_window_s: int = Field(default=86_400, ge=0)


class SimReport(Frozen):
    """What happened (counts and money totals in micro-units of ``currency``)."""

    currency: str
    tasks: int
    placed: int
    leases: int
    unfunded: dict[str, int]
    failed_start: int
    closed: dict[str, int]
    paused: int
    resumed: int
    still_paused_at_close: int
    events_sent: int
    events_duplicate: int
    events_late: int
    corrections: int
    statements: int
    disputes: int
    vouchers: int
    paid_micros: int
    refunded_micros: int
    credited_micros: int
    platform_micros: int
    provider_micros: int
    carrier_micros: int
    voucher_paid_micros: int
    ledger_txns: int


@dataclass(order=True)
class _Action:
    at: int
    seq: int
    run: Callable[[], None] = field(compare=False)


@dataclass
class SimResult:
    """The market after the run (its ledger holds every transaction) and the report."""

    market: Market
    report: SimReport


def simulate(
    world: World,
    table: UnitTable,
    config: SimConfig | None = None,
    *,
    snap: Snapshot | None = None,
    tasks: list[TaskSpec] | None = None,
) -> SimResult:
    """Run the market over a generated (or given) workload; see the module docstring.

    Raises:
        SuanwangError: the world cannot be read into a snapshot.
    """
    cfg = config or SimConfig()
    rng = np.random.default_rng(cfg.seed)
    start_s = int(cfg.start.timestamp())
    if tasks is None:
        tasks = generate_tasks(world, cfg.tasks, rng, start=cfg.start)
    tasks = [
        t.model_copy(update={"duration_hours": min(t.duration_hours, cfg.max_hours)}) for t in tasks
    ]
    snap = snap or Snapshot.build(world, table, epoch_hour(cfg.start))
    plan = schedule(tasks, snap, seed=cfg.seed)
    currency = world.sites[0].pools[0].currency
    market = Market(MarketConfig(currency=currency, dispute_window_s=cfg.dispute_window_s))
    countries: dict[str, Country] = {c.code: c for c in world.countries}
    sites = {s.id: s for s in world.sites}
    counts: Counter[str] = Counter()
    unfunded: Counter[str] = Counter()
    queue: list[_Action] = []
    queue_now = [start_s]
    seq = 0

    def at(t: int, run: Callable[[], None]) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(queue, _Action(t, seq, run))

    # --- tenants, money, vouchers ---------------------------------------------------------------
    placements = [plan.placement(int(t)) for t in plan.placed]
    by_name = {t.name: t for t in tasks}
    terms_of = {}
    for i, p in enumerate(placements):
        task = by_name[p["task"]]
        site = sites[p["site"]]
        s = snap.site_index(site.id)
        pool_idx = next(
            k
            for k, g in enumerate(snap.pools_of(s))
            if snap.pool_model[int(g)] == p["pool"] and site.pools[k].model == p["pool"]
        )
        hops: tuple[Hop, ...] = ()
        if task.input is not None and task.input.site != site.id:
            try:
                hops = snap.network.path(task.input.site, site.id).hops
            except SuanwangError:
                hops = ()
        created = start_s + 3600 * int(p["deferred_h"]) + int(rng.integers(0, 1800))
        terms_of[p["task"]] = lease_terms(
            f"l{i + 1:06d}",
            task,
            site,
            site.pools[pool_idx],
            table,
            from_epoch_s(created),
            hops=hops,
            platform_fee_bps=cfg.platform_fee_bps,
            grace_s=cfg.grace_s,
            start_timeout_s=max(900, 3 * cfg.heartbeat_s),
            prepay_hours=cfg.prepay_hours,
            project=f"p{int(rng.integers(0, 3))}",
        )
    need: Counter[str] = Counter()
    first_task: dict[str, TaskSpec] = {}
    for t in tasks:
        first_task.setdefault(t.tenant, t)
    for terms in terms_of.values():
        need[terms.tenant] += terms.estimate_micros
    program = VoucherProgram(
        id="compute-for-all",
        issuer="suanwang-demo-fund",
        grant_micros=cfg.voucher_grant_micros,
        valid_days=cfg.voucher_days,
    )
    market.add_program(program, cfg.voucher_grant_micros * max(1, len(first_task)), cfg.start)
    short: set[str] = set()
    for tenant in sorted(first_task):
        profile = TenantProfile(
            id=tenant,
            country=first_task[tenant].origin.country,
            sme=bool(rng.random() < cfg.sme_share),
        )
        market.add_tenant(profile)
        funds = int(need[tenant] * 1.6) + 1_000_000
        if rng.random() < cfg.p_short_funds:
            short.add(tenant)
            funds = max(1, int(need[tenant] * 0.25))
        market.deposit(tenant, funds, f"{tenant}-initial", cfg.start)
        if rng.random() < cfg.p_budget_cap:
            market.set_budget(tenant, int(need[tenant] * 0.7))
        if eligibility(profile, program, countries)[0]:
            market.grant_voucher(program.id, tenant, cfg.start, countries)
            counts["vouchers"] += 1

    # --- the life of each lease -----------------------------------------------------------------
    def settle(lease_id: str) -> Callable[[], None]:
        def run() -> None:
            lease = market.leases[lease_id]
            if not lease.live:
                return
            now = queue_now[0]
            was = lease.state
            market.settle(lease_id, from_epoch_s(now))
            if was is not LeaseState.PAUSED_FUNDS and lease.state is LeaseState.PAUSED_FUNDS:
                counts["paused"] += 1
                if rng.random() < cfg.p_top_up:
                    owed = lease.owed_micros
                    why = f"{lease_id}-{counts['paused']}"
                    at(now + 1800, deposit(lease.terms.tenant, 2 * owed + 1_000_000, why))
            if lease.live:
                at(now + cfg.settle_every_s, settle(lease_id))

        return run

    def deposit(tenant: str, amount: int, why: str) -> Callable[[], None]:
        def run() -> None:
            before = {
                lid
                for lid, le in market.leases.items()
                if le.terms.tenant == tenant and le.state is LeaseState.PAUSED_FUNDS
            }
            market.deposit(tenant, amount, f"{tenant}-topup-{why}", from_epoch_s(queue_now[0]))
            counts["resumed"] += sum(
                1 for lid in before if market.leases[lid].state is LeaseState.ACTIVE
            )

        return run

    def close(lease_id: str, reason: CloseReason) -> Callable[[], None]:
        def run() -> None:
            lease = market.leases[lease_id]
            if not lease.live:
                return
            if lease.state is LeaseState.PAUSED_FUNDS:
                counts["still_paused_at_close"] += 1
            market.close(lease_id, reason, from_epoch_s(queue_now[0]))
            if rng.random() < cfg.p_dispute and lease.paid_cum_micros > 0:
                at(queue_now[0] + 3600, dispute(lease_id))

        return run

    def dispute(lease_id: str) -> Callable[[], None]:
        def run() -> None:
            lease = market.leases[lease_id]
            amount = max(1, lease.paid_cum_micros * int(rng.integers(10, 60)) // 100)
            try:
                d = market.open_dispute(
                    lease_id, amount, DisputeReason.WRONG_QUANTITY, from_epoch_s(queue_now[0])
                )
            except MarketError:
                return
            counts["disputes"] += 1
            share = int(rng.choice([0, 5000, 10_000]))
            at(queue_now[0] + 6 * 3600, resolve(d.id, share))

        return run

    def resolve(dispute_id: str, share: int) -> Callable[[], None]:
        return lambda: _ignore(
            market.resolve_dispute(dispute_id, share, from_epoch_s(queue_now[0]))
        )

    def deliver(event: UsageEvent) -> Callable[[], None]:
        def run() -> None:
            if not market.ingest(event):
                counts["events_duplicate"] += 1

        return run

    def check_start(lease_id: str) -> Callable[[], None]:
        def run() -> None:
            if market.check_start(lease_id, from_epoch_s(queue_now[0])):
                counts["failed_start"] += 1

        return run

    def open_lease(name: str) -> Callable[[], None]:
        def run() -> None:
            terms = terms_of[name]
            try:
                market.open_lease(terms)
            except MarketError as exc:
                unfunded[type(exc).__name__] += 1
                return
            counts["leases"] += 1
            c = int(terms.created_at.timestamp())
            secs = max(1, round(by_name[name].duration_hours * 3600))
            if rng.random() < cfg.p_no_start:
                at(c + terms.start_timeout_s + 1, check_start(terms.id))
                return
            first = c + int(rng.integers(10, 300))
            end = first + secs
            outage: tuple[int, int] | None = None
            reason = CloseReason.COMPLETED
            if rng.random() < cfg.p_unstable:
                o = first + int(rng.integers(0, secs))
                end = min(end, o + 4 * cfg.grace_s)
                outage = (o, end + 1)
                reason = CloseReason.PROVIDER_UNSTABLE
            elif rng.random() < cfg.p_outage:
                o = first + int(rng.integers(0, secs))
                outage = (o, o + int(rng.integers(cfg.grace_s + 1, 3 * cfg.grace_s + 2)))
            beats = list(range(first, end, cfg.heartbeat_s))
            if reason is CloseReason.COMPLETED:
                beats.append(end)
            for b in beats:
                if outage is not None and outage[0] <= b < outage[1]:
                    continue
                ev = UsageEvent(
                    source=f"agent-{terms.site}",
                    id=event_id(terms.id, UsageKind.HEARTBEAT, from_epoch_s(b)),
                    lease=terms.id,
                    time=from_epoch_s(b),
                )
                when = b + 1
                if rng.random() < cfg.p_late:
                    when = b + int(rng.integers(3600, 3 * 3600))
                    counts["events_late"] += 1
                at(when, deliver(ev))
                counts["events_sent"] += 1
                if rng.random() < cfg.p_duplicate:
                    at(when + int(rng.integers(1, 600)), deliver(ev))
                    counts["events_sent"] += 1
            at(c + cfg.settle_every_s, settle(terms.id))
            at(end + 2, close(terms.id, reason))

        return run

    for name, terms in terms_of.items():
        at(int(terms.created_at.timestamp()), open_lease(name))
    last = start_s
    while queue:
        action = heapq.heappop(queue)
        queue_now[0] = last = max(last, action.at)
        action.run()
    # A late event may land after its lease closed: book it as a correction, then pay out.
    final = last + 4 * 3600
    for lease_id in market.leases:
        if market.leases[lease_id].running_confirmed_at is not None:
            market.settle(lease_id, from_epoch_s(final))
    after = from_epoch_s(final + cfg.dispute_window_s + 1)
    market.release(after)
    market.expire_vouchers(max(after, cfg.start + program.lifetime()))
    return SimResult(market, _report(market, cfg, len(tasks), len(placements), counts, unfunded))


def _ignore(_: object) -> None:
    return None


def _report(
    market: Market,
    cfg: SimConfig,
    n_tasks: int,
    n_placed: int,
    counts: Counter[str],
    unfunded: Counter[str],
) -> SimReport:
    balances = market.ledger.balances()
    leases = list(market.leases.values())
    closed = Counter(le.close_reason.value for le in leases if le.close_reason is not None)
    statements = [s for le in leases for s in le.statements]
    voucher_paid = sum(
        -e.amount
        for t in market.ledger.txns()
        if t.kind is TxnKind.USAGE_SETTLEMENT
        for e in t.entries
        if e.account.startswith("escrow:") and not e.account.endswith(":cash")
    )
    return SimReport(
        currency=market.config.currency,
        tasks=n_tasks,
        placed=n_placed,
        leases=counts["leases"],
        unfunded=dict(sorted(unfunded.items())),
        failed_start=counts["failed_start"],
        closed=dict(sorted(closed.items())),
        paused=counts["paused"],
        resumed=counts["resumed"],
        still_paused_at_close=counts["still_paused_at_close"],
        events_sent=counts["events_sent"],
        events_duplicate=counts["events_duplicate"],
        events_late=counts["events_late"],
        corrections=sum(1 for s in statements if s.correction_micros > 0),
        statements=len(statements),
        disputes=counts["disputes"],
        vouchers=counts["vouchers"],
        paid_micros=sum(le.paid_cum_micros for le in leases),
        refunded_micros=sum(le.refunded_micros for le in leases),
        credited_micros=sum(le.credited_micros for le in leases),
        platform_micros=balances.get("platform:fees", 0),
        provider_micros=sum(v for k, v in balances.items() if k.startswith("provider:")),
        carrier_micros=sum(v for k, v in balances.items() if k.startswith("carrier:")),
        voucher_paid_micros=voucher_paid,
        ledger_txns=len(market.ledger.txns()),
    )
