"""The double-entry ledger: accounts, transactions, balances, budget caps (pure, in memory).

Contracts (checked on every :meth:`Ledger.post`; a refused transaction changes nothing):

* every transaction's entries sum to zero, in integer micro-units of the ledger's one currency;
* every transaction has an idempotency key; posting the same key again with the same content
  returns the original transaction and writes nothing, with different content it is refused;
* no account goes below zero unless it was opened with ``allow_negative`` (by default only
  :attr:`AccountKind.EXTERNAL`, the world outside the platform, may);
* a voucher account is never debited at or after its expiry (except by the expiry itself) nor
  for a compute class it does not cover;
* the money a tenant commits to leases from its own balance (net of refunds) never exceeds a
  hard budget cap set for the tenant or for one of its projects.

Persistence comes later: :meth:`Ledger.records` and :meth:`Ledger.from_records` turn the ledger
into plain records and back (replaying every check), and :mod:`suanwang.core.market.verify`
re-checks a list of records independently.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, model_validator

from suanwang.core.base import Frozen
from suanwang.core.market.errors import (
    BudgetExceededError,
    IdempotencyConflictError,
    InsufficientFundsError,
    LedgerError,
    UnbalancedError,
    UnknownAccountError,
    VoucherRuleError,
)

AccountId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9:._/-]*$",
        description="account id, e.g. tenant:acme or escrow:l-000001:cash",
    ),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]

LEDGER_FORMAT_VERSION = 1


class AccountKind(StrEnum):
    """What an account holds."""

    EXTERNAL = "external"
    """The world outside the platform (bank, payment provider, subsidy programme)."""
    TENANT = "tenant"
    """A tenant's spendable balance."""
    ESCROW = "escrow"
    """Money committed to one lease from one source (the tenant's cash or one voucher)."""
    PENDING = "pending"
    """A provider's or carrier's earnings on one lease, held through the dispute window."""
    PROVIDER = "provider"
    """A site provider's released earnings."""
    CARRIER = "carrier"
    """A network carrier's released earnings."""
    PLATFORM = "platform"
    """The platform's fees."""
    VOUCHER_POOL = "voucher-pool"
    """The budget vouchers (算力券) are granted from, e.g. a public programme."""
    VOUCHER = "voucher"
    """One voucher's restricted, expiring credit."""
    DISPUTE = "dispute"
    """Money held while a dispute is open."""
    SURPLUS = "market-surplus"
    """Auction surplus (a McAfee round's spread between buyers' and sellers' prices)."""


class TxnKind(StrEnum):
    """Why money moved; each kind has its own shape of entries (see docs/market.md)."""

    DEPOSIT = "deposit"
    PAYOUT = "payout"
    VOUCHER_FUND = "voucher-fund"
    VOUCHER_GRANT = "voucher-grant"
    VOUCHER_EXPIRE = "voucher-expire"
    FUND_LEASE = "fund-lease"
    TOP_UP = "top-up"
    USAGE_SETTLEMENT = "usage-settlement"
    RELEASE = "release"
    REFUND = "refund"
    SLA_CREDIT = "sla-credit"
    DISPUTE_HOLD = "dispute-hold"
    DISPUTE_RESOLVE = "dispute-resolve"


COMMITMENT_KINDS = frozenset({TxnKind.FUND_LEASE, TxnKind.TOP_UP, TxnKind.REFUND})
"""Transaction kinds whose entries on cash escrow accounts count against budget caps."""


class Account(Frozen):
    """One account. ``tenant``/``project``/``lease`` tie escrow and voucher accounts to their
    owner; ``expires_at`` and ``classes`` restrict voucher accounts."""

    id: AccountId
    kind: AccountKind
    owner: str = Field(min_length=1, max_length=200)
    allow_negative: bool = False
    tenant: str | None = None
    project: str | None = None
    lease: str | None = None
    expires_at: AwareDatetime | None = None
    classes: tuple[str, ...] = Field(
        default=(), description="compute classes a voucher may pay for (empty: any)"
    )
    cash_escrow: bool = Field(
        default=False, description="escrow funded from the tenant's own balance"
    )


class Entry(Frozen):
    """One leg of a transaction: ``amount`` micro-units into (+) or out of (-) ``account``."""

    account: AccountId
    amount: int

    @model_validator(mode="after")
    def _non_zero(self) -> Entry:
        if self.amount == 0:
            raise ValueError(f"entry on {self.account} has amount 0; drop zero legs")
        return self


