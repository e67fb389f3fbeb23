"""Leases: what a matched task bought, frozen at creation, and where it is in its life.

A lease is created when a task is matched to a pool. Its :class:`LeaseTerms` snapshot the
price, the normalized-unit table version and the revenue split; nothing later (a new posted
price, a new unit table) changes them. The lifecycle::

    pending-start --first heartbeat--> active --funds run out--> paused-funds --deposit--> active
    pending-start --start timeout--> failed-start                (nothing accrues; full refund)
    active | paused-funds --close(reason)--> closed              (final settle, then refund)

Running out of funds *pauses* a lease (accrual stops, the workload is kept); it is never
destroyed for it. Every close carries a typed :class:`CloseReason`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from pydantic import AwareDatetime, Field, field_serializer, field_validator

from suanwang.core.base import Frozen, Identifier
from suanwang.core.market.money import BPS
from suanwang.core.units import ComputeClass


class LeaseState(StrEnum):
    """Where a lease is in its life."""

    PENDING_START = "pending-start"
    ACTIVE = "active"
    PAUSED_FUNDS = "paused-funds"
    CLOSED = "closed"
    FAILED_START = "failed-start"


LIVE_STATES = frozenset({LeaseState.PENDING_START, LeaseState.ACTIVE, LeaseState.PAUSED_FUNDS})


class CloseReason(StrEnum):
    """Why a lease ended (shown to both sides; never free text)."""

    COMPLETED = "completed"
    """The workload finished."""
    CANCELLED = "cancelled"
    """The tenant closed it."""
    PROVIDER_UNSTABLE = "provider-unstable"
    """The site stopped proving the workload runs for longer than allowed."""
    PROVIDER_DECOMMISSION = "provider-decommission"
    START_TIMEOUT = "start-timeout"
    """The workload never started in time (also the reason of a failed start)."""
    RECLAIMED = "reclaimed"
    """Interruptible capacity taken back by the provider."""
    SLA_BREACH = "sla-breach"
    DISPUTE = "dispute"
    RESCHEDULED = "rescheduled"
    """The task moved to another site (failover); a new lease runs there."""
    PLATFORM = "platform"


class SlaTier(StrEnum):
    """Service level: guaranteed capacity earns credits when availability falls short."""

    GUARANTEED = "guaranteed"
    INTERRUPTIBLE = "interruptible"
    BEST_EFFORT = "best-effort"


SLA_CREDIT_SCHEDULE: tuple[tuple[int, int], ...] = (
    (950_000, 5000),
    (990_000, 2500),
    (995_000, 1000),
)
"""(availability below, in ppm; credit in basis points of what was paid), strictest first."""


class RevenueSplit(Frozen):
    """How a lease's payments are shared (收益分配), fixed when the lease is created.

    The platform takes ``platform_fee_bps`` off the top; the rest goes to the site provider
    and the network carriers on the task's path in proportion to their part of the quoted
    price (``provider_weight``: compute; ``carriers``: each carrier's egress on the path).
    """

    provider: Identifier
    provider_weight: int = Field(ge=0)
    carriers: Mapping[str, int] = Field(
        default_factory=dict, description="carrier -> weight (read-only once the split exists)"
    )
    platform_fee_bps: int = Field(default=500, ge=0, le=BPS)

    @field_validator("carriers", mode="after")
    @classmethod
    def _read_only(cls, value: Mapping[str, int]) -> Mapping[str, int]:
        if any(w < 0 for w in value.values()):
            raise ValueError("carrier weights must be >= 0")
        return MappingProxyType(dict(sorted(value.items())))

    @field_serializer("carriers")
    def _plain(self, value: Mapping[str, int]) -> dict[str, int]:
        return dict(value)

    def weights(self, lease: str) -> dict[str, int]:
        """Pending account -> integer weight; a settlement is split exactly by these."""
        rest = BPS - self.platform_fee_bps
        provider_w = self.provider_weight
        total = provider_w + sum(self.carriers.values())
        if total == 0:
            provider_w, total = 1, 1
        out = {pending_account(lease, "provider", self.provider): provider_w * rest}
        for carrier, w in sorted(self.carriers.items()):
            if w > 0:
                out[pending_account(lease, "carrier", carrier)] = w * rest
        out[PLATFORM_ACCOUNT] = self.platform_fee_bps * total
        return {k: v for k, v in out.items() if v > 0}


PLATFORM_ACCOUNT = "platform:fees"


def pending_account(lease: str, role: str, party: str) -> str:
    """The account holding ``party``'s earnings on ``lease`` through the dispute window."""
    return f"pending:{lease}:{role}:{party}"


class LeaseTerms(Frozen):
    """The immutable snapshot a lease is created with."""

    id: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    task: str = Field(min_length=1)
    tenant: Identifier
    project: str | None = None
    site: Identifier
    model: Identifier
    compute_class: ComputeClass
    units_milli: int = Field(gt=0, description="normalized milli-units (fractions exact)")
    price_micros_per_unit_hour: int = Field(ge=0, description="bundled compute + network rate")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    unit_table_version: str = Field(min_length=1)
    split: RevenueSplit
    sla: SlaTier = SlaTier.GUARANTEED
    grace_s: int = Field(default=120, gt=0, description="longest heartbeat gap still billed")
    start_timeout_s: int = Field(default=900, gt=0)
    prepay_micros: int = Field(ge=0, description="funded into escrow when the lease opens")
    estimate_micros: int = Field(default=0, ge=0, description="quoted cost of the whole run")
    created_at: AwareDatetime


@dataclass
class Statement:
    """One cumulative usage statement of a lease (never rewritten; later ones supersede).

    ``usage_micros`` is the charge for ``[period_start, period_end)``; ``correction_micros``
    is what late events added to periods already stated (a correction line). The cumulative
    figures are the lease's totals at ``period_end``.
    """

    seq: int
    period_start: int
    period_end: int
    seconds: int
    qty_cum: int
    due_cum_micros: int
    paid_cum_micros: int
    usage_micros: int
    correction_micros: int
    correction_seconds: int
    settle_key: str | None


@dataclass
class Lease:
    """A lease's mutable state. Only :class:`suanwang.core.market.settlement.Market` changes it.

    Cursors (``settled_until``, ``seconds_cum``, ``qty_cum``, ``due_cum``, ``paid_cum``)
    never decrease. Times are epoch seconds.
    """

    terms: LeaseTerms
    state: LeaseState = LeaseState.PENDING_START
    close_reason: CloseReason | None = None
    running_confirmed_at: int | None = None
    closed_at: int | None = None
    paused: list[tuple[int, int | None]] = field(default_factory=list)
    settled_until: int = 0
    seconds_cum: int = 0
    qty_cum: int = 0
    due_cum_micros: int = 0
    paid_cum_micros: int = 0
    funded_micros: int = 0
    refunded_micros: int = 0
    credited_micros: int = 0
    released: bool = False
    statements: list[Statement] = field(default_factory=list)
    topups: int = 0

    @property
    def id(self) -> str:
        return self.terms.id

    @property
    def owed_micros(self) -> int:
        """Accrued but not yet paid (a paused lease's debt)."""
        return self.due_cum_micros - self.paid_cum_micros

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES
