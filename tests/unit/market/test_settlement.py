"""The market's books, as worked examples: a lease's money from prepayment to payout.

Unless a test says otherwise a lease is one normalized unit (1000 milli-units) at 3.60 per
unit-hour, so one proven second costs exactly 1000 micro-units (0.001), and its revenue split
is provider 900 : carrier 100 after a 5 % platform fee, so a payment ``p`` goes 85.5 % to the
provider, 9.5 % to the carrier and 5 % to the platform. Heartbeats come every 30 seconds and
the grace period is 120 seconds.

The regressions at the end pin bugs these tests found (each docstring says what was wrong).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from suanwang.core.market.errors import (
    BudgetExceededError,
    InsufficientFundsError,
    LeaseStateError,
    MarketError,
    VoucherRuleError,
)
from suanwang.core.market.leases import (
    PLATFORM_ACCOUNT,
    CloseReason,
    Lease,
    LeaseState,
    LeaseTerms,
    RevenueSplit,
    SlaTier,
)
from suanwang.core.market.ledger import Ledger, TxnKind
from suanwang.core.market.metering import UsageEvent, UsageKind, epoch_s, event_id
from suanwang.core.market.settlement import (
    DisputeReason,
    DisputeState,
    Market,
    MarketConfig,
    escrow_account,
    pool_account,
    prepay_for,
    rate_for,
    tenant_account,
)
from suanwang.core.market.verify import verify
from suanwang.core.market.vouchers import TenantProfile, VoucherProgram, eligibility
from suanwang.core.units import ComputeClass
from suanwang.world.builtin import load_builtin_world

T0 = datetime(2026, 7, 1, tzinfo=UTC)
T0_S = epoch_s(T0)
DAY = 86_400
PER_SECOND = 1000  # micros one proven second costs at the default price
PROVIDER = "pending:l1:provider:op"
CARRIER = "pending:l1:carrier:cx"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def terms(
    lid: str = "l1",
    *,
    tenant: str = "acme",
    prepay_s: int = 600,
    created: float = 0,
    cls: ComputeClass = ComputeClass.AI,
    **over: Any,
) -> LeaseTerms:
    base: dict[str, Any] = {
        "id": lid,
        "task": f"task-{lid}",
        "tenant": tenant,
        "site": "cn-zhongwei",
        "model": "nvidia-h100",
        "compute_class": cls,
        "units_milli": 1000,
        "price_micros_per_unit_hour": 3_600_000,
        "currency": "USD",
        "unit_table_version": "2026.1",
        "split": RevenueSplit(provider="op", provider_weight=900, carriers={"cx": 100}),
        "sla": SlaTier.BEST_EFFORT,
        "prepay_micros": prepay_s * PER_SECOND,
        "created_at": at(created),
    }
    base.update(over)
    return LeaseTerms(**base)


def market(cash: int = 10_000_000, *, tenant: str = "acme", **config: Any) -> Market:
    m = Market(MarketConfig(**config))
    m.add_tenant(TenantProfile(id=tenant, country="SE", sme=True))
    if cash:
        m.deposit(tenant, cash, f"{tenant}-start", T0)
    return m


def beat(m: Market, lid: str, seconds: float, source: str = "agent") -> bool:
    t = at(seconds)
    return m.ingest(
        UsageEvent(source=source, id=event_id(lid, UsageKind.HEARTBEAT, t), lease=lid, time=t)
    )


def beats(m: Market, lid: str, seconds: Iterable[float]) -> None:
    for s in seconds:
        beat(m, lid, s)


def state(lease: Lease) -> LeaseState:
    """The lease's state now (a call, so that type checkers do not narrow it for good)."""
    return lease.state


def records(m: Market) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in m.ledger.records()]


def escrow(m: Market, lid: str = "l1") -> int:
    return sum(m.ledger.balance(a.id) for a in m.ledger.lease_accounts(lid) if a.kind == "escrow")


def assert_sound(m: Market) -> None:
    """The ledger passes the independent verifier and rebuilds to the same balances."""
    assert m.ledger.total() == 0
    assert verify(records(m)) == []
    assert Ledger.from_records(m.ledger.records()).balances() == m.ledger.balances()


def assert_closure(m: Market, lease: Lease) -> None:
    """What went into a lease's escrow came out again, to the micro (I3).

    Money enters an escrow by funding (prepayment, top-ups), SLA credits and dispute rulings
    for the buyer; it leaves by settlements and refunds. So at all times
    ``funded + credited + returned == paid + refunded + escrow``, and a lease that has ended
    holds no escrow: ``funded == paid + refunded - credited - returned``.
    """
    returned = sum(d.buyer_micros for d in m.disputes.values() if d.lease == lease.id)
    assert lease.funded_micros + lease.credited_micros + returned == (
        lease.paid_cum_micros + lease.refunded_micros + escrow(m, lease.id)
    )
    settled = [t for t in m.ledger.txns_for_lease(lease.id) if t.kind is TxnKind.USAGE_SETTLEMENT]
    assert lease.paid_cum_micros == sum(
        -e.amount for t in settled for e in t.entries if e.account.startswith("escrow:")
    )
    if not lease.live:
        assert escrow(m, lease.id) == 0


# --- a lease's life in numbers ------------------------------------------------------------------


