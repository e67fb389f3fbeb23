"""The market's books: tenants, vouchers, leases, metering and settlement over one ledger.

:class:`Market` is the one place money moves. It is pure (every call takes the time) and every
operation is all-or-nothing: it checks first, then posts one balanced ledger transaction per
money movement under a deterministic idempotency key, so repeating a call, or replaying the
same usage events, changes nothing.

Money flow of a lease (accounts in :mod:`suanwang.core.market.ledger`)::

    tenant (cash) ─┐ fund / top-up        settle (split exactly)       release (after the
    voucher ───────┴──> escrow:<lease> ──> pending:<lease>:provider:… ──> provider:…   dispute
                            │              pending:<lease>:carrier:…  ──> carrier:…    window)
                            │              platform:fees
                            └── refund (to where it came from) on close

* ``settle`` rates the lease's *cumulative* proven seconds (see
  :mod:`suanwang.core.market.metering`) at its snapshotted price, rounding once, so the lease's
  total is within half a micro-unit of exact whatever the number of settlements; what late
  events add to an already-settled period is booked now as a correction line.
* When escrow cannot pay what is due and the tenant's balance (within its budget cap) and
  vouchers cannot top it up, the lease is *paused*: accrual stops and the workload is kept. A
  deposit resumes it.
* ``close`` settles a last time, credits the SLA shortfall of a guaranteed lease from its
  providers' pending earnings, and refunds the escrow to where it came from (voucher money
  back to the voucher, or to its programme's pool once the voucher has expired).
* Provider and carrier earnings stay pending for the dispute window after the close; a dispute
  holds the contested amount until it is resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from suanwang.core.base import Frozen
from suanwang.core.countries import Country
from suanwang.core.market.errors import (
    BudgetExceededError,
    InsufficientFundsError,
    LeaseStateError,
    MarketError,
    VoucherRuleError,
)
from suanwang.core.market.leases import (
    PLATFORM_ACCOUNT,
    SLA_CREDIT_SCHEDULE,
    CloseReason,
    Lease,
    LeaseState,
    LeaseTerms,
    SlaTier,
    Statement,
)
from suanwang.core.market.ledger import (
    Account,
    AccountKind,
    Budget,
    LeaseRecord,
    Ledger,
    Txn,
    TxnKind,
    txn,
)
from suanwang.core.market.metering import Meter, UsageEvent, epoch_s, from_epoch_s
from suanwang.core.market.money import BPS, MILLI, SECONDS_PER_HOUR, rate_cumulative, split_exact
from suanwang.core.market.vouchers import TenantProfile, Voucher, VoucherProgram, eligibility
from suanwang.core.units import ComputeClass

EXTERNAL_ACCOUNT = "external:world"


class MarketConfig(Frozen):
    """Market parameters (one source for every component that needs them)."""

    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    dispute_window_s: int = Field(default=86_400, ge=0)
    top_up_hours: int = Field(default=1, ge=0, description="extra hours funded by a top-up")


class DisputeReason(StrEnum):
    """Why a tenant contests a charge."""

    NOT_RUNNING = "not-running"
    WRONG_QUANTITY = "wrong-quantity"
    WRONG_PRICE = "wrong-price"
    DUPLICATE = "duplicate"
    QUALITY = "quality"
    OTHER = "other"


class DisputeState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass
class Dispute:
    """A contested amount held out of a lease's pending earnings until it is resolved."""

    id: str
    lease: str
    reason: DisputeReason
    amount_micros: int
    held: dict[str, int]
    opened_at: int
    state: DisputeState = DisputeState.OPEN
    buyer_micros: int = 0
    provider_micros: int = 0

    @property
    def account(self) -> str:
        return f"dispute:{self.id}"


def tenant_account(tenant: str) -> str:
    return f"tenant:{tenant}"


def escrow_account(lease: str, source: str) -> str:
    """``source`` is ``cash`` or a voucher id."""
    return f"escrow:{lease}:{source}"


def pool_account(program: str) -> str:
    return f"voucher-pool:{program}"


