"""The market behind a journal: every call is recorded so a restart rebuilds it exactly.

:class:`~suanwang.core.market.settlement.Market` is pure and deterministic, so replaying the
same calls in the same order gives the same ledger, leases and meters. The runtime writes the
journal entries in the same transaction as the engine events that caused them; on restart
:meth:`MarketJournal.replay` rebuilds the market, and the rebuilt ledger's records must match
the ``ledger_records`` stored (the runtime checks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from suanwang.core.countries import Country
from suanwang.core.market.errors import MarketError
from suanwang.core.market.leases import CloseReason, LeaseTerms
from suanwang.core.market.ledger import Record
from suanwang.core.market.metering import UsageEvent
from suanwang.core.market.settlement import Market, MarketConfig
from suanwang.core.market.vouchers import TenantProfile, Voucher, VoucherProgram


class MarketJournal:
    """A market plus the list of calls not yet written to the store (``pending``)."""

    def __init__(self, config: MarketConfig) -> None:
        self.market = Market(config)
        self.pending: list[dict[str, Any]] = []
        self.written_records = 0

    # --- the calls: each goes to the market first and is recorded only if it succeeded ------
    def add_tenant(self, profile: TenantProfile) -> None:
        self.market.add_tenant(profile)
        self.pending.append({"op": "add_tenant", "profile": profile.model_dump(mode="json")})

    def deposit(self, tenant: str, amount: int, ref: str, at: datetime) -> None:
        self.market.deposit(tenant, amount, ref, at)
        self.pending.append(
            {"op": "deposit", "tenant": tenant, "amount": amount, "ref": ref, "at": at.isoformat()}
        )

    def add_program(
        self, program: VoucherProgram, funding_micros: int, at: datetime, ref: str
    ) -> None:
        self.market.add_program(program, funding_micros, at, ref)
        self.pending.append(
            {
                "op": "add_program",
                "program": program.model_dump(mode="json"),
                "funding": funding_micros,
                "ref": ref,
                "at": at.isoformat(),
            }
        )

    def grant_voucher(
        self, program: str, tenant: str, at: datetime, countries: Mapping[str, Country]
    ) -> Voucher:
        """The entry keeps the tenant's country row: eligibility (and the reason the ledger
        records) is decided on replay exactly as it was live."""
        voucher = self.market.grant_voucher(program, tenant, at, countries)
        home = self.market.tenants[tenant].country
        self.pending.append(
            {
                "op": "grant_voucher",
                "program": program,
                "tenant": tenant,
                "at": at.isoformat(),
                "countries": {
                    c.code: c.model_dump(mode="json")
                    for c in (countries.get(home),)
                    if c is not None
                },
            }
        )
        return voucher

    def open_lease(self, terms: LeaseTerms) -> None:
        """Raises MarketError (insufficient funds, budget) with nothing changed."""
        self.market.open_lease(terms)  # raises before anything is recorded
        self.pending.append({"op": "open_lease", "terms": terms.model_dump(mode="json")})

    def ingest(self, event: UsageEvent) -> None:
        self.market.ingest(event)
        self.pending.append({"op": "ingest", "event": event.model_dump(mode="json")})

    def settle(self, lease: str, at: datetime) -> None:
        self.market.settle(lease, at)
        self.pending.append({"op": "settle", "lease": lease, "at": at.isoformat()})

    def close(self, lease: str, reason: CloseReason, at: datetime) -> None:
        self.market.close(lease, reason, at)
        self.pending.append(
            {"op": "close", "lease": lease, "reason": reason.value, "at": at.isoformat()}
        )

    # --- journal -------------------------------------------------------------------------
    def take_pending(self) -> list[dict[str, Any]]:
        out, self.pending = self.pending, []
        return out

    def new_records(self) -> list[Record]:
        """Ledger records not yet written to the store (and marks them written)."""
        ledger = self.market.ledger
        fresh = ledger.records_from(self.written_records)
        self.written_records = ledger.record_count
        return fresh

    @classmethod
    def replay(cls, config: MarketConfig, ops: Iterable[dict[str, Any]]) -> MarketJournal:
        journal = cls(config)
        for body in ops:
            apply(journal.market, body)
        journal.written_records = journal.market.ledger.record_count
        return journal


def apply(market: Market, body: dict[str, Any]) -> None:
    """Carry out one journal entry on ``market``."""
    op = body["op"]
    if op == "add_tenant":
        market.add_tenant(TenantProfile.model_validate(body["profile"]))
    elif op == "deposit":
        market.deposit(
            body["tenant"], int(body["amount"]), body["ref"], datetime.fromisoformat(body["at"])
        )
    elif op == "add_program":
        market.add_program(
            VoucherProgram.model_validate(body["program"]),
            int(body["funding"]),
            datetime.fromisoformat(body["at"]),
            body["ref"],
        )
    elif op == "grant_voucher":
        market.grant_voucher(
            body["program"],
            body["tenant"],
            datetime.fromisoformat(body["at"]),
            {k: Country.model_validate(v) for k, v in body["countries"].items()},
        )
    elif op == "open_lease":
        market.open_lease(LeaseTerms.model_validate(body["terms"]))
    elif op == "ingest":
        market.ingest(UsageEvent.model_validate(body["event"]))
    elif op == "settle":
        market.settle(body["lease"], datetime.fromisoformat(body["at"]))
    elif op == "close":
        market.close(body["lease"], CloseReason(body["reason"]), datetime.fromisoformat(body["at"]))
    else:
        raise MarketError(f"unknown market journal entry {op!r}")