def test_a_lease_from_prepayment_to_payout() -> None:
    m = market(10_000_000)
    lease = m.open_lease(terms(prepay_s=900))  # 0.90 into escrow
    assert (lease.state, m.balance("acme"), escrow(m)) == (
        LeaseState.PENDING_START,
        9_100_000,
        900_000,
    )
    beats(m, "l1", range(10, 311, 30))  # running from T+10
    assert (lease.state, lease.running_confirmed_at) == (LeaseState.ACTIVE, T0_S + 10)

    st = m.settle("l1", at(310))
    assert st is not None
    assert (st.seconds, st.qty_cum, st.due_cum_micros, st.usage_micros) == (
        300,
        300_000,
        300_000,
        300_000,
    )
    assert m.ledger.balance(PROVIDER) == 256_500  # 85.5 %
    assert m.ledger.balance(CARRIER) == 28_500  # 9.5 %
    assert m.ledger.balance(PLATFORM_ACCOUNT) == 15_000  # 5 %
    assert m.settle("l1", at(310)) is None  # nothing new: nothing written

    beats(m, "l1", range(340, 611, 30))
    m.close("l1", CloseReason.COMPLETED, at(700))
    assert (lease.state, lease.close_reason, lease.closed_at) == (
        LeaseState.CLOSED,
        CloseReason.COMPLETED,
        T0_S + 700,
    )
    # proven: T+10 .. T+610 (nothing after the last heartbeat) = 600 s = 0.60
    assert (lease.seconds_cum, lease.paid_cum_micros, lease.refunded_micros) == (
        600,
        600_000,
        300_000,
    )
    assert (m.balance("acme"), escrow(m)) == (9_400_000, 0)

    assert m.release(at(700 + DAY - 1)) == []  # the dispute window is still open
    (rel,) = m.release(at(700 + DAY))
    assert rel.kind is TxnKind.RELEASE
    assert m.ledger.balance("provider:op") == 513_000
    assert m.ledger.balance("carrier:cx") == 57_000
    assert m.ledger.balance(PLATFORM_ACCOUNT) == 30_000
    assert m.ledger.balance(PROVIDER) == m.ledger.balance(CARRIER) == 0
    assert lease.released
    assert_closure(m, lease)
    assert_sound(m)


def test_every_cursor_statement_adds_up() -> None:
    m = market()
    lease = m.open_lease(terms())
    for k, s in enumerate(range(0, 901, 30)):
        beat(m, "l1", s)
        if k % 4 == 3:
            m.settle("l1", at(s))
    m.close("l1", CloseReason.CANCELLED, at(905))
    sts = lease.statements
    assert [s.seq for s in sts] == list(range(1, len(sts) + 1))
    assert all(a.period_end == b.period_start for a, b in itertools.pairwise(sts))
    assert sum(s.usage_micros + s.correction_micros for s in sts) == lease.due_cum_micros
    assert sum(s.seconds + s.correction_seconds for s in sts) == lease.seconds_cum == 900
    assert sts[-1].paid_cum_micros == lease.paid_cum_micros == 900_000
    assert_closure(m, lease)
    assert_sound(m)


@pytest.mark.parametrize(
    ("case", "beat_seconds", "close_at", "seconds"),
    [
        ("no heartbeat, nothing billed", [], 500, 0),
        ("a single heartbeat proves nothing", [100], 500, 0),
        ("every 30 s from T+0 to T+300", list(range(0, 301, 30)), 500, 300),
        ("a 150 s gap (over the grace) is not billed", [0, 30, 60, 210, 240], 500, 90),
        ("a 120 s gap (the grace) is billed", [0, 30, 60, 180, 210], 500, 210),
        ("heartbeats after the close are not billed", list(range(0, 601, 30)), 300, 300),
        ("heartbeats before the lease exists bill from its start", [-60, 30, 60], 500, 60),
    ],
)
def test_what_a_lease_bills(
    case: str, beat_seconds: list[int], close_at: int, seconds: int
) -> None:
    m = market()
    lease = m.open_lease(terms())
    beats(m, "l1", beat_seconds)
    m.close("l1", CloseReason.COMPLETED, at(close_at))
    assert lease.seconds_cum == seconds, case
    assert lease.paid_cum_micros == seconds * PER_SECOND
    assert_closure(m, lease)
    assert_sound(m)


# --- start -------------------------------------------------------------------------------------


def test_a_lease_that_never_starts_fails_and_is_fully_refunded() -> None:
    m = market(1_000_000)
    lease = m.open_lease(terms(prepay_s=600, start_timeout_s=900))
    assert m.settle("l1", at(900)) is None  # the deadline itself is still in time
    assert lease.state is LeaseState.PENDING_START
    assert m.settle("l1", at(901)) is None
    assert (lease.state, lease.close_reason, lease.closed_at) == (
        LeaseState.FAILED_START,
        CloseReason.START_TIMEOUT,
        T0_S + 900,
    )
    assert (lease.paid_cum_micros, lease.refunded_micros, m.balance("acme")) == (
        0,
        600_000,
        1_000_000,
    )
    before = records(m)
    assert beat(m, "l1", 950) is True  # a heartbeat now changes nothing
    assert state(lease) is LeaseState.FAILED_START
    assert m.close("l1", CloseReason.CANCELLED, at(960)) is lease
    assert m.check_start("l1", at(970)) is False
    assert records(m) == before
    assert_closure(m, lease)
    assert_sound(m)


def test_a_heartbeat_after_the_start_timeout_does_not_start_a_lease() -> None:
    m = market()
    lease = m.open_lease(terms(start_timeout_s=60))
    beat(m, "l1", 61)
    assert lease.state is LeaseState.PENDING_START
    assert m.check_start("l1", at(62)) is True
    assert state(lease) is LeaseState.FAILED_START


def test_a_late_delivered_heartbeat_dated_in_time_starts_the_lease() -> None:
    m = market()
    lease = m.open_lease(terms(start_timeout_s=60))
    beat(m, "l1", 50)  # dated within the timeout, delivered whenever
    assert (lease.state, lease.running_confirmed_at) == (LeaseState.ACTIVE, T0_S + 50)
    assert m.check_start("l1", at(5000)) is False