class Market:
    """Books of one market in one currency (in memory; persistence comes with the service)."""

    def __init__(self, config: MarketConfig | None = None) -> None:
        self.config = config or MarketConfig()
        self.ledger = Ledger(self.config.currency)
        self.tenants: dict[str, TenantProfile] = {}
        self.programs: dict[str, VoucherProgram] = {}
        self.vouchers: dict[str, Voucher] = {}
        self.leases: dict[str, Lease] = {}
        self.meters: dict[str, Meter] = {}
        self.disputes: dict[str, Dispute] = {}
        self.ledger.open(
            Account(
                id=EXTERNAL_ACCOUNT,
                kind=AccountKind.EXTERNAL,
                owner="world",
                allow_negative=True,
            )
        )
        self.ledger.open(Account(id=PLATFORM_ACCOUNT, kind=AccountKind.PLATFORM, owner="platform"))

    # --- tenants, deposits, budgets -------------------------------------------------------------

    def add_tenant(self, profile: TenantProfile) -> None:
        """Register a tenant (idempotent for the same profile)."""
        prior = self.tenants.get(profile.id)
        if prior is not None and prior != profile:
            raise MarketError(f"tenant {profile.id} already exists with another profile")
        self.tenants[profile.id] = profile
        self.ledger.open(
            Account(id=tenant_account(profile.id), kind=AccountKind.TENANT, owner=profile.id)
        )

    def _tenant(self, tenant: str) -> TenantProfile:
        try:
            return self.tenants[tenant]
        except KeyError:
            raise MarketError(f"unknown tenant {tenant!r}; add it first") from None

    def deposit(self, tenant: str, amount: int, ref: str, at: datetime) -> Txn:
        """Credit ``amount`` from outside (payment ``ref``, the idempotency key), then resume
        the tenant's paused leases if the money now covers them."""
        self._tenant(tenant)
        if amount <= 0:
            raise MarketError(f"a deposit must be positive, got {amount}")
        t = self.ledger.post(
            txn(
                f"dep:{ref}",
                TxnKind.DEPOSIT,
                at,
                {EXTERNAL_ACCOUNT: -amount, tenant_account(tenant): amount},
                {"tenant": tenant},
            )
        )
        for lease in list(self.leases.values()):
            if lease.terms.tenant == tenant and lease.state is LeaseState.PAUSED_FUNDS:
                self.settle(lease.id, at)
        return t

    def set_budget(self, tenant: str, cap_micros: int, project: str | None = None) -> None:
        """Set a hard cap on what the tenant (or one project) commits to leases."""
        self._tenant(tenant)
        self.ledger.set_budget(Budget(tenant=tenant, project=project, cap_micros=cap_micros))

    def balance(self, tenant: str) -> int:
        """The tenant's spendable cash balance."""
        return self.ledger.balance(tenant_account(tenant))

    # --- vouchers -------------------------------------------------------------------------------

    def add_program(
        self, program: VoucherProgram, funding_micros: int, at: datetime, ref: str = "initial"
    ) -> None:
        """Register a voucher programme and fund its pool from its issuer.

        ``ref`` names the funding (the idempotency key): repeating a call changes nothing; a
        further funding needs a new ``ref``.

        Raises:
            MarketError: another programme with that id but different terms exists.
        """
        prior = self.programs.get(program.id)
        if prior is not None and prior != program:
            raise MarketError(f"voucher programme {program.id} already exists with other terms")
        self.programs[program.id] = program
        self.ledger.open(
            Account(id=pool_account(program.id), kind=AccountKind.VOUCHER_POOL, owner=program.id)
        )
        if funding_micros > 0:
            self.ledger.post(
                txn(
                    f"vfund:{program.id}:{ref}",
                    TxnKind.VOUCHER_FUND,
                    at,
                    {EXTERNAL_ACCOUNT: -funding_micros, pool_account(program.id): funding_micros},
                    {"program": program.id, "issuer": program.issuer},
                )
            )

    def grant_voucher(
        self, program_id: str, tenant: str, at: datetime, countries: Mapping[str, Country]
    ) -> Voucher:
        """Grant the programme's voucher to an eligible tenant (once per tenant and programme).

        Raises:
            VoucherRuleError: the tenant is not eligible (the message says why).
            InsufficientFundsError: the programme's pool is spent.
        """
        program = self.programs.get(program_id)
        if program is None:
            raise MarketError(f"unknown voucher programme {program_id!r}")
        profile = self._tenant(tenant)
        ok, why = eligibility(profile, program, countries)
        if not ok:
            raise VoucherRuleError(why)
        voucher = Voucher(
            id=f"{program.id}.{tenant}",
            program=program.id,
            tenant=tenant,
            grant_micros=program.grant_micros,
            share_bps=program.share_bps,
            classes=program.classes,
            issued_at=at,
            expires_at=at + program.lifetime(),
        )
        if voucher.id in self.vouchers:
            return self.vouchers[voucher.id]
        pool = pool_account(program.id)
        if self.ledger.balance(pool) < voucher.grant_micros:
            raise InsufficientFundsError(pool, self.ledger.balance(pool), -voucher.grant_micros)
        self.ledger.open(
            Account(
                id=voucher.account,
                kind=AccountKind.VOUCHER,
                owner=tenant,
                tenant=tenant,
                expires_at=voucher.expires_at,
                classes=tuple(c.value for c in voucher.classes),
            )
        )
        self.ledger.post(
            txn(
                f"vgrant:{voucher.id}",
                TxnKind.VOUCHER_GRANT,
                at,
                {pool: -voucher.grant_micros, voucher.account: voucher.grant_micros},
                {"voucher": voucher.id, "tenant": tenant, "why": why},
            )
        )
        self.vouchers[voucher.id] = voucher
        return voucher

    def expire_vouchers(self, at: datetime) -> list[Txn]:
        """Return expired vouchers' remainders to their pools (breakage); idempotent."""
        out = []
        for v in self.vouchers.values():
            left = self.ledger.balance(v.account)
            if v.expires_at <= at and left > 0:
                out.append(
                    self.ledger.post(
                        txn(
                            f"vexp:{v.id}:{left}:{epoch_s(at)}",
                            TxnKind.VOUCHER_EXPIRE,
                            at,
                            {v.account: -left, pool_account(v.program): left},
                            {"voucher": v.id},
                        )
                    )
                )
        return out

    # --- funding ---------------------------------------------------------------------------------

    def _usable_vouchers(self, tenant: str, cls: ComputeClass, at: datetime) -> list[Voucher]:
        """The tenant's vouchers that may pay for ``cls`` at ``at``, soonest expiry first."""
        return sorted(
            (
                v
                for v in self.vouchers.values()
                if v.tenant == tenant
                and v.covers(cls)
                and at < v.expires_at
                and self.ledger.balance(v.account) > 0
            ),
            key=lambda v: (v.expires_at, v.id),
        )

    def _sources(
        self, terms: LeaseTerms, amount: int, at: datetime
    ) -> tuple[int, dict[Voucher, int]]:
        """(cash, voucher -> part) to fund up to ``amount``.

        Every usable voucher is drawn on (soonest expiry first), together covering at most the
        largest of their shares of what is funded; cash is limited by the tenant's balance and
        budget headroom. Using every source at once makes a repeated top-up find nothing new.
        """
        cash_avail = self.balance(terms.tenant)
        room = self.ledger.headroom(terms.tenant, terms.project)
        if room is not None:
            cash_avail = min(cash_avail, max(room, 0))
        vouchers = self._usable_vouchers(terms.tenant, terms.compute_class, at)
        if not vouchers:
            return min(amount, cash_avail), {}
        share = max(v.share_bps for v in vouchers)
        parts: dict[Voucher, int] = {}
        covered = 0
        for v in vouchers:
            take = min(self.ledger.balance(v.account), amount * v.share_bps // BPS - covered)
            if take > 0:
                parts[v] = take
                covered += take
        cash = min(amount - covered, cash_avail)
        # When cash is short, shrink the voucher parts (latest first) until each voucher pays
        # at most its own share of what is funded, and all together at most the largest share:
        # part * BPS <= share * (cash + parts). Parts only shrink, so this ends.
        changed = True
        while changed:
            changed = False
            if share < BPS:
                limit = cash * share // (BPS - share)
                for v in reversed(list(parts)):
                    over = sum(parts.values()) - limit
                    if over <= 0:
                        break
                    cut = min(over, parts[v])
                    parts[v] -= cut
                    changed = changed or cut > 0
            for v in reversed(list(parts)):
                if v.share_bps >= BPS:
                    continue
                others = cash + sum(parts.values()) - parts[v]
                cap = v.share_bps * others // (BPS - v.share_bps)
                if parts[v] > cap:
                    parts[v] = cap
                    changed = True
        return cash, {v: p for v, p in parts.items() if p > 0}

    def _fund(
        self, lease: Lease, amount: int, at: datetime, kind: TxnKind, key: str, require: bool
    ) -> int:
        terms = lease.terms
        cash, vparts = self._sources(terms, amount, at)
        v_part = sum(vparts.values())
        if require and cash + v_part < amount:
            room = self.ledger.headroom(terms.tenant, terms.project)
            if room is not None and room < amount - v_part:
                raise BudgetExceededError(
                    f"lease {terms.id} needs {amount - v_part} micros from {terms.tenant} but "
                    f"its budget cap leaves {room}"
                )
            raise InsufficientFundsError(
                tenant_account(terms.tenant), self.balance(terms.tenant), -(amount - v_part)
            )
        legs: dict[str, int] = {}
        if cash > 0:
            legs[tenant_account(terms.tenant)] = -cash
            legs[escrow_account(terms.id, "cash")] = cash
        for v, part in vparts.items():
            self._open_escrow(terms, v.id)
            legs[v.account] = -part
            legs[escrow_account(terms.id, v.id)] = part
        if not legs:
            return 0
        self.ledger.post(
            txn(key, kind, at, legs, {"lease": terms.id, "class": terms.compute_class.value})
        )
        lease.funded_micros += cash + v_part
        return cash + v_part

    def _open_escrow(self, terms: LeaseTerms, source: str) -> None:
        self.ledger.open(
            Account(
                id=escrow_account(terms.id, source),
                kind=AccountKind.ESCROW,
                owner=terms.tenant,
                tenant=terms.tenant,
                project=terms.project,
                lease=terms.id,
                cash_escrow=source == "cash",
            )
        )

    def _escrow(self, lease: str) -> dict[str, int]:
        return {
            a.id: self.ledger.balance(a.id)
            for a in self.ledger.lease_accounts(lease, AccountKind.ESCROW)
        }

    def _weights(self, lease: Lease) -> dict[str, int]:
        """The split weights as the ledger registered them when the lease opened (I13)."""
        record = self.ledger.lease(lease.id)
        if record is None:  # pragma: no cover - open_lease always registers it
            raise MarketError(f"lease {lease.id} has no snapshot in the ledger")
        return dict(record.weights)

    def _pending(self, lease: Lease) -> dict[str, int]:
        return {
            acct: self.ledger.balance(acct)
            for acct in self._weights(lease)
            if acct != PLATFORM_ACCOUNT
        }

    # --- leases ----------------------------------------------------------------------------------

    def open_lease(self, terms: LeaseTerms) -> Lease:
        """Create a lease and fund its prepayment into escrow (all or nothing).

        Raises:
            MarketError: duplicate lease id, unknown tenant or wrong currency.
            InsufficientFundsError, BudgetExceededError: the prepayment cannot be funded;
                nothing was written.
        """
        if terms.id in self.leases:
            if self.leases[terms.id].terms == terms:
                return self.leases[terms.id]
            raise MarketError(f"lease {terms.id} already exists with other terms")
        self._tenant(terms.tenant)
        if terms.currency != self.config.currency:
            raise MarketError(
                f"lease {terms.id} is priced in {terms.currency}; this market settles in "
                f"{self.config.currency}"
            )
        cash, vparts = self._sources(terms, terms.prepay_micros, terms.created_at)
        if cash + sum(vparts.values()) < terms.prepay_micros:
            probe = Lease(terms=terms)
            self._fund(probe, terms.prepay_micros, terms.created_at, TxnKind.FUND_LEASE, "-", True)
        weights = terms.split.weights(terms.id)
        self.ledger.register_lease(
            LeaseRecord(
                id=terms.id,
                tenant=terms.tenant,
                project=terms.project,
                currency=terms.currency,
                price_micros_per_unit_hour=terms.price_micros_per_unit_hour,
                units_milli=terms.units_milli,
                unit_table_version=terms.unit_table_version,
                weights=weights,
            )
        )
        self._open_escrow(terms, "cash")
        for acct in weights:
            if acct != PLATFORM_ACCOUNT:
                role, party = acct.split(":")[2:4]
                self.ledger.open(
                    Account(id=acct, kind=AccountKind.PENDING, owner=party, lease=terms.id)
                )
                kind = AccountKind.PROVIDER if role == "provider" else AccountKind.CARRIER
                self.ledger.open(Account(id=f"{kind.value}:{party}", kind=kind, owner=party))
        lease = Lease(terms=terms, settled_until=epoch_s(terms.created_at))
        self.leases[terms.id] = lease
        self.meters[terms.id] = Meter(terms.id)
        if terms.prepay_micros > 0:
            self._fund(
                lease,
                terms.prepay_micros,
                terms.created_at,
                TxnKind.FUND_LEASE,
                f"fund:{terms.id}",
                True,
            )
        return lease

    def lease(self, lease_id: str) -> Lease:
        try:
            return self.leases[lease_id]
        except KeyError:
            raise MarketError(f"unknown lease {lease_id!r}") from None

    def ingest(self, event: UsageEvent) -> bool:
        """Record a usage event; False for a duplicate (nothing changes). The first heartbeat
        within the start timeout confirms the lease running."""
        lease = self.lease(event.lease)
        fresh = self.meters[lease.id].ingest(event)
        if not fresh:
            return False
        t = max(epoch_s(event.time), epoch_s(lease.terms.created_at))
        deadline = epoch_s(lease.terms.created_at) + lease.terms.start_timeout_s
        if lease.state is LeaseState.PENDING_START and t <= deadline:
            lease.state = LeaseState.ACTIVE
            lease.running_confirmed_at = t
            lease.settled_until = max(lease.settled_until, t)
        elif lease.running_confirmed_at is not None and t < lease.running_confirmed_at:
            # An earlier heartbeat delivered late: the work was confirmed running earlier, and
            # the time it proves is booked as a correction at the next settlement.
            lease.running_confirmed_at = t
        return True

    def check_start(self, lease_id: str, now: datetime) -> bool:
        """Fail a lease that has not started within its timeout (full refund). True if it did."""
        lease = self.lease(lease_id)
        deadline = epoch_s(lease.terms.created_at) + lease.terms.start_timeout_s
        if lease.state is not LeaseState.PENDING_START or epoch_s(now) <= deadline:
            return False
        lease.state = LeaseState.FAILED_START
        lease.close_reason = CloseReason.START_TIMEOUT
        lease.closed_at = deadline
        self._refund(lease, max(now, from_epoch_s(deadline)))
        return True

    def settle(self, lease_id: str, now: datetime) -> Statement | None:
        """Bring the lease's account up to ``now``: rate, pay from escrow, split, state.

        Idempotent: a second call with nothing new (no new proven time, nothing owed) returns
        None and writes nothing. Returns the statement issued otherwise.
        """
        lease = self.lease(lease_id)
        terms = lease.terms
        if lease.state is LeaseState.PENDING_START:
            self.check_start(lease_id, now)
            return None
        if lease.running_confirmed_at is None or lease.state is LeaseState.FAILED_START:
            return None
        now_s = epoch_s(now)
        meter = self.meters[lease_id]
        horizon = now_s if lease.closed_at is None else min(now_s, lease.closed_at)
        proven = meter.last_beat_until(horizon)
        # Settle up to the last heartbeat: time after it is not proven yet, so it is billed as
        # ordinary usage once the next heartbeat proves it, and only a truly late event (one
        # dated before the cursor that arrives after it) makes a correction line.
        t = max(lease.settled_until, proven if proven is not None else lease.settled_until)
        start = lease.running_confirmed_at

        def seconds(until: int) -> int:
            return meter.billable_seconds(
                until, terms.grace_s, start, lease.closed_at, lease.paused
            )

        secs_before = seconds(lease.settled_until)
        secs_now = seconds(t)
        moved = secs_now != lease.seconds_cum or t != lease.settled_until
        if not moved and lease.owed_micros == 0:
            return None
        due_before = rate_cumulative(
            secs_before * terms.units_milli, terms.price_micros_per_unit_hour
        )
        qty_cum = secs_now * terms.units_milli
        due_cum = rate_cumulative(qty_cum, terms.price_micros_per_unit_hour)
        owed = due_cum - lease.paid_cum_micros
        escrow = sum(self._escrow(lease_id).values())
        seq = len(lease.statements) + 1
        if owed > escrow:
            buffer = 0
            if lease.closed_at is None:
                buffer = (
                    terms.units_milli * terms.price_micros_per_unit_hour * self.config.top_up_hours
                ) // MILLI
            funded = self._fund(
                lease,
                owed - escrow + buffer,
                now,
                TxnKind.TOP_UP,
                f"topup:{lease_id}:{lease.topups + 1}",
                False,
            )
            if funded:
                lease.topups += 1
                escrow = sum(self._escrow(lease_id).values())
        pay = min(owed, escrow)
        if not moved and pay == 0:
            return None  # still short of money and nothing new: no statement, nothing written
        key = None
        if pay > 0:
            key = f"settle:{lease_id}:{seq}"
            self._pay(lease, pay, now, key)
        statement = Statement(
            seq=seq,
            period_start=lease.settled_until,
            period_end=t,
            seconds=secs_now - secs_before,
            qty_cum=qty_cum,
            due_cum_micros=due_cum,
            paid_cum_micros=lease.paid_cum_micros + pay,
            usage_micros=due_cum - due_before,
            correction_micros=due_before - lease.due_cum_micros,
            correction_seconds=secs_before - lease.seconds_cum,
            settle_key=key,
        )
        lease.statements.append(statement)
        lease.settled_until = t
        lease.seconds_cum = secs_now
        lease.qty_cum = qty_cum
        lease.due_cum_micros = due_cum
        lease.paid_cum_micros += pay
        if lease.state is LeaseState.ACTIVE and lease.owed_micros > 0:
            lease.state = LeaseState.PAUSED_FUNDS
            lease.paused.append((t, None))
        elif lease.state is LeaseState.PAUSED_FUNDS and lease.owed_micros == 0:
            # The pause ends when the money arrives (now), not at the last heartbeat known:
            # heartbeats of the paused period that arrive later must not bill it.
            a, _ = lease.paused[-1]
            lease.paused[-1] = (a, max(a, now_s))
            lease.state = LeaseState.ACTIVE
        return statement

    def _pay(self, lease: Lease, pay: int, at: datetime, key: str) -> None:
        escrow = {k: v for k, v in self._escrow(lease.id).items() if v > 0}
        draw = split_exact(pay, escrow)
        for acct, amount in draw.items():  # rounding can ask one micro too many of a source
            if amount > escrow[acct]:
                over = amount - escrow[acct]
                draw[acct] -= over
                other = next(a for a in escrow if a != acct and escrow[a] - draw[a] >= over)
                draw[other] += over
        parts = split_exact(pay, self._weights(lease))
        legs = {a: -v for a, v in draw.items()}
        for acct, v in parts.items():
            legs[acct] = legs.get(acct, 0) + v
        self.ledger.post(
            txn(
                key,
                TxnKind.USAGE_SETTLEMENT,
                at,
                legs,
                {"lease": lease.id, "class": lease.terms.compute_class.value},
            )
        )

    def close(self, lease_id: str, reason: CloseReason, at: datetime) -> Lease:
        """Close a lease: final settlement, SLA credit, refund of the escrow. Idempotent."""
        lease = self.lease(lease_id)
        if not lease.live:
            return lease
        at_s = epoch_s(at)
        if lease.state is LeaseState.PENDING_START and self.check_start(lease_id, at):
            return lease  # it had already failed to start: that is its reason
        if lease.state is LeaseState.PENDING_START:
            lease.state = LeaseState.CLOSED
            lease.close_reason = reason
            lease.closed_at = at_s
            self._refund(lease, at)
            return lease
        # The close is dated by the caller's clock, never by a heartbeat's (an agent's clock
        # may run fast); nothing after it is billed.
        lease.closed_at = at_s
        if lease.state is LeaseState.PAUSED_FUNDS:
            a, _ = lease.paused[-1]
            lease.paused[-1] = (a, max(a, at_s))
        when = at
        self.settle(lease_id, when)
        lease.state = LeaseState.CLOSED
        lease.close_reason = reason
        self._sla_credit(lease, when)
        self._refund(lease, when)
        return lease

    def availability_ppm(self, lease: Lease) -> int | None:
        """Proven share of the lease's running window (closing gap up to the grace forgiven)."""
        if lease.running_confirmed_at is None or lease.closed_at is None:
            return None
        paused = sum((b or lease.closed_at) - a for a, b in lease.paused)
        window = lease.closed_at - lease.running_confirmed_at - paused
        if window <= 0:
            return 1_000_000
        last = self.meters[lease.id].last_beat() or lease.running_confirmed_at
        tail = min(lease.terms.grace_s, max(0, lease.closed_at - last))
        return min(1_000_000, (lease.seconds_cum + tail) * 1_000_000 // window)

    def _sla_credit(self, lease: Lease, at: datetime) -> None:
        if lease.terms.sla is not SlaTier.GUARANTEED or lease.paid_cum_micros == 0:
            return
        avail = self.availability_ppm(lease)
        if avail is None:
            return
        bps = next((c for below, c in SLA_CREDIT_SCHEDULE if avail < below), 0)
        pending = {k: v for k, v in self._pending(lease).items() if v > 0}
        credit = min(lease.paid_cum_micros * bps // BPS, sum(pending.values()))
        if credit <= 0:
            return
        take = split_exact(credit, pending)
        back = self._back_to_sources(lease, credit)
        legs = {a: -v for a, v in take.items()}
        for a, v in back.items():
            legs[a] = legs.get(a, 0) + v
        self.ledger.post(
            txn(
                f"sla:{lease.id}",
                TxnKind.SLA_CREDIT,
                at,
                legs,
                {"lease": lease.id, "availability_ppm": str(avail), "credit_bps": str(bps)},
            )
        )
        lease.credited_micros += credit

    def _returnable(self, lease: Lease) -> dict[str, int]:
        """Escrow account -> what its source paid for usage and has not had back yet.

        Money handed back (an SLA credit, a dispute ruled for the buyer) returns to the sources
        that paid, pro rata and never more than each paid, so voucher money comes back as
        voucher money and a voucher never ends above its grant.
        """
        out: dict[str, int] = {}
        for t in self.ledger.txns_for_lease(lease.id):
            if t.kind not in (
                TxnKind.USAGE_SETTLEMENT,
                TxnKind.SLA_CREDIT,
                TxnKind.DISPUTE_RESOLVE,
            ):
                continue
            for e in t.entries:
                if e.account.startswith("escrow:"):
                    # a settlement debits escrow (paid: +), a return credits it (returned: -)
                    out[e.account] = out.get(e.account, 0) - e.amount
        return {k: v for k, v in out.items() if v > 0}

    def _back_to_sources(self, lease: Lease, amount: int) -> dict[str, int]:
        """``amount`` split over the lease's escrows by what each may still get back."""
        weights = self._returnable(lease)
        if amount > sum(weights.values()):
            raise MarketError(
                f"cannot return {amount} micros to lease {lease.id}'s payers: they paid "
                f"{sum(weights.values())} net of earlier returns"
            )
        return {k: v for k, v in split_exact(amount, weights).items() if v}

    def _refund(self, lease: Lease, at: datetime) -> None:
        legs: dict[str, int] = {}
        for acct, bal in self._escrow(lease.id).items():
            if bal <= 0:
                continue
            source = acct.split(":", 2)[2]
            if source == "cash":
                dest = tenant_account(lease.terms.tenant)
            else:
                v = self.vouchers[source]
                dest = v.account if at < v.expires_at else pool_account(v.program)
            legs[acct] = -bal
            legs[dest] = legs.get(dest, 0) + bal
        if not legs:
            return
        n = sum(1 for t in self.ledger.txns_for_lease(lease.id) if t.kind is TxnKind.REFUND)
        total = sum(v for v in legs.values() if v > 0)
        self.ledger.post(
            txn(
                f"refund:{lease.id}:{n + 1}",
                TxnKind.REFUND,
                at,
                legs,
                {"lease": lease.id, "final": "true" if not lease.live else "false"},
            )
        )
        lease.refunded_micros += total

    # --- release and disputes --------------------------------------------------------------------

    def release(self, now: datetime) -> list[Txn]:
        """Pay out pending earnings of leases closed longer than the dispute window ago and
        without an open dispute. Idempotent."""
        now_s = epoch_s(now)
        out = []
        open_on = {d.lease for d in self.disputes.values() if d.state is DisputeState.OPEN}
        for lease in self.leases.values():
            if lease.live or lease.closed_at is None or lease.id in open_on:
                continue
            if now_s < lease.closed_at + self.config.dispute_window_s:
                continue
            legs: dict[str, int] = {}
            for acct, bal in self._pending(lease).items():
                if bal > 0:
                    _, _, role, party = acct.split(":", 3)
                    kind = AccountKind.PROVIDER if role == "provider" else AccountKind.CARRIER
                    legs[acct] = -bal
                    legs[f"{kind.value}:{party}"] = legs.get(f"{kind.value}:{party}", 0) + bal
            if legs:
                n = sum(
                    1 for t in self.ledger.txns_for_lease(lease.id) if t.kind is TxnKind.RELEASE
                )
                out.append(
                    self.ledger.post(
                        txn(
                            f"release:{lease.id}:{n + 1}",
                            TxnKind.RELEASE,
                            now,
                            legs,
                            {"lease": lease.id},
                        )
                    )
                )
            lease.released = True
        return out

    def open_dispute(
        self, lease_id: str, amount: int, reason: DisputeReason, at: datetime
    ) -> Dispute:
        """Hold up to ``amount`` of the lease's pending earnings while the tenant disputes.

        Raises:
            LeaseStateError: nothing is pending any more (the dispute window has passed).
        """
        lease = self.lease(lease_id)
        pending = {k: v for k, v in self._pending(lease).items() if v > 0}
        held_total = min(amount, sum(pending.values()))
        if amount <= 0:
            raise MarketError(f"a disputed amount must be positive, got {amount}")
        if held_total == 0:
            raise LeaseStateError(
                f"lease {lease_id} has no pending earnings to dispute (released or never paid)"
            )
        d = Dispute(
            id=f"{lease_id}.d{sum(1 for x in self.disputes.values() if x.lease == lease_id) + 1}",
            lease=lease_id,
            reason=reason,
            amount_micros=held_total,
            held=split_exact(held_total, pending),
            opened_at=epoch_s(at),
        )
        self.ledger.open(
            Account(
                id=d.account, kind=AccountKind.DISPUTE, owner=lease.terms.tenant, lease=lease_id
            )
        )
        legs = {a: -v for a, v in d.held.items() if v}
        legs[d.account] = held_total
        self.ledger.post(
            txn(
                f"dhold:{d.id}",
                TxnKind.DISPUTE_HOLD,
                at,
                legs,
                {"lease": lease_id, "reason": reason.value},
            )
        )
        self.disputes[d.id] = d
        return d

    def resolve_dispute(self, dispute_id: str, buyer_bps: int, at: datetime) -> Dispute:
        """Settle a dispute: ``buyer_bps`` of the held amount goes back to the tenant (through
        the lease's funding sources), the rest back to the providers' pending earnings."""
        d = self.disputes.get(dispute_id)
        if d is None:
            raise MarketError(f"unknown dispute {dispute_id!r}")
        if d.state is DisputeState.RESOLVED:
            return d
        if not 0 <= buyer_bps <= BPS:
            raise MarketError(f"buyer share must be 0..{BPS} basis points, got {buyer_bps}")
        lease = self.lease(d.lease)
        parts = split_exact(d.amount_micros, {"buyer": buyer_bps, "provider": BPS - buyer_bps})
        legs: dict[str, int] = {d.account: -d.amount_micros}
        if parts["buyer"]:
            for a, v in self._back_to_sources(lease, parts["buyer"]).items():
                legs[a] = legs.get(a, 0) + v
        if parts["provider"]:
            for a, v in split_exact(parts["provider"], d.held).items():
                legs[a] = legs.get(a, 0) + v
        self.ledger.post(
            txn(
                f"dres:{d.id}",
                TxnKind.DISPUTE_RESOLVE,
                at,
                legs,
                {"lease": d.lease, "buyer_bps": str(buyer_bps)},
            )
        )
        d.state = DisputeState.RESOLVED
        d.buyer_micros, d.provider_micros = parts["buyer"], parts["provider"]
        if parts["buyer"] and not lease.live:
            self._refund(lease, at)
        return d


def prepay_for(units_milli: int, price_micros_per_unit_hour: int, seconds: int) -> int:
    """What ``seconds`` of a lease cost at its rate (rounded once): a prepayment."""
    return rate_cumulative(units_milli * seconds, price_micros_per_unit_hour)


def rate_for(total_micros: int, units_milli: int, seconds: int) -> int:
    """The per-unit-hour rate that bills ``total_micros`` for ``units_milli`` over ``seconds``
    (rounded once)."""
    if units_milli <= 0 or seconds <= 0:
        raise ValueError("units and seconds must be positive")
    num = total_micros * MILLI * SECONDS_PER_HOUR
    den = units_milli * seconds
    q, r = divmod(num, den)
    return q + (1 if 2 * r >= den else 0)
