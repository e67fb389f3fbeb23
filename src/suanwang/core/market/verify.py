"""Independent re-check of a ledger's records: every invariant, first violation first.

:func:`verify` does not trust :class:`~suanwang.core.market.ledger.Ledger`: it reads plain
records (as a ledger file holds them), recomputes balances, commitments and splits itself, and
reports each broken invariant with the record it broke at. ``suanwang ledger verify`` exits
non-zero naming the first one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from suanwang.core.base import Frozen
from suanwang.core.market.ledger import (
    COMMITMENT_KINDS,
    Account,
    AccountKind,
    Budget,
    LeaseRecord,
    TxnKind,
)
from suanwang.core.market.money import split_exact

INVARIANTS: dict[str, str] = {
    "schema": "every line is a valid ledger record",
    "header": "the first record is the header naming the currency",
    "account-unique": "an account id is opened once, with one set of terms",
    "key-unique": "every transaction has its own idempotency key",
    "account-known": "every entry names an account opened before it",
    "entry-non-zero": "no entry moves zero",
    "balanced": "every transaction's entries sum to zero",
    "time-order": "transactions are in time order",
    "no-negative-balance": "no account that may not go negative does",
    "voucher-expiry": "a voucher is never spent at or after its expiry",
    "voucher-scope": "a voucher pays only for the compute classes it covers",
    "budget-cap": "committed spend never exceeds a tenant's or project's hard cap",
    "lease-snapshot": "a lease's price, unit-table version and split never change",
    "split-exact": "a settlement pays every party exactly its largest-remainder share",
    "lease-closure": "a closed lease's escrow is empty after its final refund",
    "conservation": "all balances sum to zero",
}
"""Invariant code -> what it means, in the order checks run on each record."""


class Violation(Frozen):
    """One broken invariant: its code, the 1-based record number, and what is wrong."""

    code: str
    record: int
    message: str


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str
    amount: int


class _Txn(BaseModel):
    """A transaction read leniently, so that an unbalanced one is reported, not rejected."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1)
    kind: TxnKind
    at: AwareDatetime
    entries: list[_Entry]
    refs: dict[str, str] = Field(default_factory=dict)


class _State:
    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.balances: dict[str, int] = {}
        self.keys: set[str] = set()
        self.budgets: dict[tuple[str, str | None], int] = {}
        self.committed: dict[tuple[str, str | None], int] = {}
        self.leases: dict[str, LeaseRecord] = {}
        self.last_at: datetime | None = None
        self.escrows: dict[str, list[str]] = {}


def verify(records: Iterable[Mapping[str, Any]]) -> list[Violation]:
    """Check every invariant over ``records`` (plain dicts, one per ledger-file line).

    Returns the violations in record order (empty: the ledger is sound). Checking goes on past
    a violation, applying what can be applied, so one mistake is not reported many times over.
    """
    out: list[Violation] = []
    st = _State()
    saw_header = False
    n_records = 0
    for n, raw in enumerate(records, start=1):
        n_records = n
        kind = raw.get("type") if isinstance(raw, Mapping) else None
        if n == 1:
            if kind != "header" or not isinstance(raw.get("currency"), str):
                out.append(Violation(code="header", record=1, message=INVARIANTS["header"]))
            else:
                saw_header = True
                continue
        try:
            if kind == "header":
                out.append(Violation(code="header", record=n, message="a second header"))
            elif kind == "account":
                _account(Account.model_validate(raw.get("account")), n, st, out)
            elif kind == "budget":
                b = Budget.model_validate(raw.get("budget"))
                st.budgets[(b.tenant, b.project)] = b.cap_micros
            elif kind == "lease":
                _lease(LeaseRecord.model_validate(raw.get("lease")), n, st, out)
            elif kind == "txn":
                _txn(_Txn.model_validate(raw.get("txn")), n, st, out)
            else:
                out.append(
                    Violation(code="schema", record=n, message=f"unknown record type {kind!r}")
                )
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "(record)"
            out.append(Violation(code="schema", record=n, message=f"{kind}: {where}: {err['msg']}"))
    if n_records == 0:
        out.append(Violation(code="header", record=1, message="the ledger is empty: no header"))
    total = sum(st.balances.values())
    if saw_header and total != 0:
        out.append(
            Violation(
                code="conservation",
                record=0,
                message=f"balances sum to {total} micros instead of zero",
            )
        )
    return out