def test_closing_a_lease_before_it_starts_refunds_everything() -> None:
    m = market(1_000_000)
    lease = m.open_lease(terms(prepay_s=600))
    m.close("l1", CloseReason.CANCELLED, at(30))
    assert (lease.state, lease.close_reason, lease.refunded_micros) == (
        LeaseState.CLOSED,
        CloseReason.CANCELLED,
        600_000,
    )
    assert m.balance("acme") == 1_000_000
    assert_sound(m)


# --- running out of funds: pause, never destroy ---------------------------------------------------


def test_out_of_funds_pauses_and_a_deposit_resumes() -> None:
    m = market(100_000)  # exactly the prepayment: 100 s
    lease = m.open_lease(terms(prepay_s=100))
    beats(m, "l1", range(0, 181, 30))
    m.settle("l1", at(180))
    # 180 s due, 100 s paid: the lease is paused at its cursor, owing 80 s
    assert (lease.state, lease.paused, lease.owed_micros) == (
        LeaseState.PAUSED_FUNDS,
        [(T0_S + 180, None)],
        80_000,
    )
    assert escrow(m) == 0

    beats(m, "l1", range(210, 601, 30))  # the workload is kept running...
    before = records(m)
    m.settle("l1", at(600))
    assert (lease.seconds_cum, lease.owed_micros) == (180, 80_000)  # ...but nothing accrues
    assert records(m) == before
    assert lease.live  # the market never closes it for lack of funds

    m.deposit("acme", 1_000_000, "top", at(600))
    # the debt is paid from the deposit (the rest of it is escrowed as a buffer); accrual resumes
    assert (lease.state, lease.owed_micros, lease.paused) == (
        LeaseState.ACTIVE,
        0,
        [(T0_S + 180, T0_S + 600)],
    )
    assert (lease.paid_cum_micros, escrow(m), m.balance("acme")) == (180_000, 920_000, 0)
    beats(m, "l1", [630, 660])
    m.settle("l1", at(660))
    assert (lease.seconds_cum, lease.paid_cum_micros) == (240, 240_000)
    m.close("l1", CloseReason.COMPLETED, at(660))
    assert m.balance("acme") == 1_100_000 - 240_000
    assert_closure(m, lease)
    assert_sound(m)


def test_closing_a_paused_lease_leaves_its_debt_and_no_escrow() -> None:
    m = market(100_000)
    lease = m.open_lease(terms(prepay_s=100))
    beats(m, "l1", range(0, 181, 30))
    m.settle("l1", at(180))
    beats(m, "l1", range(210, 301, 30))
    m.close("l1", CloseReason.CANCELLED, at(300))
    assert (lease.state, lease.paused, lease.seconds_cum) == (
        LeaseState.CLOSED,
        [(T0_S + 180, T0_S + 300)],
        180,
    )
    assert (lease.paid_cum_micros, lease.owed_micros, escrow(m)) == (100_000, 80_000, 0)
    before = records(m)
    m.deposit("acme", 5_000, "later", at(400))  # a closed lease is not resumed
    assert lease.state is LeaseState.CLOSED
    assert len(records(m)) == len(before) + 1
    assert_closure(m, lease)
    assert_sound(m)


def test_a_top_up_buys_one_more_hour() -> None:
    m = market(10_000_000)
    lease = m.open_lease(terms(prepay_s=60))
    beats(m, "l1", range(0, 121, 30))
    m.settle("l1", at(120))
    (topup,) = [t for t in m.ledger.txns_for_lease("l1") if t.kind is TxnKind.TOP_UP]
    # owed 120 s, escrow held 60 s: 60 s plus an hour (3600 s) of buffer
    assert {e.account: e.amount for e in topup.entries} == {
        tenant_account("acme"): -3_660_000,
        escrow_account("l1", "cash"): 3_660_000,
    }
    assert (lease.state, lease.topups, escrow(m)) == (LeaseState.ACTIVE, 1, 3_600_000)


# --- budget caps ----------------------------------------------------------------------------------


def test_a_prepayment_over_the_budget_cap_is_refused_and_writes_nothing() -> None:
    m = market(10_000_000)
    m.set_budget("acme", 500_000)
    before = records(m)
    with pytest.raises(BudgetExceededError, match="budget cap leaves 500000"):
        m.open_lease(terms(prepay_s=600))
    assert records(m) == before
    assert "l1" not in m.leases
    assert "l1" not in m.meters
    lease = m.open_lease(terms(prepay_s=500))
    assert m.ledger.committed("acme") == 500_000
    assert lease.funded_micros == 500_000


def test_a_project_cap_is_checked_too() -> None:
    m = market(10_000_000)
    m.set_budget("acme", 300_000, project="research")
    with pytest.raises(BudgetExceededError):
        m.open_lease(terms(prepay_s=400, project="research"))
    m.open_lease(terms("l2", prepay_s=400, project="ops"))  # another project: no cap
    assert m.ledger.committed("acme", "ops") == 400_000


def test_without_money_a_lease_cannot_open() -> None:
    m = market(100_000)
    before = records(m)
    with pytest.raises(InsufficientFundsError, match="tenant:acme holds 100000"):
        m.open_lease(terms(prepay_s=101))
    assert records(m) == before
    assert "l1" not in m.leases


def test_top_ups_stop_at_the_cap_and_the_lease_pauses() -> None:
    m = market(10_000_000)
    m.set_budget("acme", 150_000)
    lease = m.open_lease(terms(prepay_s=100))
    beats(m, "l1", range(0, 241, 30))
    m.settle("l1", at(240))
    assert m.ledger.committed("acme") == 150_000  # topped up to the cap, not over
    assert (lease.state, lease.paid_cum_micros, lease.owed_micros) == (
        LeaseState.PAUSED_FUNDS,
        150_000,
        90_000,
    )
    m.deposit("acme", 1, "more-cash", at(250))  # money is not what is missing...
    assert lease.state is LeaseState.PAUSED_FUNDS
    m.set_budget("acme", 1_000_000)  # ...room under the cap is
    m.settle("l1", at(260))
    assert state(lease) is LeaseState.ACTIVE
    assert m.ledger.committed("acme") == 1_000_000
    assert_sound(m)


# --- vouchers -------------------------------------------------------------------------------------


def _voucher_market(
    *,
    share_bps: int = 5000,
    grant: int = 1_000_000,
    valid_days: int = 90,
    cash: int = 10_000_000,
    **kw: Any,
) -> Market:
    m = market(cash)
    m.add_program(
        VoucherProgram(
            id="compute",
            issuer="city",
            grant_micros=grant,
            share_bps=share_bps,
            valid_days=valid_days,
            **kw,
        ),
        10_000_000,
        T0,
    )
    m.grant_voucher("compute", "acme", T0, {})
    return m


def test_a_voucher_pays_its_share_and_is_refunded_to_itself() -> None:
    m = _voucher_market()
    v = m.vouchers["compute.acme"]
    lease = m.open_lease(terms(prepay_s=600))
    (fund,) = [t for t in m.ledger.txns_for_lease("l1") if t.kind is TxnKind.FUND_LEASE]
    assert {e.account: e.amount for e in fund.entries} == {
        tenant_account("acme"): -300_000,
        escrow_account("l1", "cash"): 300_000,
        v.account: -300_000,
        escrow_account("l1", v.id): 300_000,
    }
    beats(m, "l1", range(0, 401, 30))  # 390 s
    m.close("l1", CloseReason.COMPLETED, at(400))
    assert lease.paid_cum_micros == 390_000  # drawn half and half
    # each source's remainder goes home: cash to the tenant, voucher money to the voucher
    assert m.balance("acme") == 10_000_000 - 195_000
    assert m.ledger.balance(v.account) == 1_000_000 - 195_000
    (refund,) = [t for t in m.ledger.txns_for_lease("l1") if t.kind is TxnKind.REFUND]
    assert {e.account: e.amount for e in refund.entries} == {
        escrow_account("l1", "cash"): -105_000,
        tenant_account("acme"): 105_000,
        escrow_account("l1", v.id): -105_000,
        v.account: 105_000,
    }
    assert_closure(m, lease)
    assert_sound(m)


@pytest.mark.parametrize(
    ("share_bps", "amount", "voucher_part"),
    [
        (5000, 600_000, 300_000),
        (2500, 600_000, 150_000),
        (3333, 100, 33),  # floor: the voucher never covers more than its share
        (10_000, 600_000, 600_000),
    ],
)
def test_a_voucher_covers_at_most_its_share(share_bps: int, amount: int, voucher_part: int) -> None:
    m = _voucher_market(share_bps=share_bps)
    v = m.vouchers["compute.acme"]
    m.open_lease(terms(prepay_s=0, prepay_micros=amount))
    assert m.ledger.balance(escrow_account("l1", v.id)) == voucher_part
    assert m.ledger.balance(escrow_account("l1", "cash")) == amount - voucher_part
    assert voucher_part * 10_000 <= share_bps * amount


def test_a_voucher_never_pays_more_than_its_share_of_what_cash_matches() -> None:
    m = _voucher_market(cash=100_000)  # the tenant can match only 0.10
    with pytest.raises(InsufficientFundsError):
        m.open_lease(terms(prepay_s=600))  # needs 0.30 cash beside 0.30 voucher
    m.open_lease(terms(prepay_s=200))
    assert escrow(m) == 200_000


def test_an_hpc_voucher_does_not_pay_for_ai() -> None:
    m = _voucher_market(classes=(ComputeClass.HPC,))
    m.open_lease(terms(prepay_s=600))
    assert m.ledger.balance(escrow_account("l1", "cash")) == 600_000
    assert not m.ledger.has(escrow_account("l1", "compute.acme"))
    m.open_lease(terms("l2", prepay_s=600, cls=ComputeClass.HPC))
    assert m.ledger.balance(escrow_account("l2", "compute.acme")) == 300_000


def test_an_expired_voucher_returns_to_its_pool() -> None:
    m = _voucher_market(valid_days=1)
    v = m.vouchers["compute.acme"]
    lease = m.open_lease(terms(prepay_s=600))
    beats(m, "l1", range(0, 301, 30))
    m.settle("l1", at(300))
    assert m.expire_vouchers(at(DAY - 1)) == []  # not yet
    (breakage,) = m.expire_vouchers(at(DAY))
    assert {e.account: e.amount for e in breakage.entries} == {
        v.account: -700_000,
        pool_account("compute"): 700_000,
    }
    assert m.expire_vouchers(at(DAY)) == []  # idempotent
    # escrowed voucher money may still pay for what ran; its remainder goes to the pool now
    m.close("l1", CloseReason.COMPLETED, at(DAY + 10))
    assert m.ledger.balance(v.account) == 0
    assert m.ledger.balance(pool_account("compute")) == 10_000_000 - 1_000_000 + 700_000 + 150_000
    assert m.balance("acme") == 10_000_000 - 150_000
    assert_closure(m, lease)
    assert_sound(m)


