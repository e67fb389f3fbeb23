"""The double-entry ledger and its independent verifier.

First the ledger's rules, one refusal per row (and a refusal changes nothing); then the
verifier: a sound ledger from a real market run passes, and each invariant code in
``INVARIANTS`` is caught on a hand-corrupted copy of its records.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from suanwang.core.market.errors import (
    BudgetExceededError,
    IdempotencyConflictError,
    InsufficientFundsError,
    LedgerError,
    UnbalancedError,
    UnknownAccountError,
    VoucherRuleError,
)
from suanwang.core.market.leases import CloseReason, LeaseTerms, RevenueSplit
from suanwang.core.market.ledger import (
    Account,
    AccountKind,
    Budget,
    Entry,
    HeaderRecord,
    LeaseRecord,
    Ledger,
    Record,
    Txn,
    TxnKind,
    TxnRecord,
    txn,
)
from suanwang.core.market.metering import UsageEvent, UsageKind, event_id
from suanwang.core.market.settlement import Market
from suanwang.core.market.verify import INVARIANTS, Violation, verify
from suanwang.core.market.vouchers import TenantProfile, VoucherProgram
from suanwang.core.units import ComputeClass

T0 = datetime(2026, 7, 1, tzinfo=UTC)
EXPIRY = T0 + timedelta(hours=1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _ledger() -> Ledger:
    """A small ledger: the world, two tenants (acme has 1.00 cash), a voucher for AI compute
    worth 0.50 that expires an hour after T0, and escrow accounts of one lease."""
    lg = Ledger("USD")
    lg.open(Account(id="external:world", kind=AccountKind.EXTERNAL, owner="w", allow_negative=True))
    lg.open(Account(id="tenant:acme", kind=AccountKind.TENANT, owner="acme"))
    lg.open(Account(id="tenant:beta", kind=AccountKind.TENANT, owner="beta"))
    lg.open(Account(id="voucher-pool:p", kind=AccountKind.VOUCHER_POOL, owner="p"))
    lg.open(
        Account(
            id="voucher:p.acme",
            kind=AccountKind.VOUCHER,
            owner="acme",
            tenant="acme",
            expires_at=EXPIRY,
            classes=("ai",),
        )
    )
    for source, cash in (("cash", True), ("p.acme", False)):
        lg.open(
            Account(
                id=f"escrow:l1:{source}",
                kind=AccountKind.ESCROW,
                owner="acme",
                tenant="acme",
                project="proj",
                lease="l1",
                cash_escrow=cash,
            )
        )
    lg.open(Account(id="pending:l1:provider:op", kind=AccountKind.PENDING, owner="op", lease="l1"))
    lg.post(
        txn("dep:1", TxnKind.DEPOSIT, T0, {"external:world": -1_000_000, "tenant:acme": 1_000_000})
    )
    lg.post(
        txn(
            "vfund:p",
            TxnKind.VOUCHER_FUND,
            T0,
            {"external:world": -800_000, "voucher-pool:p": 800_000},
        )
    )
    lg.post(
        txn(
            "vgrant:p.acme",
            TxnKind.VOUCHER_GRANT,
            T0,
            {"voucher-pool:p": -500_000, "voucher:p.acme": 500_000},
        )
    )
    return lg


def _dumps(lg: Ledger) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in lg.records()]


AI = {"class": "ai", "lease": "l1"}
WORLD, ACME, BETA = "external:world", "tenant:acme", "tenant:beta"
VOUCHER, POOL = "voucher:p.acme", "voucher-pool:p"
CASH_ESCROW, VOUCHER_ESCROW = "escrow:l1:cash", "escrow:l1:p.acme"
FUND, DEPOSIT = TxnKind.FUND_LEASE, TxnKind.DEPOSIT

# --- posting rules, one row per rule ------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "kind", "seconds", "legs", "refs", "error"),
    [
        ("a balanced deposit", DEPOSIT, 1, {WORLD: -5, BETA: 5}, {}, None),
        ("unknown account", DEPOSIT, 1, {WORLD: -5, "tenant:ghost": 5}, {}, UnknownAccountError),
        ("overdraw by one micro", FUND, 1, {ACME: -1_000_001, CASH_ESCROW: 1_000_001}, AI,
         InsufficientFundsError),
        ("spend exactly all", FUND, 1, {ACME: -1_000_000, CASH_ESCROW: 1_000_000}, AI, None),
        ("the world may go negative", DEPOSIT, 1, {WORLD: -(10**12), BETA: 10**12}, {}, None),
        ("voucher before expiry", FUND, 3599, {VOUCHER: -1, VOUCHER_ESCROW: 1}, AI, None),
        ("voucher at its expiry", FUND, 3600, {VOUCHER: -1, VOUCHER_ESCROW: 1}, AI,
         VoucherRuleError),
        ("voucher after expiry", FUND, 7200, {VOUCHER: -1, VOUCHER_ESCROW: 1}, AI,
         VoucherRuleError),
        ("expiry may debit it late", TxnKind.VOUCHER_EXPIRE, 7200, {VOUCHER: -500_000,
         POOL: 500_000}, {}, None),
        ("credit an expired voucher", TxnKind.REFUND, 7200, {POOL: -1, VOUCHER: 1}, {}, None),
        ("voucher, wrong class", FUND, 1, {VOUCHER: -1, VOUCHER_ESCROW: 1}, {"class": "hpc"},
         VoucherRuleError),
        ("voucher, no class said", FUND, 1, {VOUCHER: -1, VOUCHER_ESCROW: 1}, {},
         VoucherRuleError),
        ("voucher overdrawn", FUND, 1, {VOUCHER: -500_001, VOUCHER_ESCROW: 500_001}, AI,
         InsufficientFundsError),
    ],
)  # fmt: skip
def test_posting_rules(
    case: str,
    kind: TxnKind,
    seconds: float,
    legs: dict[str, int],
    refs: dict[str, str],
    error: type[Exception] | None,
) -> None:
    lg = _ledger()
    before = _dumps(lg)
    balances = lg.balances()
    t = txn(f"k:{case}", kind, at(seconds), legs, refs)
    if error is None:
        assert lg.post(t) is t
        assert lg.total() == 0
        for account, amount in legs.items():
            assert lg.balance(account) == balances[account] + amount
        return
    with pytest.raises(error) as info:
        lg.post(t)
    assert isinstance(info.value, LedgerError), "every refusal is a LedgerError"
    assert _dumps(lg) == before, f"{case}: a refused transaction changed the ledger"
    assert lg.balances() == balances
    assert lg.txn(t.key) is None


def test_insufficient_funds_says_who_and_how_much() -> None:
    lg = _ledger()
    with pytest.raises(InsufficientFundsError) as info:
        lg.post(
            txn("x", TxnKind.PAYOUT, T0, {"tenant:acme": -1_500_000, "external:world": 1_500_000})
        )
    err = info.value
    assert (err.account, err.balance, err.change) == ("tenant:acme", 1_000_000, -1_500_000)
    assert "tenant:acme holds 1000000 micros and cannot pay 1500000" in str(err)


# --- transactions that cannot even be built -----------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([("a", -5), ("b", 4)], "unbalanced: entries sum to -1"),
        ([("a", -5), ("a", 5)], "two entries on one account"),
        ([("a", 0), ("b", 0)], "amount 0"),
        ([("a", 0)], "amount 0"),
        ([], "at least 2"),
    ],
)
def test_malformed_transactions_are_refused_when_built(
    entries: list[tuple[str, int]], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Txn(
            key="k",
            kind=TxnKind.DEPOSIT,
            at=T0,
            entries=tuple(Entry(account=a, amount=v) for a, v in entries),
        )


def test_txn_helper_drops_zero_legs() -> None:
    t = txn("k", TxnKind.DEPOSIT, T0, {"a": -3, "b": 0, "c": 3}, {"r": "1"})
    assert [(e.account, e.amount) for e in t.entries] == [("a", -3), ("c", 3)]
    assert t.refs == {"r": "1"}


def test_post_refuses_an_unbalanced_transaction_even_if_unvalidated() -> None:
    """Regression: ``Ledger.post`` did not re-check the sum itself (``UnbalancedError`` was
    never raised), so a ``Txn`` built without validation was posted unbalanced."""
    lg = _ledger()
    before = _dumps(lg)
    bad = Txn.model_construct(
        key="bad",
        kind=TxnKind.DEPOSIT,
        at=at(1),
        entries=(
            Entry(account="external:world", amount=-1),
            Entry(account="tenant:beta", amount=2),
        ),
        refs={},
    )
    with pytest.raises(UnbalancedError):
        lg.post(bad)
    assert _dumps(lg) == before
    assert lg.total() == 0


# --- idempotency --------------------------------------------------------------------------------


def test_same_key_same_content_is_an_idempotent_repeat() -> None:
    lg = _ledger()
    first = lg.post(
        txn("dep:abc", TxnKind.DEPOSIT, at(5), {"external:world": -7, "tenant:beta": 7})
    )
    before = _dumps(lg)
    # a retry later, with legs in another order: the original comes back, nothing is written
    again = txn("dep:abc", TxnKind.DEPOSIT, at(60), {"tenant:beta": 7, "external:world": -7})
    assert lg.post(again) is first
    assert _dumps(lg) == before
    assert lg.balance("tenant:beta") == 7


@pytest.mark.parametrize(
    ("kind", "legs", "refs"),
    [
        (TxnKind.DEPOSIT, {"external:world": -8, "tenant:beta": 8}, {}),  # another amount
        (TxnKind.DEPOSIT, {"external:world": -7, "tenant:acme": 7}, {}),  # another account
        (TxnKind.PAYOUT, {"external:world": -7, "tenant:beta": 7}, {}),  # another kind
        (TxnKind.DEPOSIT, {"external:world": -7, "tenant:beta": 7}, {"tenant": "beta"}),  # refs
    ],
)
def test_same_key_other_content_is_a_conflict(
    kind: TxnKind, legs: dict[str, int], refs: dict[str, str]
) -> None:
    lg = _ledger()
    lg.post(txn("dep:abc", TxnKind.DEPOSIT, at(5), {"external:world": -7, "tenant:beta": 7}))
    before = _dumps(lg)
    with pytest.raises(IdempotencyConflictError, match="dep:abc"):
        lg.post(txn("dep:abc", kind, at(5), legs, refs))
    assert _dumps(lg) == before


# --- accounts and lease snapshots ---------------------------------------------------------------


def test_accounts_open_once() -> None:
    lg = _ledger()
    n = len(_dumps(lg))
    same = Account(id="tenant:beta", kind=AccountKind.TENANT, owner="beta")
    assert lg.open(same) == same
    assert len(_dumps(lg)) == n  # idempotent: no second record
    with pytest.raises(LedgerError, match="already exists"):
        lg.open(Account(id="tenant:beta", kind=AccountKind.TENANT, owner="mallory"))
    with pytest.raises(UnknownAccountError):
        lg.balance("tenant:ghost")
    with pytest.raises(UnknownAccountError):
        lg.account("tenant:ghost")
    assert lg.has("tenant:beta")
    assert not lg.has("tenant:ghost")
    assert [a.id for a in lg.lease_accounts("l1", AccountKind.ESCROW)] == [
        "escrow:l1:cash",
        "escrow:l1:p.acme",
    ]


@pytest.mark.parametrize("account_id", ["", "-leading-dash", "has space", "x" * 201])
def test_account_ids_are_validated(account_id: str) -> None:
    with pytest.raises(ValidationError):
        Account(id=account_id, kind=AccountKind.TENANT, owner="o")


def test_lease_snapshot_never_changes() -> None:
    lg = _ledger()
    snap = LeaseRecord(
        id="l1",
        tenant="acme",
        project="proj",
        currency="USD",
        price_micros_per_unit_hour=100,
        units_milli=1000,
        unit_table_version="v1",
        weights={"pending:l1:provider:op": 1},
    )
    lg.register_lease(snap)
    lg.register_lease(snap.model_copy())  # identical: fine, no new record
    assert sum(1 for r in _dumps(lg) if r["type"] == "lease") == 1
    with pytest.raises(LedgerError, match="different snapshot"):
        lg.register_lease(snap.model_copy(update={"price_micros_per_unit_hour": 101}))
    assert lg.lease("l1") == snap


# --- budget caps --------------------------------------------------------------------------------


def _fund(lg: Ledger, key: str, amount: int, seconds: float = 1) -> Txn:
    return lg.post(txn(key, FUND, at(seconds), {ACME: -amount, CASH_ESCROW: amount}, AI))


def test_budget_cap_on_the_tenant() -> None:
    lg = _ledger()
    assert lg.headroom("acme", "proj") is None  # no cap, no limit
    lg.set_budget(Budget(tenant="acme", cap_micros=300))
    _fund(lg, "f1", 200)
    assert lg.committed("acme") == lg.committed("acme", "proj") == 200
    assert lg.headroom("acme", "proj") == 100
    before = _dumps(lg)
    with pytest.raises(BudgetExceededError, match="has 100 left"):
        _fund(lg, "f2", 101)
    assert _dumps(lg) == before
    _fund(lg, "f3", 100)  # exactly up to the cap
    assert lg.headroom("acme", None) == 0
    # a refund out of the cash escrow frees room again
    lg.post(txn("r1", TxnKind.REFUND, at(2), {CASH_ESCROW: -50, ACME: 50}, AI))
    assert lg.committed("acme") == 250
    # paying a provider out of escrow is not a refund: committed stays
    pay = {CASH_ESCROW: -50, "pending:l1:provider:op": 50}
    lg.post(txn("s1", TxnKind.USAGE_SETTLEMENT, at(3), pay, AI))
    assert lg.committed("acme") == 250
    # voucher money is not the tenant's own: it never counts against the cap
    lg.post(txn("v1", FUND, at(4), {VOUCHER: -400_000, VOUCHER_ESCROW: 400_000}, AI))
    assert lg.committed("acme") == 250


def test_budget_cap_on_a_project_and_the_tenant_at_once() -> None:
    lg = _ledger()
    lg.set_budget(Budget(tenant="acme", project="proj", cap_micros=500))
    lg.set_budget(Budget(tenant="acme", cap_micros=400))
    assert lg.headroom("acme", "proj") == 400  # the tighter of the two
    _fund(lg, "f1", 400)
    with pytest.raises(BudgetExceededError):
        _fund(lg, "f2", 1)
    lg.set_budget(Budget(tenant="acme", cap_micros=10_000))  # raising a cap is fine
    assert lg.headroom("acme", "proj") == 100  # now the project cap binds
    with pytest.raises(BudgetExceededError, match="project proj of tenant acme"):
        _fund(lg, "f3", 101)


def test_a_cap_below_what_is_committed_is_refused() -> None:
    lg = _ledger()
    _fund(lg, "f1", 400)
    before = _dumps(lg)
    with pytest.raises(BudgetExceededError, match="below the 400 micros already committed"):
        lg.set_budget(Budget(tenant="acme", cap_micros=399))
    assert _dumps(lg) == before
    assert lg.budget("acme") is None
    lg.set_budget(Budget(tenant="acme", cap_micros=400))
    assert lg.budget("acme") == Budget(tenant="acme", cap_micros=400)


# --- records round trip -------------------------------------------------------------------------


def test_records_rebuild_the_same_ledger() -> None:
    lg = _ledger()
    lg.set_budget(Budget(tenant="acme", cap_micros=10_000))
    _fund(lg, "f1", 400)
    rebuilt = Ledger.from_records(lg.records())
    assert rebuilt.balances() == lg.balances()
    assert rebuilt.committed("acme") == 400
    assert _dumps(rebuilt) == _dumps(lg)
    # and through JSON lines, as a ledger file holds them
    adapter: TypeAdapter[Record] = TypeAdapter(Record)
    lines = [json.dumps(d) for d in _dumps(lg)]
    again = Ledger.from_records(adapter.validate_python(json.loads(x)) for x in lines)
    assert again.balances() == lg.balances()
    assert verify(json.loads(x) for x in lines) == []


def test_records_need_a_header_first_and_only_first() -> None:
    lg = _ledger()
    recs = list(lg.records())
    with pytest.raises(LedgerError, match="starts with a header"):
        Ledger.from_records(recs[1:])
    with pytest.raises(LedgerError, match="starts with a header"):
        Ledger.from_records([])
    with pytest.raises(LedgerError, match="header may only appear first"):
        Ledger.from_records([*recs, HeaderRecord(currency="USD")])


def test_replaying_records_rechecks_every_rule() -> None:
    lg = _ledger()
    recs = list(lg.records())
    overdraw = txn("o", TxnKind.PAYOUT, at(9), {"tenant:beta": -1, "external:world": 1})
    with pytest.raises(InsufficientFundsError):
        Ledger.from_records([*recs, TxnRecord(txn=overdraw)])


# --- verify: a sound ledger, then one corruption per invariant ----------------------------------


def _market_records() -> list[dict[str, Any]]:
    """A real run: a voucher for AI compute, a budget cap, a lease that settles twice, tops up,
    closes with a final refund and is released after the dispute window."""
    m = Market()
    m.add_tenant(TenantProfile(id="acme", country="KE", sme=True))
    program = VoucherProgram(
        id="ai-fund", issuer="city", grant_micros=200_000, classes=(ComputeClass.AI,)
    )
    m.add_program(program, 1_000_000, T0)
    m.grant_voucher("ai-fund", "acme", T0, {})
    m.deposit("acme", 10_000_000, "p1", T0)
    m.set_budget("acme", 5_000_000)
    terms = LeaseTerms(
        id="l1",
        task="t",
        tenant="acme",
        site="s",
        model="m",
        compute_class=ComputeClass.AI,
        units_milli=1000,
        price_micros_per_unit_hour=3_600_000,  # 1000 micros per second
        currency="USD",
        unit_table_version="v1",
        split=RevenueSplit(provider="op", provider_weight=900, carriers={"cx": 100}),
        prepay_micros=200_000,
        created_at=T0,
    )
    m.open_lease(terms)
    for s in range(10, 401, 30):
        t = at(s)
        m.ingest(
            UsageEvent(source="a", id=event_id("l1", UsageKind.HEARTBEAT, t), lease="l1", time=t)
        )
        if s in (100, 250):
            m.settle("l1", t)
    m.close("l1", CloseReason.COMPLETED, at(300))
    m.release(at(300 + 86_400))
    return [r.model_dump(mode="json") for r in m.ledger.records()]


RECORDS = _market_records()


def _find(recs: list[dict[str, Any]], kind: str, nth: int = 0) -> dict[str, Any]:
    txns: list[dict[str, Any]] = [
        r["txn"] for r in recs if r["type"] == "txn" and r["txn"]["kind"] == kind
    ]
    return txns[nth]


def _leg(t: dict[str, Any], prefix: str) -> dict[str, Any]:
    return next(e for e in t["entries"] if e["account"].startswith(prefix))


def _account(recs: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    accounts = (r["account"] for r in recs if r["type"] == "account")
    return next(a for a in accounts if a["id"].startswith(prefix))


def _schema(r: list[dict[str, Any]]) -> None:
    _find(r, "deposit")["kind"] = "gift"


def _header(r: list[dict[str, Any]]) -> None:
    del r[0]


def _account_unique(r: list[dict[str, Any]]) -> None:
    acct = dict(_account(r, "tenant:acme"), owner="mallory")
    r.append({"type": "account", "account": acct})


def _key_unique(r: list[dict[str, Any]]) -> None:
    _find(r, "usage-settlement", 1)["key"] = _find(r, "usage-settlement", 0)["key"]


def _account_known(r: list[dict[str, Any]]) -> None:
    _leg(_find(r, "deposit"), "tenant:")["account"] = "tenant:ghost"


def _entry_non_zero(r: list[dict[str, Any]]) -> None:
    _find(r, "deposit")["entries"].append({"account": "platform:fees", "amount": 0})


def _balanced(r: list[dict[str, Any]]) -> None:
    _leg(_find(r, "deposit"), "tenant:")["amount"] += 1


def _time_order(r: list[dict[str, Any]]) -> None:
    _find(r, "usage-settlement", 1)["at"] = "2026-06-30T00:00:00Z"


def _no_negative_balance(r: list[dict[str, Any]]) -> None:
    t = _find(r, "refund")
    for e in t["entries"]:
        e["amount"] += 1_000 if e["amount"] > 0 else -1_000  # refund more than the escrow holds


def _voucher_expiry(r: list[dict[str, Any]]) -> None:
    _account(r, "voucher:")["expires_at"] = "2026-07-01T00:00:00Z"  # expired when first spent


def _voucher_scope(r: list[dict[str, Any]]) -> None:
    _account(r, "voucher:")["classes"] = ["hpc"]


def _budget_cap(r: list[dict[str, Any]]) -> None:
    next(x for x in r if x["type"] == "budget")["budget"]["cap_micros"] = 1


def _lease_snapshot(r: list[dict[str, Any]]) -> None:
    snap = copy.deepcopy(next(x for x in r if x["type"] == "lease"))
    snap["lease"]["price_micros_per_unit_hour"] += 1
    r.append(snap)


def _split_exact(r: list[dict[str, Any]]) -> None:
    t = _find(r, "usage-settlement")
    _leg(t, "pending:l1:provider")["amount"] -= 1
    _leg(t, "pending:l1:carrier")["amount"] += 1


def _lease_closure(r: list[dict[str, Any]]) -> None:
    t = _find(r, "refund")
    for e in t["entries"]:
        e["amount"] += -1 if e["amount"] > 0 else 1  # leave one micro in the escrow


def _conservation(r: list[dict[str, Any]]) -> None:
    _leg(_find(r, "voucher-fund"), "voucher-pool:")["amount"] += 5


CORRUPTIONS: dict[str, Callable[[list[dict[str, Any]]], None]] = {
    "schema": _schema,
    "header": _header,
    "account-unique": _account_unique,
    "key-unique": _key_unique,
    "account-known": _account_known,
    "entry-non-zero": _entry_non_zero,
    "balanced": _balanced,
    "time-order": _time_order,
    "no-negative-balance": _no_negative_balance,
    "voucher-expiry": _voucher_expiry,
    "voucher-scope": _voucher_scope,
    "budget-cap": _budget_cap,
    "lease-snapshot": _lease_snapshot,
    "split-exact": _split_exact,
    "lease-closure": _lease_closure,
    "conservation": _conservation,
}


def test_the_market_run_is_sound() -> None:
    kinds = {r["txn"]["kind"] for r in RECORDS if r["type"] == "txn"}
    # the run exercises every kind the corruptions need
    assert {"deposit", "voucher-fund", "voucher-grant", "fund-lease", "top-up"} <= kinds
    assert {"usage-settlement", "refund", "release"} <= kinds
    assert _find(RECORDS, "refund")["refs"]["final"] == "true"
    assert verify(RECORDS) == []


def test_every_invariant_has_a_corruption_test() -> None:
    assert set(CORRUPTIONS) == set(INVARIANTS)


@pytest.mark.parametrize("code", list(INVARIANTS))
def test_verify_catches(code: str) -> None:
    recs = copy.deepcopy(RECORDS)
    CORRUPTIONS[code](recs)
    found = verify(recs)
    assert code in {v.code for v in found}, f"{code} not caught; found {found}"
    for v in found:
        assert isinstance(v, Violation)
        assert v.code in INVARIANTS
        assert 0 <= v.record <= len(recs)
    assert _market_records() == RECORDS, "the reference run is deterministic"


def test_verify_names_the_record_and_goes_on() -> None:
    recs = copy.deepcopy(RECORDS)
    _split_exact(recs)
    _voucher_scope(recs)
    found = verify(recs)
    # the prepayment and the top-up both spend the voucher; the shifted micro is later
    # released from an account that never got it
    assert [v.code for v in found] == [
        "voucher-scope",
        "split-exact",
        "voucher-scope",
        "no-negative-balance",
    ]
    settle_no = next(
        n
        for n, r in enumerate(recs, start=1)
        if r["type"] == "txn" and r["txn"]["kind"] == "usage-settlement"
    )
    assert found[1].record == settle_no
    assert "settle:l1:1" in found[1].message


@pytest.mark.parametrize(
    ("records", "codes"),
    [
        ([{"type": "account"}], ["header", "schema"]),  # reported, then read on
        (["not a mapping"], ["header", "schema"]),
        (
            [{"type": "header", "currency": "USD"}, {"type": "header", "currency": "USD"}],
            ["header"],
        ),
        ([{"type": "header", "currency": "USD"}, {"type": "payslip"}], ["schema"]),
        ([{"type": "header", "currency": "USD"}, {"type": "txn", "txn": {"key": "k"}}], ["schema"]),
        ([{"type": "header", "currency": "USD"}], []),
    ],
)
def test_verify_small_files(records: list[Any], codes: list[str]) -> None:
    assert [v.code for v in verify(records)] == codes


def test_verify_an_empty_file_lacks_its_header() -> None:
    """Regression: ``verify([])`` reported nothing, so an empty ledger file passed, while
    ``Ledger.from_records([])`` refuses it for lacking a header."""
    assert [v.code for v in verify([])] == ["header"]