class Txn(Frozen):
    """A balanced set of entries, posted at ``at`` under a unique idempotency ``key``."""

    key: str = Field(min_length=1, max_length=300)
    kind: TxnKind
    at: AwareDatetime
    entries: tuple[Entry, ...] = Field(min_length=2)
    refs: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _balanced(self) -> Txn:
        total = sum(e.amount for e in self.entries)
        if total != 0:
            raise ValueError(f"transaction {self.key} is unbalanced: entries sum to {total}")
        accounts = [e.account for e in self.entries]
        if len(set(accounts)) != len(accounts):
            raise ValueError(f"transaction {self.key} has two entries on one account")
        return self

    def same_as(self, other: Txn) -> bool:
        """Same content (kind, entries, refs), whatever the time it was posted at."""
        return (
            self.kind == other.kind
            and sorted(self.entries, key=lambda e: e.account)
            == sorted(other.entries, key=lambda e: e.account)
            and self.refs == other.refs
        )


class Budget(Frozen):
    """A hard cap on the money a tenant (``project`` None) or one project commits to leases."""

    tenant: str = Field(min_length=1)
    project: str | None = None
    cap_micros: int = Field(ge=0)


class LeaseRecord(Frozen):
    """What the ledger keeps of a lease to check its settlements (its immutable snapshot)."""

    id: str = Field(min_length=1)
    tenant: str
    project: str | None
    currency: Currency
    price_micros_per_unit_hour: int = Field(ge=0)
    units_milli: int = Field(ge=0)
    unit_table_version: str
    weights: dict[str, int] = Field(
        min_length=1, description="pending account -> split weight (platform fee included)"
    )


class HeaderRecord(Frozen):
    """First record of a ledger file."""

    type: Literal["header"] = "header"
    format: int = LEDGER_FORMAT_VERSION
    currency: Currency


class AccountRecord(Frozen):
    type: Literal["account"] = "account"
    account: Account


class BudgetRecord(Frozen):
    type: Literal["budget"] = "budget"
    budget: Budget


class LeaseSnapshotRecord(Frozen):
    type: Literal["lease"] = "lease"
    lease: LeaseRecord


class TxnRecord(Frozen):
    type: Literal["txn"] = "txn"
    txn: Txn


Record = Annotated[
    HeaderRecord | AccountRecord | BudgetRecord | LeaseSnapshotRecord | TxnRecord,
    Field(discriminator="type"),
]
"""One line of a ledger file."""


class Ledger:
    """An in-memory double-entry ledger in one currency. Not thread-safe; pure (no I/O)."""

    def __init__(self, currency: str = "USD") -> None:
        self.currency = currency
        self._accounts: dict[str, Account] = {}
        self._balances: dict[str, int] = {}
        self._txns: list[Txn] = []
        self._by_key: dict[str, Txn] = {}
        self._budgets: dict[tuple[str, str | None], Budget] = {}
        self._committed: dict[tuple[str, str | None], int] = {}
        self._leases: dict[str, LeaseRecord] = {}
        self._order: list[Record] = []
        self._by_lease: dict[str, list[Txn]] = {}
        self._lease_accounts: dict[str, list[str]] = {}

    # --- accounts, budgets, leases ------------------------------------------------------------

    def open(self, account: Account) -> Account:
        """Open ``account`` (idempotent for an identical account).

        Raises:
            LedgerError: another account with that id but different terms exists.
        """
        existing = self._accounts.get(account.id)
        if existing is not None:
            if existing != account:
                raise LedgerError(f"account {account.id} already exists with other terms")
            return existing
        self._accounts[account.id] = account
        self._balances[account.id] = 0
        if account.lease is not None:
            self._lease_accounts.setdefault(account.lease, []).append(account.id)
        self._order.append(AccountRecord(account=account))
        return account

    def has(self, account_id: str) -> bool:
        """True if ``account_id`` was opened."""
        return account_id in self._accounts

    def account(self, account_id: str) -> Account:
        """The account ``account_id``.

        Raises:
            UnknownAccountError: it was never opened.
        """
        try:
            return self._accounts[account_id]
        except KeyError:
            raise UnknownAccountError(f"unknown account {account_id!r}") from None

    def accounts(self, kind: AccountKind | None = None) -> list[Account]:
        """All accounts (of ``kind``), in the order they were opened."""
        return [a for a in self._accounts.values() if kind is None or a.kind is kind]

    def lease_accounts(self, lease: str, kind: AccountKind | None = None) -> list[Account]:
        """Accounts tied to ``lease`` (of ``kind``), in the order they were opened."""
        accts = (self._accounts[a] for a in self._lease_accounts.get(lease, ()))
        return [a for a in accts if kind is None or a.kind is kind]

    def set_budget(self, budget: Budget) -> None:
        """Set (or replace) a hard cap. A cap below what is already committed is refused."""
        key = (budget.tenant, budget.project)
        used = self.committed(budget.tenant, budget.project)
        if budget.cap_micros < used:
            raise BudgetExceededError(
                f"cap {budget.cap_micros} is below the {used} micros already committed by "
                f"{_who(budget.tenant, budget.project)}"
            )
        self._budgets[key] = budget
        self._order.append(BudgetRecord(budget=budget))

    def budget(self, tenant: str, project: str | None = None) -> Budget | None:
        """The cap set for the tenant (``project`` None) or the project, if any."""
        return self._budgets.get((tenant, project))

    def committed(self, tenant: str, project: str | None = None) -> int:
        """Money the tenant (or project) has committed to leases from its own balance."""
        if project is not None:
            return self._committed.get((tenant, project), 0)
        return sum(v for (t, _), v in self._committed.items() if t == tenant)

    def headroom(self, tenant: str, project: str | None) -> int | None:
        """How much more the tenant may commit in ``project`` under its caps (None: no cap)."""
        room: int | None = None
        for key in (
            ((tenant, None), (tenant, project)) if project is not None else ((tenant, None),)
        ):
            cap = self._budgets.get(key)
            if cap is not None:
                left = cap.cap_micros - self.committed(key[0], key[1])
                room = left if room is None else min(room, left)
        return room

    def register_lease(self, lease: LeaseRecord) -> None:
        """Keep a lease's immutable snapshot (idempotent for an identical one).

        Raises:
            LedgerError: a different snapshot for the same lease exists (snapshots never change).
        """
        existing = self._leases.get(lease.id)
        if existing is not None:
            if existing != lease:
                raise LedgerError(f"lease {lease.id} already has a different snapshot")
            return
        self._leases[lease.id] = lease
        self._order.append(LeaseSnapshotRecord(lease=lease))

    def lease(self, lease_id: str) -> LeaseRecord | None:
        """The lease snapshot registered under ``lease_id``."""
        return self._leases.get(lease_id)

    # --- posting ------------------------------------------------------------------------------

    def post(self, txn: Txn) -> Txn:
        """Post ``txn`` atomically and return it (or the original, for a repeated key).

        Raises:
            IdempotencyConflictError: the key was used for a different transaction.
            UnknownAccountError, InsufficientFundsError, VoucherRuleError, BudgetExceededError:
                the transaction breaks a rule; nothing was written.
        """
        prior = self._by_key.get(txn.key)
        if prior is not None:
            if prior.same_as(txn):
                return prior
            raise IdempotencyConflictError(
                f"idempotency key {txn.key!r} was already used for a different {prior.kind} "
                "transaction"
            )
        commitments = self._check(txn)
        for e in txn.entries:
            self._balances[e.account] += e.amount
        for key, delta in commitments.items():
            self._committed[key] = self._committed.get(key, 0) + delta
        self._txns.append(txn)
        self._by_key[txn.key] = txn
        lease = txn.refs.get("lease")
        if lease is not None:
            self._by_lease.setdefault(lease, []).append(txn)
        self._order.append(TxnRecord(txn=txn))
        return txn

    def _check(self, txn: Txn) -> dict[tuple[str, str | None], int]:
        total = sum(e.amount for e in txn.entries)
        if total != 0:  # also for a Txn built without validation (model_construct)
            raise UnbalancedError(f"transaction {txn.key} is unbalanced: entries sum to {total}")
        if len({e.account for e in txn.entries}) != len(txn.entries) or any(
            e.amount == 0 for e in txn.entries
        ):
            raise LedgerError(f"transaction {txn.key} has a zero entry or two on one account")
        commitments: dict[tuple[str, str | None], int] = {}
        for e in txn.entries:
            acct = self._accounts.get(e.account)
            if acct is None:
                raise UnknownAccountError(
                    f"transaction {txn.key} names unknown account {e.account!r}"
                )
            after = self._balances[e.account] + e.amount
            if after < 0 and not acct.allow_negative:
                raise InsufficientFundsError(e.account, self._balances[e.account], e.amount)
            if acct.kind is AccountKind.VOUCHER and e.amount < 0:
                _check_voucher_spend(acct, txn)
            if acct.cash_escrow and txn.kind in COMMITMENT_KINDS and acct.tenant is not None:
                key = (acct.tenant, acct.project)
                commitments[key] = commitments.get(key, 0) + e.amount
        for (tenant, project), delta in commitments.items():
            if delta <= 0:
                continue
            room = self.headroom(tenant, project)
            if room is not None and delta > room:
                raise BudgetExceededError(
                    f"{txn.kind} {txn.key} would commit {delta} micros but "
                    f"{_who(tenant, project)} has {room} left under its budget cap"
                )
        return commitments

    # --- reading ------------------------------------------------------------------------------

    def balance(self, account_id: str) -> int:
        """The balance of ``account_id`` in micro-units.

        Raises:
            UnknownAccountError: it was never opened.
        """
        try:
            return self._balances[account_id]
        except KeyError:
            raise UnknownAccountError(f"unknown account {account_id!r}") from None

    def balances(self) -> dict[str, int]:
        """Every account's balance (a copy)."""
        return dict(self._balances)

    @property
    def txn_count(self) -> int:
        """How many transactions are posted."""
        return len(self._txns)

    def txns(self) -> list[Txn]:
        """Posted transactions in order (a copy)."""
        return list(self._txns)

    def txns_for_lease(self, lease: str) -> list[Txn]:
        """Transactions whose ``refs`` name ``lease``, in order (a copy)."""
        return list(self._by_lease.get(lease, ()))

    def txn(self, key: str) -> Txn | None:
        """The transaction posted under idempotency ``key``, if any."""
        return self._by_key.get(key)

    def total(self) -> int:
        """Sum of every balance; zero by construction (money is conserved)."""
        return sum(self._balances.values())

    def records(self) -> Iterator[Record]:
        """The header and then every record in the order it happened (for a ledger file)."""
        yield HeaderRecord(currency=self.currency)
        yield from self._order

    @property
    def record_count(self) -> int:
        """How many records :meth:`records` yields (the header included)."""
        return 1 + len(self._order)

    def records_from(self, n: int) -> list[Record]:
        """The records :meth:`records` yields from position ``n`` on (0 is the header)."""
        if n <= 0:
            return list(self.records())
        return self._order[n - 1 :]

    @classmethod
    def from_records(cls, records: Iterable[Record]) -> Ledger:
        """Rebuild a ledger by replaying ``records`` through every check.

        Raises:
            LedgerError: the first record that breaks a rule (or a missing header).
        """
        it = iter(records)
        head = next(it, None)
        if not isinstance(head, HeaderRecord):
            raise LedgerError("a ledger starts with a header record giving its currency")
        ledger = cls(head.currency)
        for rec in it:
            ledger.apply(rec)
        return ledger

    def apply(self, rec: Record) -> None:
        """Apply one record (account, budget, lease snapshot or transaction)."""
        if isinstance(rec, AccountRecord):
            self.open(rec.account)
        elif isinstance(rec, BudgetRecord):
            self.set_budget(rec.budget)
        elif isinstance(rec, LeaseSnapshotRecord):
            self.register_lease(rec.lease)
        elif isinstance(rec, TxnRecord):
            self.post(rec.txn)
        else:
            raise LedgerError("a header may only appear first")


def _check_voucher_spend(acct: Account, txn: Txn) -> None:
    if txn.kind is TxnKind.VOUCHER_EXPIRE:
        return
    if acct.expires_at is not None and txn.at >= acct.expires_at:
        raise VoucherRuleError(
            f"voucher {acct.id} expired at {acct.expires_at.isoformat()}; "
            f"{txn.kind} {txn.key} at {txn.at.isoformat()} may not spend it"
        )
    cls = txn.refs.get("class")
    if acct.classes and cls not in acct.classes:
        raise VoucherRuleError(
            f"voucher {acct.id} covers {', '.join(acct.classes)} compute, not {cls or 'unstated'}"
        )


def _who(tenant: str, project: str | None) -> str:
    return f"tenant {tenant}" if project is None else f"project {project} of tenant {tenant}"


def txn(
    key: str,
    kind: TxnKind,
    at: datetime,
    legs: Mapping[str, int],
    refs: Mapping[str, str] | None = None,
) -> Txn:
    """Build a transaction from ``{account: amount}``, dropping zero legs."""
    return Txn(
        key=key,
        kind=kind,
        at=at,
        entries=tuple(Entry(account=a, amount=v) for a, v in legs.items() if v != 0),
        refs=dict(refs or {}),
    )