def test_after_expiry_top_ups_are_cash_only() -> None:
    m = _voucher_market(valid_days=1)
    m.open_lease(terms(prepay_s=60, created=DAY - 100))
    beats(m, "l1", range(DAY - 100, DAY + 200, 30))
    m.settle("l1", at(DAY + 200))
    (topup,) = [t for t in m.ledger.txns_for_lease("l1") if t.kind is TxnKind.TOP_UP]
    assert {e.account for e in topup.entries} == {
        tenant_account("acme"),
        escrow_account("l1", "cash"),
    }
    assert_sound(m)


def test_voucher_eligibility_and_grants() -> None:
    world = load_builtin_world()
    countries = {c.code: c for c in world.countries}
    m = market(0)
    m.add_tenant(TenantProfile(id="nairobi-ai", country="KE"))
    m.add_tenant(TenantProfile(id="stockholm-ai", country="SE"))
    program = VoucherProgram(id="divide", issuer="fund", grant_micros=400_000)
    m.add_program(program, 1_000_000, T0)
    m.add_program(program, 1_000_000, T0)  # the same funding again is one funding
    assert m.ledger.balance(pool_account("divide")) == 1_000_000
    ok, why = eligibility(m.tenants["nairobi-ai"], program, countries)
    assert ok
    assert "Kenya" in why
    with pytest.raises(VoucherRuleError, match="Sweden"):
        m.grant_voucher("divide", "stockholm-ai", T0, countries)
    assert m.grant_voucher("divide", "acme", T0, countries).grant_micros == 400_000  # an SME
    v = m.grant_voucher("divide", "nairobi-ai", T0, countries)
    assert m.grant_voucher("divide", "nairobi-ai", at(5), countries) is v  # once per tenant
    assert v.expires_at == T0 + timedelta(days=90)
    m.add_tenant(TenantProfile(id="kampala-ml", country="UG", sme=True))
    before = records(m)
    with pytest.raises(InsufficientFundsError):  # only 0.20 is left in the pool
        m.grant_voucher("divide", "kampala-ml", T0, countries)
    assert records(m) == before
    assert "divide.kampala-ml" not in m.vouchers
    with pytest.raises(MarketError, match="unknown voucher programme"):
        m.grant_voucher("nope", "acme", T0, countries)
    assert_sound(m)


# --- SLA credits ----------------------------------------------------------------------------------


def _guaranteed_with_gap(gap: int, sla: SlaTier = SlaTier.GUARANTEED) -> tuple[Market, Lease]:
    """A 100_000 s window, heartbeats every 100 s except one ``gap``: availability is
    (100_000 - gap) / 100_000 when the gap is over the grace."""
    m = market(300_000_000)
    lease = m.open_lease(terms(prepay_s=100_000, sla=sla))
    if gap <= 120:
        seconds = list(range(0, 100_001, 100))
    else:
        seconds = [*range(0, 50_001, 100), *range(50_000 + gap, 100_000, 100), 100_000]
    beats(m, "l1", seconds)
    m.close("l1", CloseReason.COMPLETED, at(100_000))
    return m, lease


@pytest.mark.parametrize(
    ("gap", "availability_ppm", "credit_bps"),
    [
        (0, 1_000_000, 0),
        (500, 995_000, 0),  # exactly the 99.5 % target: no credit
        (501, 994_990, 1000),  # below 99.5 %: 10 %
        (1000, 990_000, 1000),
        (1001, 989_990, 2500),  # below 99 %: 25 %
        (5000, 950_000, 2500),
        (5001, 949_990, 5000),  # below 95 %: 50 %
        (30_000, 700_000, 5000),
    ],
)
def test_sla_credit_schedule(gap: int, availability_ppm: int, credit_bps: int) -> None:
    m, lease = _guaranteed_with_gap(gap)
    paid = (100_000 - gap) * PER_SECOND
    assert lease.paid_cum_micros == paid
    assert m.availability_ppm(lease) == availability_ppm
    assert lease.credited_micros == paid * credit_bps // 10_000
    # the credit comes out of the providers' pending earnings, the platform keeps its fee
    assert m.ledger.balance(PLATFORM_ACCOUNT) == paid // 20
    assert (
        m.ledger.balance(PROVIDER) + m.ledger.balance(CARRIER)
        == paid * 19 // 20 - lease.credited_micros
    )
    assert m.balance("acme") == 300_000_000 - paid + lease.credited_micros
    assert_closure(m, lease)
    assert_sound(m)


@pytest.mark.parametrize("sla", [SlaTier.BEST_EFFORT, SlaTier.INTERRUPTIBLE])
def test_no_sla_credit_without_a_guarantee(sla: SlaTier) -> None:
    _, lease = _guaranteed_with_gap(30_000, sla)
    assert lease.credited_micros == 0


def test_availability_is_unknown_until_a_running_lease_closes() -> None:
    m = market()
    lease = m.open_lease(terms())
    assert m.availability_ppm(lease) is None
    beats(m, "l1", [0, 30])
    assert m.availability_ppm(lease) is None
    m.close("l1", CloseReason.COMPLETED, at(100))
    # 30 s proven + the 70 s after the last heartbeat (within the grace) of a 100 s window
    assert m.availability_ppm(lease) == 1_000_000


# --- disputes and release -------------------------------------------------------------------------


def _closed_lease(seconds: int = 600) -> tuple[Market, Lease]:
    m = market(10_000_000)
    lease = m.open_lease(terms(prepay_s=1000))
    beats(m, "l1", range(0, seconds + 1, 30))
    m.close("l1", CloseReason.COMPLETED, at(seconds))
    return m, lease


