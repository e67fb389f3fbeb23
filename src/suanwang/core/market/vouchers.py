"""Compute vouchers (算力券): restricted, expiring credit that pays part of compute cost.

The reports describe local governments granting vouchers that cover a share (typically 50 %)
of small firms' compute bills. A :class:`VoucherProgram` says who is eligible (small and
medium enterprises, and tenants in low- and lower-middle-income countries by the World Bank
classification in the country table), how much each grant holds, which share of a lease's
funding it may cover, which compute classes it pays for, and how long it lasts. Money for the
vouchers comes from the programme's pool account, funded by its issuer; an expired voucher's
remainder returns to that pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from pydantic import AwareDatetime, Field

from suanwang.core.base import ISO2, Frozen, Identifier
from suanwang.core.countries import Country, IncomeGroup
from suanwang.core.market.money import BPS
from suanwang.core.units import ComputeClass

DEFAULT_INCOME_GROUPS = (IncomeGroup.LOW, IncomeGroup.LOWER_MIDDLE)


class TenantProfile(Frozen):
    """What the market knows of a tenant to decide voucher eligibility."""

    id: Identifier
    country: ISO2
    sme: bool = Field(default=False, description="a small or medium enterprise")


class VoucherProgram(Frozen):
    """A voucher scheme: eligibility, size, covered share, scope and lifetime of grants."""

    id: Identifier
    issuer: str = Field(min_length=1, description="who funds it, e.g. a city's bureau")
    grant_micros: int = Field(gt=0, description="credit in one grant")
    share_bps: int = Field(default=5000, gt=0, le=BPS, description="share of cost it covers")
    valid_days: int = Field(default=90, gt=0)
    classes: tuple[ComputeClass, ...] = Field(default=(), description="empty: every class")
    smes: bool = Field(default=True, description="small and medium enterprises qualify")
    income_groups: tuple[IncomeGroup, ...] = DEFAULT_INCOME_GROUPS

    def lifetime(self) -> timedelta:
        return timedelta(days=self.valid_days)


class Voucher(Frozen):
    """One granted voucher; its balance lives in the ledger account ``account``."""

    id: str = Field(min_length=1)
    program: Identifier
    tenant: Identifier
    grant_micros: int = Field(gt=0)
    share_bps: int = Field(gt=0, le=BPS)
    classes: tuple[ComputeClass, ...] = ()
    issued_at: AwareDatetime
    expires_at: AwareDatetime

    @property
    def account(self) -> str:
        return f"voucher:{self.id}"

    def covers(self, compute_class: ComputeClass) -> bool:
        """True if the voucher may pay for ``compute_class``."""
        return not self.classes or compute_class in self.classes


def eligibility(
    tenant: TenantProfile, program: VoucherProgram, countries: Mapping[str, Country]
) -> tuple[bool, str]:
    """Whether ``tenant`` qualifies for ``program``, and why (a sentence either way)."""
    if program.smes and tenant.sme:
        return True, f"{tenant.id} is a small or medium enterprise"
    country = countries.get(tenant.country)
    group = country.income_group if country is not None else IncomeGroup.UNCLASSIFIED
    name = country.name if country is not None else tenant.country
    if group in program.income_groups:
        return True, f"{tenant.id} is in {name}, a {group.value}-income country"
    wanted = " or ".join(g.value for g in program.income_groups) or "no"
    sme = "not a small or medium enterprise, and " if program.smes else ""
    return False, (
        f"{tenant.id} is {sme}in {name} ({group.value} income); program {program.id} "
        f"covers {wanted}-income countries"
    )
