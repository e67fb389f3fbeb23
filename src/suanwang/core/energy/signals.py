"""Hourly signals per grid zone: carbon intensity, electricity price and tariff band.

A :class:`SignalBook` holds one :class:`ZoneModel` per grid zone and answers
``signals(zone, start_hour, hours)`` with a :class:`ZoneSignals`: vectors over epoch hours
(see :mod:`suanwang.core.energy.clock`) plus a :class:`Provenance` per signal, so every
output can say whether a number was *measured* or *synthetic* and where it came from.

Resolution order (first that applies):

* **intensity**: a measured year from a pack (replayed by calendar hour) ->
  the annual factor x the synthetic shape (:mod:`~suanwang.core.energy.shapes`). The annual
  factor is, in order: a pack's annual value; China's official provincial factor (MEE);
  Google's region intensity for the zone; the mean of Google's regions in the same country;
  the world average.
* **price** (USD/MWh): a measured year from a pack -> the zone's time-of-use tariff
  (China's provinces; converted from CNY at :data:`CNY_PER_USD`) -> the shipped 2022 price
  profile -> :data:`FALLBACK_PRICE_USD_PER_MWH`.
* **tariff band**: the zone's TOU schedule; without one, hours above the local day's 75th price
  percentile are *peak* and below its 25th *valley* (derived from the price); a flat fallback
  price is all *flat*.

Contracts: pure; a book is immutable (``with_*`` return new books); unknown zones raise
:class:`~suanwang.core.errors.UnknownIdError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import Field

from suanwang.core.base import Frozen
from suanwang.core.energy.builtin_tables import GCP_YEAR, GCP_ZONE_INTENSITY, PRICE_PROFILES
from suanwang.core.energy.china import PROVINCE_FACTORS, PROVINCE_TOU
from suanwang.core.energy.clock import (
    HOURS_PER_DAY,
    civil,
    hour_range,
    same_hour_in_year,
    year_hours,
    year_start,
)
from suanwang.core.energy.shapes import DEFAULT_SHAPE, ShapeParams, hourly_from_annual
from suanwang.core.energy.tariffs import BAND_ORDER, TouBand, TouSchedule
from suanwang.core.errors import SuanwangError, UnknownIdError
from suanwang.core.world import World

WORLD_AVERAGE_G_PER_KWH = 480.0
"""World average grid intensity, 2023 (Ember, Global Electricity Review 2024: about
480 gCO2/kWh); used only where no other figure exists, and labelled ``fallback``."""

FALLBACK_PRICE_USD_PER_MWH = 100.0
"""A flat industrial electricity price used where no price is known (labelled ``fallback``)."""

CNY_PER_USD = 7.1
"""Fixed conversion for Chinese tariffs (approximate 2025-2026 rate; documented, not live)."""

PACK_ZONE_ALIASES: dict[str, tuple[str, ...]] = {
    "DE": ("DE-LU",),
    "CL-SEN": ("CL-SIC",),
    "BR-CS": ("BR-SP",),
}
"""Our zone -> the codes the same market goes by in data sources (bidding zones, old names)."""

CHINA_SHAPES: dict[str, ShapeParams] = {
    # Hydro provinces: the dry winter burns coal, summer rains clean the grid.
    **dict.fromkeys(("CN-SC", "CN-YN"), ShapeParams(seasonal=0.25)),
    # Western provinces with large solar fleets: a deep midday dip.
    **dict.fromkeys(
        ("CN-QH", "CN-NX", "CN-GS", "CN-XJ", "CN-NM"), ShapeParams(solar=0.22, seasonal=0.08)
    ),
}
"""Assumed shape amplitudes for some provinces (default otherwise); see shapes.py."""


class SignalOrigin(StrEnum):
    """Where a series comes from; the CLI prints it next to every number."""

    MEASURED = "measured"
    DECLARED = "declared"
    SYNTHETIC = "synthetic"
    TARIFF = "tariff"
    PROFILE = "profile"
    FALLBACK = "fallback"


class Provenance(Frozen):
    """The origin of one signal, in words a user can check."""

    origin: SignalOrigin
    source: str


class AnnualFactor(Frozen):
    """An annual average grid intensity and how it was obtained."""

    g_per_kwh: float = Field(gt=0.0)
    year: int
    method: str = Field(min_length=1, description="e.g. mee-province, gcp-region, fallback")
    source: str = Field(min_length=1)
    basis: str = Field(default="unstated", description="direct, lifecycle, or unstated")


@dataclass(frozen=True, slots=True)
class MeasuredYear:
    """One calendar year of hourly values (8,760 or 8,784), replayed for other years by
    calendar hour (:func:`~suanwang.core.energy.clock.same_hour_in_year`)."""

    year: int
    values: npt.NDArray[np.float64]
    source: str

    def __post_init__(self) -> None:
        expected = year_hours(self.year).size
        if self.values.shape != (expected,):
            raise SuanwangError(
                f"a measured year {self.year} needs {expected} hourly values, "
                f"got {self.values.shape[0]}"
            )
        if not np.all(np.isfinite(self.values)):
            raise SuanwangError(f"measured year {self.year} has missing values; fill them first")

    def at(self, epoch_hours: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """The value at the same calendar hour of the measured year."""
        mapped = same_hour_in_year(np.asarray(epoch_hours, dtype=np.int64), self.year)
        return self.values[mapped - year_start(self.year)]

    def replay(
        self, epoch_hours: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.float64], Provenance]:
        """:meth:`at` with the provenance that says it is a measured year replayed."""
        return self.at(epoch_hours), Provenance(
            origin=SignalOrigin.MEASURED,
            source=f"{self.source}; {self.year} replayed by calendar hour",
        )


class PriceProfile(Frozen):
    """A price shape: mean x hour-of-day (UTC) multiplier x month multiplier, in USD/MWh."""

    mean_usd_per_mwh: float
    hour_utc: tuple[float, ...] = Field(min_length=24, max_length=24)
    month: tuple[float, ...] = Field(min_length=12, max_length=12)
    source: str

    def at(self, epoch_hours: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Profile price at each epoch hour."""
        _, m, _, h = civil(epoch_hours)
        hours = np.asarray(self.hour_utc)[h]
        months = np.asarray(self.month)[m - 1]
        out: npt.NDArray[np.float64] = self.mean_usd_per_mwh * hours * months
        return out