def test_a_dispute_holds_pending_earnings_and_blocks_release() -> None:
    m, lease = _closed_lease(600)  # 0.60 paid: 0.513 provider, 0.057 carrier pending
    d = m.open_dispute("l1", 100_000, DisputeReason.NOT_RUNNING, at(700))
    assert (d.id, d.amount_micros, d.held) == (
        "l1.d1",
        100_000,
        {PROVIDER: 90_000, CARRIER: 10_000},
    )
    assert m.ledger.balance(d.account) == 100_000
    assert m.release(at(600 + DAY)) == []  # finality: nothing released while it is open (I17)
    assert m.ledger.balance("provider:op") == 0

    m.resolve_dispute(d.id, 5000, at(800))  # split down the middle
    assert (d.state, d.buyer_micros, d.provider_micros) == (DisputeState.RESOLVED, 50_000, 50_000)
    assert m.balance("acme") == 10_000_000 - 600_000 + 50_000  # the buyer's half came back
    before = records(m)
    assert m.resolve_dispute(d.id, 0, at(900)) is d  # resolved once only
    assert records(m) == before

    (rel,) = m.release(at(600 + DAY))
    assert m.ledger.balance("provider:op") == 513_000 - 45_000
    assert m.ledger.balance("carrier:cx") == 57_000 - 5_000
    assert rel.refs == {"lease": "l1"}
    assert_closure(m, lease)
    assert_sound(m)


def test_a_dispute_holds_at_most_what_is_pending() -> None:
    m, _ = _closed_lease(600)
    d = m.open_dispute("l1", 10**12, DisputeReason.WRONG_QUANTITY, at(700))
    assert d.amount_micros == 570_000
    m.resolve_dispute(d.id, 10_000, at(701))
    assert m.balance("acme") == 10_000_000 - 600_000 + 570_000
    assert m.release(at(600 + DAY)) == []  # nothing left to release
    assert_sound(m)


def test_a_dispute_on_a_live_lease_returns_money_to_its_escrow() -> None:
    m = market(10_000_000)
    lease = m.open_lease(terms(prepay_s=1000))
    beats(m, "l1", range(0, 301, 30))
    m.settle("l1", at(300))
    d = m.open_dispute("l1", 30_000, DisputeReason.QUALITY, at(310))
    m.resolve_dispute(d.id, 10_000, at(320))
    assert escrow(m) == 1_000_000 - 300_000 + 30_000
    m.close("l1", CloseReason.COMPLETED, at(330))
    assert_closure(m, lease)
    assert_sound(m)


def test_dispute_errors() -> None:
    m, _ = _closed_lease(600)
    with pytest.raises(MarketError, match="must be positive"):
        m.open_dispute("l1", 0, DisputeReason.OTHER, at(700))
    d = m.open_dispute("l1", 1, DisputeReason.DUPLICATE, at(700))
    with pytest.raises(MarketError, match="basis points"):
        m.resolve_dispute(d.id, 10_001, at(701))
    with pytest.raises(MarketError, match="unknown dispute"):
        m.resolve_dispute("l1.d9", 0, at(701))
    m.resolve_dispute(d.id, 0, at(702))
    m.release(at(600 + DAY))
    with pytest.raises(LeaseStateError, match="no pending earnings"):
        m.open_dispute("l1", 1, DisputeReason.OTHER, at(600 + DAY))


# --- late events and replays ----------------------------------------------------------------------


def test_a_late_heartbeat_becomes_a_correction_line() -> None:
    m = market()
    lease = m.open_lease(terms(grace_s=40))
    beats(m, "l1", [0, 30, 60, 120, 150])  # the 60 -> 120 gap is over the 40 s grace
    m.settle("l1", at(150))
    assert lease.seconds_cum == 90
    beat(m, "l1", 90)  # the missing heartbeat arrives late
    st = m.settle("l1", at(160))
    assert st is not None
    assert (st.period_start, st.period_end, st.seconds, st.usage_micros) == (
        T0_S + 150,
        T0_S + 150,
        0,
        0,
    )
    assert (st.correction_seconds, st.correction_micros) == (60, 60_000)
    assert (lease.seconds_cum, lease.paid_cum_micros) == (150, 150_000)
    assert lease.statements[0].due_cum_micros == 90_000  # the earlier statement is not rewritten
    assert_sound(m)


def _script(m: Market) -> None:
    """A fixed sequence of calls touching every kind of money movement."""
    m.add_program(VoucherProgram(id="compute", issuer="city", grant_micros=500_000), 5_000_000, T0)
    m.grant_voucher("compute", "acme", T0, {})
    m.deposit("acme", 2_000_000, "p2", at(1))
    m.open_lease(terms(prepay_s=300, created=2, sla=SlaTier.GUARANTEED))
    m.open_lease(terms("l2", prepay_s=100, created=3))
    for s in range(5, 700, 30):
        beat(m, "l1", s)
        if s < 400:
            beat(m, "l2", s + 1)
        if s % 150 == 5:
            m.settle("l1", at(s))
            m.settle("l2", at(s))
    beat(m, "l1", 7, source="buyer-agent")
    m.close("l1", CloseReason.COMPLETED, at(700))
    d = m.open_dispute("l1", 20_000, DisputeReason.QUALITY, at(710))
    m.resolve_dispute(d.id, 2500, at(720))
    m.close("l2", CloseReason.PROVIDER_UNSTABLE, at(730))
    m.expire_vouchers(at(91 * DAY))
    m.release(at(91 * DAY))


def test_the_same_calls_give_the_same_books() -> None:
    a, b = market(), market()
    _script(a)
    _script(b)
    assert records(a) == records(b)
    assert_sound(a)