def _account(acct: Account, n: int, st: _State, out: list[Violation]) -> None:
    prior = st.accounts.get(acct.id)
    if prior is not None:
        if prior != acct:
            out.append(
                Violation(
                    code="account-unique",
                    record=n,
                    message=f"account {acct.id} opened again with different terms",
                )
            )
        return
    st.accounts[acct.id] = acct
    st.balances[acct.id] = 0
    if acct.kind is AccountKind.ESCROW and acct.lease is not None:
        st.escrows.setdefault(acct.lease, []).append(acct.id)


def _lease(lease: LeaseRecord, n: int, st: _State, out: list[Violation]) -> None:
    prior = st.leases.get(lease.id)
    if prior is not None and prior != lease:
        out.append(
            Violation(
                code="lease-snapshot",
                record=n,
                message=f"lease {lease.id} snapshot changed after it was recorded",
            )
        )
        return
    st.leases[lease.id] = lease


def _txn(t: _Txn, n: int, st: _State, out: list[Violation]) -> None:
    def bad(code: str, message: str) -> None:
        out.append(Violation(code=code, record=n, message=f"txn {t.key}: {message}"))

    if t.key in st.keys:
        bad("key-unique", "idempotency key used twice")
        return
    st.keys.add(t.key)
    unknown = [e.account for e in t.entries if e.account not in st.accounts]
    if unknown:
        bad("account-known", f"unknown account {unknown[0]}")
        return
    if any(e.amount == 0 for e in t.entries):
        bad("entry-non-zero", "an entry moves zero")
    total = sum(e.amount for e in t.entries)
    if total != 0:
        bad("balanced", f"entries sum to {total}")
    if st.last_at is not None and t.at < st.last_at:
        bad("time-order", f"at {t.at.isoformat()} is before the previous transaction")
    st.last_at = t.at if st.last_at is None else max(st.last_at, t.at)
    commitments: dict[tuple[str, str | None], int] = {}
    for e in t.entries:
        acct = st.accounts[e.account]
        st.balances[e.account] += e.amount
        if st.balances[e.account] < 0 and not acct.allow_negative:
            bad("no-negative-balance", f"{e.account} goes to {st.balances[e.account]}")
        if acct.kind is AccountKind.VOUCHER and e.amount < 0 and t.kind != TxnKind.VOUCHER_EXPIRE:
            if acct.expires_at is not None and t.at >= acct.expires_at:
                bad("voucher-expiry", f"spends {e.account} after it expired")
            if acct.classes and t.refs.get("class") not in acct.classes:
                bad("voucher-scope", f"spends {e.account} on {t.refs.get('class')} compute")
        if acct.cash_escrow and acct.tenant is not None and t.kind in COMMITMENT_KINDS:
            key = (acct.tenant, acct.project)
            commitments[key] = commitments.get(key, 0) + e.amount
    for key, delta in commitments.items():
        st.committed[key] = st.committed.get(key, 0) + delta
    for tenant, project in commitments:
        for cap_key in {(tenant, None), (tenant, project)}:
            cap = st.budgets.get(cap_key)
            if cap is None:
                continue
            used = (
                sum(v for (tt, _), v in st.committed.items() if tt == tenant)
                if cap_key[1] is None
                else st.committed.get(cap_key, 0)
            )
            if used > cap:
                bad("budget-cap", f"commits {used} micros against a cap of {cap}")
    lease_id = t.refs.get("lease")
    if t.kind is TxnKind.USAGE_SETTLEMENT and lease_id is not None:
        _check_split(t, lease_id, st, bad)
    if t.kind is TxnKind.REFUND and lease_id is not None and t.refs.get("final") == "true":
        left = [a for a in st.escrows.get(lease_id, ()) if st.balances[a] != 0]
        if left:
            held = st.balances[left[0]]
            bad("lease-closure", f"escrow {left[0]} still holds {held} after the final refund")


def _check_split(t: _Txn, lease_id: str, st: _State, bad: Any) -> None:
    lease = st.leases.get(lease_id)
    if lease is None:
        bad("split-exact", f"settles lease {lease_id}, which has no snapshot")
        return
    pay = -sum(e.amount for e in t.entries if st.accounts[e.account].kind is AccountKind.ESCROW)
    credits = {
        e.account: e.amount
        for e in t.entries
        if st.accounts[e.account].kind is not AccountKind.ESCROW
    }
    expected = {k: v for k, v in split_exact(pay, lease.weights).items() if v != 0}
    if credits != expected:
        bad("split-exact", f"pays {credits}, the split of {pay} is {expected}")