@dataclass(frozen=True, slots=True)
class ZoneSignals:
    """Hourly signals of one zone over consecutive epoch hours."""

    zone: str
    hours: npt.NDArray[np.int64]
    intensity_g_per_kwh: npt.NDArray[np.float64]
    price_usd_per_mwh: npt.NDArray[np.float64]
    bands: npt.NDArray[np.int8]
    provenance: Mapping[str, Provenance]

    def band_names(self) -> list[TouBand]:
        """The tariff band of each hour."""
        return [BAND_ORDER[int(b)] for b in self.bands]

    def is_band(self, bands: Iterable[TouBand]) -> npt.NDArray[np.bool_]:
        """Mask of hours in any of ``bands``."""
        wanted = np.array([BAND_ORDER.index(b) for b in bands], dtype=np.int8)
        return np.isin(self.bands, wanted)


@dataclass(frozen=True, slots=True)
class ZoneModel:
    """Everything known about one zone's signals; answers vectorized queries."""

    zone: str
    lat: float
    lon: float
    annual: AnnualFactor
    shape: ShapeParams = DEFAULT_SHAPE
    measured_intensity: MeasuredYear | None = None
    measured_price: MeasuredYear | None = None
    tariff: TouSchedule | None = None
    profile: PriceProfile | None = None
    sites: tuple[str, ...] = field(default=())

    def intensity(self, hours: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.float64], Provenance]:
        """Carbon intensity (gCO2e/kWh) at each hour and where it comes from."""
        if self.measured_intensity is not None:
            return self.measured_intensity.replay(hours)
        values = hourly_from_annual(self.annual.g_per_kwh, hours, self.lat, self.lon, self.shape)
        return values, Provenance(
            origin=SignalOrigin.SYNTHETIC,
            source=(
                f"annual {self.annual.g_per_kwh:g} g/kWh ({self.annual.method}: "
                f"{self.annual.source}, {self.annual.year}) x synthetic diurnal/seasonal shape"
            ),
        )

    def price(self, hours: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.float64], Provenance]:
        """Electricity price (USD/MWh) at each hour and where it comes from."""
        if self.measured_price is not None:
            return self.measured_price.replay(hours)
        if self.tariff is not None:
            t = self.tariff
            rate = CNY_PER_USD if t.currency == "CNY" else 1.0
            return t.price_per_mwh(hours) / rate, Provenance(
                origin=SignalOrigin.TARIFF,
                source=f"time-of-use tariff: {t.source}; {t.currency} at {rate:g}/USD",
            )
        if self.profile is not None:
            return self.profile.at(hours), Provenance(
                origin=SignalOrigin.PROFILE, source=self.profile.source
            )
        return np.full(hours.shape, FALLBACK_PRICE_USD_PER_MWH), Provenance(
            origin=SignalOrigin.FALLBACK,
            source=f"no price known: flat {FALLBACK_PRICE_USD_PER_MWH:g} USD/MWh",
        )

    def bands(self, hours: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int8], Provenance]:
        """Tariff band index (into :data:`BAND_ORDER`) of each hour."""
        if self.tariff is not None:
            return self.tariff.bands(hours), Provenance(
                origin=SignalOrigin.TARIFF, source=self.tariff.source
            )
        flat = np.int8(BAND_ORDER.index(TouBand.FLAT))
        if self.measured_price is None and self.profile is None:
            return np.full(hours.shape, flat, dtype=np.int8), Provenance(
                origin=SignalOrigin.FALLBACK, source="no tariff or price known: all hours flat"
            )
        return self._derived_bands(hours), Provenance(
            origin=SignalOrigin.PROFILE,
            source="derived from price: above the local day's 75th percentile peak, "
            "below its 25th valley",
        )

    def _derived_bands(self, hours: npt.NDArray[np.int64]) -> npt.NDArray[np.int8]:
        if hours.size == 0:
            return np.empty(0, dtype=np.int8)
        span = local_days_span(hours, self.lon)
        prices, _ = self.price(span)
        out: npt.NDArray[np.int8] = derive_bands(prices)[hours - span[0]]
        return out