def test_replaying_every_call_changes_nothing() -> None:
    m = market()
    _script(m)
    before = records(m)
    leases = {k: (v.paid_cum_micros, v.seconds_cum, v.state) for k, v in m.leases.items()}
    m.deposit("acme", 10_000_000, "acme-start", T0 + timedelta(days=100))  # same payment ref
    m.grant_voucher("compute", "acme", at(91 * DAY), {})
    m.add_program(m.programs["compute"], 5_000_000, at(91 * DAY))
    assert m.open_lease(terms(prepay_s=300, created=2, sla=SlaTier.GUARANTEED)) is m.leases["l1"]
    for s in range(5, 700, 30):
        assert beat(m, "l1", s) is False  # duplicates are acknowledged and ignored
    for lid in ("l1", "l2"):
        m.close(lid, CloseReason.CANCELLED, at(91 * DAY))
        m.settle(lid, at(91 * DAY))
    m.resolve_dispute("l1.d1", 10_000, at(91 * DAY))
    m.expire_vouchers(at(91 * DAY))
    m.release(at(91 * DAY))
    assert records(m) == before
    assert {k: (v.paid_cum_micros, v.seconds_cum, v.state) for k, v in m.leases.items()} == leases
    assert m.leases["l1"].close_reason is CloseReason.COMPLETED  # the first close holds


# --- refusals -------------------------------------------------------------------------------------


def test_refusals() -> None:
    m = market()
    with pytest.raises(MarketError, match="unknown tenant"):
        m.deposit("ghost", 1, "r", T0)
    with pytest.raises(MarketError, match="must be positive"):
        m.deposit("acme", 0, "r", T0)
    with pytest.raises(MarketError, match="another profile"):
        m.add_tenant(TenantProfile(id="acme", country="CN"))
    with pytest.raises(MarketError, match="unknown tenant"):
        m.open_lease(terms(tenant="ghost"))
    with pytest.raises(MarketError, match="priced in EUR"):
        m.open_lease(terms(currency="EUR"))
    m.open_lease(terms())
    with pytest.raises(MarketError, match="other terms"):
        m.open_lease(terms(prepay_s=1))
    with pytest.raises(MarketError, match="unknown lease"):
        m.settle("nope", T0)
    with pytest.raises(ValueError, match="not l1"):
        m.meters["l1"].ingest(
            UsageEvent(source="a", id="x", lease="nope", time=T0)
        )  # a meter holds one lease's events
    with pytest.raises(MarketError, match="unknown lease"):
        beat(m, "nope", 1)
    assert_sound(m)


@pytest.mark.parametrize(
    ("units_milli", "price", "seconds", "prepay"),
    [
        (1000, 3_600_000, 600, 600_000),
        (494_500, 2000, 3600, 989_000),
        (250, 1_000_000, 7200, 500_000),
        (1, 1, 1, 0),
    ],
)
def test_prepay_for(units_milli: int, price: int, seconds: int, prepay: int) -> None:
    assert prepay_for(units_milli, price, seconds) == prepay


@pytest.mark.parametrize(
    ("total", "units_milli", "seconds", "rate"),
    [
        (600_000, 1000, 600, 3_600_000),
        (1_000_000, 500, 3600, 2_000_000),
        (1, 3000, 3600, 0),
        (1, 2000, 3600, 1),
    ],
)
def test_rate_for(total: int, units_milli: int, seconds: int, rate: int) -> None:
    assert rate_for(total, units_milli, seconds) == rate


def test_rate_for_refuses_nothing() -> None:
    with pytest.raises(ValueError, match="positive"):
        rate_for(1, 0, 10)


# --- regressions: bugs these tests found -------------------------------------------------------


def test_running_confirmation_does_not_depend_on_delivery_order() -> None:
    """Regression (I8): running was confirmed by the first heartbeat *delivered*, not the
    earliest; an earlier one delivered second never moved it back, so the same heartbeats in
    another order billed less."""
    paid = []
    for order in ([10, 40, 70, 100], [40, 10, 70, 100]):
        m = market()
        lease = m.open_lease(terms())
        beats(m, "l1", order)
        m.close("l1", CloseReason.COMPLETED, at(400))
        paid.append((lease.running_confirmed_at, lease.paid_cum_micros))
    assert paid[0] == paid[1] == (T0_S + 10, 90_000)


def test_a_failed_start_refund_is_not_dated_before_earlier_transactions() -> None:
    """Regression: a failed start's refund was dated ``from_epoch_s(epoch_s(now))``, ``now``
    floored to the second, so it could precede a transaction posted earlier in that second."""
    m = market(1_000_000)
    m.open_lease(terms(prepay_s=600))
    m.deposit("acme", 5, "same-second", at(1000.5))
    m.settle("l1", at(1000.7))
    assert m.leases["l1"].state is LeaseState.FAILED_START
    assert verify(records(m)) == []


def test_an_sla_credit_returns_to_each_source_what_it_paid() -> None:
    """Regression: an SLA credit went back to the escrows pro rata to what each source
    *funded*, not what it *paid*: a voucher that funded a late top-up but paid little got the
    tenant's cash and ended above its grant."""
    m = market(100_000_000)
    lease = m.open_lease(terms(prepay_s=300, sla=SlaTier.GUARANTEED))
    run = [10, 40, 70, 100, 400, 430, 460, 490, 520, 550, 580, 610]  # a 300 s outage
    beats(m, "l1", run)
    m.settle("l1", at(620))  # 300 s paid, all from cash; escrow empty
    m.add_program(
        VoucherProgram(id="compute", issuer="city", grant_micros=50_000_000), 10**9, at(621)
    )
    v = m.grant_voucher("compute", "acme", at(621), {})
    beats(m, "l1", [640, 670, 700])
    m.settle("l1", at(700))  # top-up half from the voucher; 90 s paid half and half
    m.close("l1", CloseReason.COMPLETED, at(700))
    assert lease.paid_cum_micros == 390_000
    assert lease.credited_micros == 195_000  # 50 % credit: availability < 95 %
    # the voucher paid 45_000 of 390_000: it may get back at most its share of the credit
    assert m.ledger.balance(v.account) <= v.grant_micros
    assert m.ledger.balance(v.account) == v.grant_micros - 45_000 + 195_000 * 45_000 // 390_000


