"""Optional energy packs: hourly carbon intensity, hourly prices and annual zone averages.

Never shipped (share-alike licences), read from a path the user gives:

* **hourly carbon** - Electricity Maps data-portal CSVs (``<ZONE>_<YEAR>_hourly.csv``, columns
  ``Datetime (UTC)``, ``Zone Id``, ``Carbon Intensity gCO₂eq/kWh (LCA)`` ...), as in
  ``shared/data/carbon-hourly/carbon_intensity/``: **ODbL 1.0, © Electricity Maps**.
* **hourly prices** - ``<ZONE>_electricity_prices_<YEAR>.csv`` (``Datetime (UTC)``,
  ``Price (USD/MWh)``), as in ``carbon-hourly/electricity_prices/`` (HPE green-dcc, MIT, from
  the market operators).
* **annual averages** - co2.js ``electricity-maps-yearly_<YEAR>.json`` (Electricity Maps zone
  averages, ODbL) and ``average-intensities.json`` (Ember country averages, CC BY-SA 4.0).

:func:`load_energy_pack` recognizes any of these folders (or their parent) and
:func:`apply_packs` folds them into a :class:`~suanwang.core.energy.signals.SignalBook`: a
measured hourly year beats an annual figure; an Electricity Maps zone average beats every
shipped figure; an Ember country average replaces only the shipped proxies and fallbacks.
Gaps of up to 6 hours are filled by linear interpolation; longer gaps are an error.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from suanwang.core.energy.clock import epoch_hour, hour_start, year_hours, year_start
from suanwang.core.energy.signals import (
    PACK_ZONE_ALIASES,
    AnnualFactor,
    MeasuredYear,
    SignalBook,
)
from suanwang.world.packs.errors import DataPackError

CARBON_ATTRIBUTION = (
    "Hourly carbon intensity © Electricity Maps (https://www.electricitymaps.com), "
    "Open Database License (ODbL) 1.0, as redistributed by HewlettPackard/green-dcc."
)
PRICE_ATTRIBUTION = (
    "Electricity prices compiled by HewlettPackard/green-dcc (MIT) from AEMO, ONS, IESO, "
    "CDEC-SIC, ENTSO-E, POSOCO, JEPX, KPX, EMC, CAISO/GridStatus, PJM, NYISO, ERCOT and Eskom."
)
ANNUAL_ATTRIBUTION = (
    "Zone annual grid intensity: Electricity Maps via CO2.js, ODbL 1.0. Country averages: "
    "Ember via CO2.js, CC BY-SA 4.0."
)

MAX_GAP_HOURS = 6
_CARBON_RE = re.compile(r"^(?P<zone>[A-Z][A-Z0-9-]*)_(?P<year>\d{4})_hourly\.csv$")
_PRICE_RE = re.compile(r"^(?P<zone>[A-Z][A-Z0-9-]*)_electricity_prices_(?P<year>\d{4})\.csv$")
_YEARLY_RE = re.compile(r"^electricity-maps-yearly_(?P<year>\d{4})\.json$")
_LCA = "Carbon Intensity gCO₂eq/kWh (LCA)"


@dataclass
class EnergyPack:
    """What one or more pack folders hold, keyed by the data's own zone codes."""

    carbon: dict[str, MeasuredYear] = field(default_factory=dict)
    prices: dict[str, MeasuredYear] = field(default_factory=dict)
    zone_annual: dict[str, AnnualFactor] = field(default_factory=dict)
    country_annual: dict[str, AnnualFactor] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def merge(self, other: EnergyPack) -> EnergyPack:
        """Both packs; ``other`` wins where both have a zone."""
        return EnergyPack(
            carbon={**self.carbon, **other.carbon},
            prices={**self.prices, **other.prices},
            zone_annual={**self.zone_annual, **other.zone_annual},
            country_annual={**self.country_annual, **other.country_annual},
            files=[*self.files, *other.files],
        )

    def attributions(self) -> list[str]:
        """The attribution lines for what this pack holds."""
        out = []
        if self.carbon:
            out.append(CARBON_ATTRIBUTION)
        if self.prices:
            out.append(PRICE_ATTRIBUTION)
        if self.zone_annual or self.country_annual:
            out.append(ANNUAL_ATTRIBUTION)
        return out