def local_days_span(hours: npt.NDArray[np.int64], lon: float) -> npt.NDArray[np.int64]:
    """The whole local days (solar offset ``lon / 15``, rounded) that cover ``hours``."""
    offset = round(lon / 15.0)
    local = hours + offset
    first_day = int(np.floor_divide(local.min(), HOURS_PER_DAY))
    last_day = int(np.floor_divide(local.max(), HOURS_PER_DAY))
    return hour_range(
        first_day * HOURS_PER_DAY - offset, (last_day - first_day + 1) * HOURS_PER_DAY
    )


def derive_bands(prices: npt.NDArray[np.float64]) -> npt.NDArray[np.int8]:
    """Tariff bands from prices over whole local days (from :func:`local_days_span`).

    Within each day, hours dearer than the day's 75th percentile are *peak* and cheaper than
    its 25th *valley* (6 each when all 24 prices differ; none when the day is flat).
    """
    days = prices.reshape(-1, HOURS_PER_DAY)
    high = np.percentile(days, 75.0, axis=1, keepdims=True)
    low = np.percentile(days, 25.0, axis=1, keepdims=True)
    table = np.full(days.shape, BAND_ORDER.index(TouBand.FLAT), dtype=np.int8)
    table[days > high] = BAND_ORDER.index(TouBand.PEAK)
    table[days < low] = BAND_ORDER.index(TouBand.VALLEY)
    return table.reshape(-1)


class SignalBook:
    """The zones' signal models, keyed by zone; immutable."""

    def __init__(self, zones: Mapping[str, ZoneModel]) -> None:
        self._zones = dict(zones)

    @property
    def zones(self) -> Mapping[str, ZoneModel]:
        """Every zone model, by zone key."""
        return dict(self._zones)

    def zone(self, key: str) -> ZoneModel:
        """The model of zone ``key``.

        Raises:
            UnknownIdError: no such zone (with the closest keys as suggestions).
        """
        try:
            return self._zones[key]
        except KeyError:
            raise UnknownIdError("grid zone", key, self._zones) from None

    def signals(self, zone: str, start_hour: int, hours: int) -> ZoneSignals:
        """The zone's signals for ``hours`` consecutive hours from epoch hour ``start_hour``."""
        if hours < 1:
            raise SuanwangError(f"ask for at least one hour, got {hours}")
        model = self.zone(zone)
        span = hour_range(start_hour, hours)
        ci, ci_from = model.intensity(span)
        price, price_from = model.price(span)
        bands, bands_from = model.bands(span)
        return ZoneSignals(
            zone=zone,
            hours=span,
            intensity_g_per_kwh=ci,
            price_usd_per_mwh=price,
            bands=bands,
            provenance={"intensity": ci_from, "price": price_from, "bands": bands_from},
        )

    def with_zone(self, model: ZoneModel) -> SignalBook:
        """A new book with ``model`` replacing (or adding) its zone."""
        return SignalBook({**self._zones, model.zone: model})

    def with_measured(
        self,
        zone: str,
        *,
        intensity: MeasuredYear | None = None,
        price: MeasuredYear | None = None,
        annual: AnnualFactor | None = None,
    ) -> SignalBook:
        """A new book where ``zone`` uses the given measured data (``None`` keeps what it had).

        A measured intensity year also becomes the zone's annual factor (its mean) unless
        ``annual`` is given.
        """
        model = self.zone(zone)
        changes: dict[str, Any] = {}
        if intensity is not None:
            changes["measured_intensity"] = intensity
            changes["annual"] = annual or AnnualFactor(
                g_per_kwh=float(intensity.values.mean()),
                year=intensity.year,
                method="pack-hourly-mean",
                source=intensity.source,
                basis="lifecycle",
            )
        elif annual is not None:
            changes["annual"] = annual
        if price is not None:
            changes["measured_price"] = price
        return self.with_zone(replace(model, **changes))