def test_a_dispute_refund_returns_voucher_money_to_the_voucher() -> None:
    """Regression: a dispute ruled for the buyer went back pro rata to what each source
    *funded*, so voucher money that paid for the usage came back as the tenant's own cash (more
    cash than it ever deposited; ``committed`` went negative)."""
    m = market(100_000_000)
    m.add_program(
        VoucherProgram(id="full", issuer="city", grant_micros=300_000, share_bps=10_000), 10**9, T0
    )
    v = m.grant_voucher("full", "acme", T0, {})
    m.open_lease(terms(prepay_s=300))  # paid entirely by the voucher
    beats(m, "l1", range(10, 311, 30))
    m.settle("l1", at(310))  # 300 s paid from the voucher's escrow
    beats(m, "l1", range(340, 401, 30))
    m.settle("l1", at(400))  # a cash top-up pays the last 90 s
    m.close("l1", CloseReason.COMPLETED, at(400))
    d = m.open_dispute("l1", 10**9, DisputeReason.NOT_RUNNING, at(500))
    m.resolve_dispute(d.id, 10_000, at(600))  # everything back to the buyer
    assert m.balance("acme") <= 100_000_000  # cash never grows from voucher money
    assert m.ledger.committed("acme") >= 0
    assert m.ledger.balance(v.account) >= 300_000 * 370_500 // 390_000


def test_settling_twice_at_the_same_time_with_two_vouchers() -> None:
    """Regression (I8): a top-up drew on one voucher only, so a settle that left the lease
    paused could be repeated at the same time and fund it from a second voucher."""
    m = market(0)
    m.add_program(
        VoucherProgram(
            id="short", issuer="a", grant_micros=310_000, share_bps=10_000, valid_days=30
        ),
        10**9,
        T0,
    )
    m.add_program(
        VoucherProgram(
            id="long", issuer="b", grant_micros=50_000_000, share_bps=10_000, valid_days=90
        ),
        10**9,
        T0,
    )
    m.grant_voucher("short", "acme", T0, {})
    m.grant_voucher("long", "acme", T0, {})
    lease = m.open_lease(terms(prepay_s=300))
    beats(m, "l1", range(10, 401, 30))
    m.settle("l1", at(400))
    before = records(m)
    m.settle("l1", at(400))
    assert records(m) == before
    assert state(lease) is LeaseState.ACTIVE  # the first call should not have paused it


def test_heartbeats_delivered_after_a_deposit_do_not_bill_the_pause() -> None:
    """Regression (I10): a resumed lease's pause ended at its last heartbeat known at the
    deposit, not at the deposit, so heartbeats of the paused period that arrived after the
    deposit billed the whole pause."""
    m = market(100_000)
    lease = m.open_lease(terms(prepay_s=100))
    beats(m, "l1", range(10, 191, 30))
    m.settle("l1", at(200))
    assert lease.state is LeaseState.PAUSED_FUNDS  # from T+190 (its cursor)
    m.deposit("acme", 10_000_000, "top", at(810))  # resumed at T+810
    assert state(lease) is LeaseState.ACTIVE
    beats(m, "l1", range(220, 821, 30))  # the agent's batch for T+220..T+820 arrives now
    m.settle("l1", at(830))
    # billable: T+10..T+190 before the pause and T+810..T+820 after it
    assert lease.seconds_cum == 180 + 10


# --- regressions: bugs found by these tests, now fixed ----------------------------------------


def test_each_voucher_covers_at_most_its_own_share_of_a_funding() -> None:
    m = market(20_000)  # the tenant is almost out of cash
    m.add_program(
        VoucherProgram(
            id="full", issuer="a", grant_micros=100_000, share_bps=10_000, valid_days=30
        ),
        10**9,
        T0,
    )
    m.add_program(
        VoucherProgram(
            id="third", issuer="b", grant_micros=1_000_000, share_bps=3333, valid_days=90
        ),
        10**9,
        T0,
    )
    full = m.grant_voucher("full", "acme", T0, {})
    third = m.grant_voucher("third", "acme", T0, {})
    m.open_lease(terms(prepay_s=0))
    beats(m, "l1", range(0, 121, 30))
    m.settle("l1", at(120))  # owes 120 s + an hour of buffer: a top-up from every source
    (topup,) = [t for t in m.ledger.txns_for_lease("l1") if t.kind is TxnKind.TOP_UP]
    legs = {e.account: e.amount for e in topup.entries}
    funded = sum(v for v in legs.values() if v > 0)
    assert -legs[full.account] * 10_000 <= 10_000 * funded
    assert -legs[third.account] * 10_000 <= 3333 * funded, f"{legs}"


def test_a_heartbeat_from_a_fast_clock_does_not_date_the_close_in_the_future() -> None:
    m = market()
    lease = m.open_lease(terms())
    beat(m, "l1", 600)  # the agent's clock runs ten minutes ahead
    m.close("l1", CloseReason.CANCELLED, at(10))
    m.deposit("acme", 5, "later", at(20))
    assert lease.closed_at == T0_S + 10
    assert verify(records(m)) == []


def test_a_leases_split_cannot_be_changed_after_it_opens() -> None:
    m = market()
    lease = m.open_lease(terms())
    with pytest.raises(TypeError):
        lease.terms.split.carriers["cx"] = 10**6