def _fill(
    values: npt.NDArray[np.float64], name: str, first_hour: int | None = None
) -> npt.NDArray[np.float64]:
    """Linear interpolation over gaps of at most :data:`MAX_GAP_HOURS` hours.

    ``first_hour`` (the epoch hour of ``values[0]``) lets an error say where the gap starts.
    """
    missing = ~np.isfinite(values)
    if not missing.any():
        return values
    if missing.all():
        raise DataPackError(f"{name}: no values at all")
    padded = np.concatenate(([False], missing, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    lengths = edges[1::2] - edges[::2]
    longest = int(np.max(lengths))
    if longest > MAX_GAP_HOURS:
        where = ""
        if first_hour is not None:
            begin = hour_start(first_hour + int(edges[::2][int(np.argmax(lengths))]))
            where = f" from {begin.isoformat().replace('+00:00', 'Z')}"
        raise DataPackError(
            f"{name}: a gap of {longest} hours{where} (at most {MAX_GAP_HOURS} are interpolated)"
        )
    idx = np.arange(values.size)
    out = values.copy()
    out[missing] = np.interp(idx[missing], idx[~missing], values[~missing])
    return out


def _read_hourly(path: Path, year: int, column: str) -> npt.NDArray[np.float64]:
    """One calendar year of hourly values from ``column`` keyed by ``Datetime (UTC)``."""
    start = year_start(year)
    values = np.full(year_hours(year).size, np.nan)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or "Datetime (UTC)" not in reader.fieldnames:
                raise DataPackError(f"{path.name}: no 'Datetime (UTC)' column")
            if column not in reader.fieldnames:
                raise DataPackError(f"{path.name}: no {column!r} column")
            for line, row in enumerate(reader, start=2):
                raw = row["Datetime (UTC)"].strip()
                try:
                    stamp = datetime.fromisoformat(raw)
                except ValueError:
                    raise DataPackError(f"{path.name}: line {line}: bad time {raw!r}") from None
                if stamp.utcoffset() is None:
                    stamp = stamp.replace(tzinfo=UTC)
                i = epoch_hour(stamp) - start
                cell = (row[column] or "").strip()
                if 0 <= i < values.size and cell:
                    try:
                        values[i] = float(cell)
                    except ValueError:
                        raise DataPackError(
                            f"{path.name}: line {line}: {column} is not a number: {cell!r}"
                        ) from None
    except OSError as exc:
        raise DataPackError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DataPackError(f"{path.name}: not UTF-8 text") from None
    return _fill(values, path.name, start)


def _folders(path: Path) -> list[Path]:
    return [path, *sorted(p for p in path.iterdir() if p.is_dir())] if path.is_dir() else []


def load_energy_pack(path: Path, iso3_to_iso2: Mapping[str, str] | None = None) -> EnergyPack:
    """Read every energy file found in ``path`` or its immediate subfolders.

    Raises:
        DataPackError: the path does not exist, holds no energy file, or a file is malformed.
    """
    if not path.exists():
        raise DataPackError(f"{path}: no such file or folder")
    pack = EnergyPack()
    for folder in _folders(path):
        for file in sorted(folder.iterdir()):
            if m := _CARBON_RE.match(file.name):
                year, zone = int(m["year"]), m["zone"]
                pack.carbon[zone] = MeasuredYear(
                    year=year,
                    values=_read_hourly(file, year, _LCA),
                    source=f"Electricity Maps hourly LCA intensity {zone} (ODbL), {file.name}",
                )
            elif m := _PRICE_RE.match(file.name):
                year, zone = int(m["year"]), m["zone"]
                pack.prices[zone] = MeasuredYear(
                    year=year,
                    values=_read_hourly(file, year, "Price (USD/MWh)"),
                    source=f"day-ahead price {zone} (green-dcc, MIT), {file.name}",
                )
            elif m := _YEARLY_RE.match(file.name):
                pack.zone_annual.update(_read_yearly(file, int(m["year"])))
            elif file.name == "average-intensities.json":
                pack.country_annual.update(_read_ember(file, iso3_to_iso2 or {}))
            else:
                continue
            pack.files.append(str(file))
    if not pack.files:
        raise DataPackError(
            f"{path}: no energy data found (expected <ZONE>_<YEAR>_hourly.csv, "
            "<ZONE>_electricity_prices_<YEAR>.csv, electricity-maps-yearly_<YEAR>.json or "
            "average-intensities.json, here or one folder down)"
        )
    return pack


def _load_json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataPackError(f"{path.name}: cannot read JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DataPackError(f"{path.name}: expected a JSON object at the top")
    return data


def _read_yearly(path: Path, year: int) -> dict[str, AnnualFactor]:
    out: dict[str, AnnualFactor] = {}
    for zone, entry in _load_json(path).items():
        try:
            value = float(entry["carbonIntensity"]["value"])  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            continue  # zones without a value are skipped, not an error
        if value > 0:
            out[zone] = AnnualFactor(
                g_per_kwh=value,
                year=year,
                method="pack-zone-annual",
                source=f"Electricity Maps zone average {zone} (ODbL) via CO2.js",
                basis="lifecycle",
            )
    return out


def _read_ember(path: Path, iso3_to_iso2: Mapping[str, str]) -> dict[str, AnnualFactor]:
    out: dict[str, AnnualFactor] = {}
    for key, entry in _load_json(path).items():
        if not isinstance(entry, dict):
            continue
        code = iso3_to_iso2.get(str(entry.get("country_code") or key))
        value = entry.get("emissions_intensity_gco2_per_kwh")
        if code is None or not isinstance(value, int | float) or value <= 0:
            continue  # regions ("EU", "Africa") and blanks
        out[code] = AnnualFactor(
            g_per_kwh=float(value),
            year=int(entry.get("year") or 0),
            method="pack-country-annual",
            source=f"Ember country average {code} (CC BY-SA 4.0) via CO2.js",
        )
    return out


@dataclass(frozen=True)
class PackUse:
    """Which pack data a zone took."""

    zone: str
    intensity: str | None
    price: str | None
    annual: str | None


def apply_packs(
    book: SignalBook, pack: EnergyPack, country_of_zone: Mapping[str, str]
) -> tuple[SignalBook, list[PackUse]]:
    """``book`` with every zone that the pack covers using the pack's data."""
    uses: list[PackUse] = []
    for zone, model in book.zones.items():
        keys: Iterable[str] = (zone, *PACK_ZONE_ALIASES.get(zone, ()))
        keys = tuple(keys)
        carbon = next((pack.carbon[k] for k in keys if k in pack.carbon), None)
        price = next((pack.prices[k] for k in keys if k in pack.prices), None)
        annual = next((pack.zone_annual[k] for k in keys if k in pack.zone_annual), None)
        country = country_of_zone.get(zone, zone.split("-")[0])
        if (
            annual is None
            and country in pack.country_annual
            and model.annual.method in {"fallback", "gcp-country-proxy"}
        ):
            annual = pack.country_annual[country]
        if carbon is None and price is None and annual is None:
            continue
        book = book.with_measured(
            zone, intensity=carbon, price=price, annual=None if carbon is not None else annual
        )
        uses.append(
            PackUse(
                zone=zone,
                intensity=carbon.source if carbon else None,
                price=price.source if price else None,
                annual=annual.source if annual and carbon is None else None,
            )
        )
    return book, uses