def _gcp_country_means() -> dict[str, tuple[float, tuple[str, ...]]]:
    per: dict[str, list[tuple[float, tuple[str, ...]]]] = {}
    for zone, (value, regions) in GCP_ZONE_INTENSITY.items():
        per.setdefault(zone.split("-")[0], []).append((value, regions))
    return {
        country: (
            round(sum(v for v, _ in vals) / len(vals), 2),
            tuple(sorted(r for _, rs in vals for r in rs)),
        )
        for country, vals in per.items()
    }


def builtin_annual(zone: str, country: str) -> AnnualFactor:
    """The shipped annual factor of ``zone`` (in ``country``), by the documented order."""
    if zone in PROVINCE_FACTORS:
        f = PROVINCE_FACTORS[zone]
        stand_in = "STAND-IN" in f.note
        return AnnualFactor(
            g_per_kwh=f.kg_co2_per_kwh * 1000.0,
            year=f.year,
            method="mee-regional-stand-in" if stand_in else "mee-province",
            source=f.source,
            basis="direct",
        )
    for key in (zone, *PACK_ZONE_ALIASES.get(zone, ())):
        if key in GCP_ZONE_INTENSITY:
            value, regions = GCP_ZONE_INTENSITY[key]
            return AnnualFactor(
                g_per_kwh=value,
                year=GCP_YEAR,
                method="gcp-region",
                source=f"Google Cloud region carbon data ({', '.join(regions)})",
            )
    countries = _gcp_country_means()
    if country in countries:
        value, regions = countries[country]
        return AnnualFactor(
            g_per_kwh=value,
            year=GCP_YEAR,
            method="gcp-country-proxy",
            source=f"mean of Google Cloud regions in {country} ({', '.join(regions)})",
        )
    return AnnualFactor(
        g_per_kwh=WORLD_AVERAGE_G_PER_KWH,
        year=2023,
        method="fallback",
        source="world average (Ember Global Electricity Review 2024); no open figure for zone",
        basis="lifecycle",
    )


def builtin_profile(zone: str) -> PriceProfile | None:
    """The shipped 2022 price profile of ``zone`` (or of its alias), if any."""
    for key in (zone, *PACK_ZONE_ALIASES.get(zone, ())):
        if key in PRICE_PROFILES:
            mean, hours, months = PRICE_PROFILES[key]
            return PriceProfile(
                mean_usd_per_mwh=mean,
                hour_utc=hours,
                month=months,
                source=f"2022 day-ahead price profile of {key} (green-dcc, MIT; market operators)",
            )
    return None


def builtin_book(world: World) -> SignalBook:
    """A signal model for every grid zone that hosts a site of ``world``, from shipped data."""
    by_zone: dict[str, list[Any]] = {}
    for site in world.sites:
        by_zone.setdefault(site.grid_zone, []).append(site)
    zones: dict[str, ZoneModel] = {}
    for zone, sites in sorted(by_zone.items()):
        zones[zone] = ZoneModel(
            zone=zone,
            lat=float(np.mean([s.lat for s in sites])),
            lon=float(np.mean([s.lon for s in sites])),
            annual=builtin_annual(zone, sites[0].country),
            shape=CHINA_SHAPES.get(zone, DEFAULT_SHAPE),
            tariff=PROVINCE_TOU.get(zone),
            profile=builtin_profile(zone),
            sites=tuple(sorted(s.id for s in sites)),
        )
    return SignalBook(zones)
