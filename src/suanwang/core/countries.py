"""Countries and their connectivity indicators (for reach and the digital divide)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from suanwang.core.base import ISO2, Frozen, Latitude, Longitude


class IncomeGroup(StrEnum):
    """World Bank income classification."""

    LOW = "low"
    LOWER_MIDDLE = "lower-middle"
    UPPER_MIDDLE = "upper-middle"
    HIGH = "high"
    UNCLASSIFIED = "unclassified"


class Indicator(Frozen):
    """One indicator value and the year it refers to (the latest year with data)."""

    value: float
    year: int = Field(ge=1960, le=2100)


class Country(Frozen):
    """A country or economy, keyed by ISO 3166-1 alpha-2 code.

    Indicators are ``None`` where the source has no value for any year.
    """

    code: ISO2
    iso3: str = Field(pattern=r"^[A-Z]{3}$")
    name: str = Field(min_length=1)
    region: str = ""
    income_group: IncomeGroup
    lat: Latitude | None = Field(default=None, description="label point, when known")
    lon: Longitude | None = None
    population: Indicator | None = None
    gni_per_capita_usd: Indicator | None = None
    internet_users_pct: Indicator | None = None
    fixed_broadband_per_100: Indicator | None = None
    source: str = ""
