"""Errors the market raises on purpose; each message says what was wrong and where."""

from __future__ import annotations

from suanwang.core.errors import SuanwangError


class MarketError(SuanwangError):
    """Base class of market errors."""


class LedgerError(MarketError, ValueError):
    """A transaction was refused; the ledger is unchanged."""


class UnbalancedError(LedgerError):
    """A transaction's entries do not sum to zero."""


class UnknownAccountError(LedgerError, LookupError):
    """An entry names an account that was never opened."""


class InsufficientFundsError(LedgerError):
    """A transaction would take an account that may not go negative below zero."""

    def __init__(self, account: str, balance: int, change: int) -> None:
        self.account = account
        self.balance = balance
        self.change = change
        super().__init__(
            f"account {account} holds {balance} micros and cannot pay {-change}: "
            "balances may not go negative"
        )


class IdempotencyConflictError(LedgerError):
    """An idempotency key was reused for a different transaction."""


class BudgetExceededError(LedgerError):
    """Funding would push a tenant's or project's committed spend over its hard cap."""


class VoucherRuleError(LedgerError):
    """A voucher was spent after its expiry or on something it does not cover."""


class LeaseStateError(MarketError):
    """An operation is not allowed in the lease's current state."""
