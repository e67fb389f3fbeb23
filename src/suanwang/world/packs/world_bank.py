"""World Bank World Development Indicators (CC BY 4.0) -> the country table.

Reads a folder holding the WDI exports described in ``shared/data/world-bank/SOURCE.md``:
``Metadata_Country_*.csv`` (region, income group, name), the long-format indicator files
``sp.pop.totl.csv``, ``ny.gnp.pcap.cd.csv``, ``it.net.bbnd.p2.csv`` (columns Country Code, Year,
Value) and the wide API export ``API_IT.NET.USER.ZS_*.csv``. Aggregates (rows with no region,
such as "Africa Eastern and Southern") are dropped. Each indicator keeps its latest year.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path

from suanwang.core.countries import Country, IncomeGroup, Indicator
from suanwang.world.packs.errors import DataPackError

ATTRIBUTION = (
    "Source: World Bank, World Development Indicators (SP.POP.TOTL, NY.GNP.PCAP.CD, "
    "IT.NET.USER.ZS, IT.NET.BBND.P2), https://data.worldbank.org, licensed CC BY 4.0. "
    "Telecommunication indicators originate from the ITU."
)

_INCOME = {
    "Low income": IncomeGroup.LOW,
    "Lower middle income": IncomeGroup.LOWER_MIDDLE,
    "Upper middle income": IncomeGroup.UPPER_MIDDLE,
    "High income": IncomeGroup.HIGH,
    "": IncomeGroup.UNCLASSIFIED,
}

_LONG_FILES = {
    "population": "sp.pop.totl.csv",
    "gni_per_capita_usd": "ny.gnp.pcap.cd.csv",
    "fixed_broadband_per_100": "it.net.bbnd.p2.csv",
}


def _rows(path: Path) -> Iterator[dict[str, str]]:
    """CSV rows as dicts, skipping any preamble before the 'Country Name' header."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise DataPackError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    start = next((i for i, line in enumerate(lines) if line.startswith(('"Country', "Country"))), 0)
    yield from csv.DictReader(lines[start:])


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    if not found:
        raise DataPackError(f"{folder}: no file matching {pattern!r}")
    return found[0]


def _latest_long(path: Path) -> dict[str, Indicator]:
    latest: dict[str, Indicator] = {}
    for n, row in enumerate(_rows(path), start=2):
        try:
            code, year, value = row["Country Code"], int(row["Year"]), row["Value"]
        except (KeyError, ValueError) as exc:
            raise DataPackError(f"{path}:{n}: expected Country Code, Year, Value ({exc})") from exc
        if value.strip() and (code not in latest or latest[code].year < year):
            latest[code] = Indicator(value=float(value), year=year)
    return latest


def _latest_wide(path: Path) -> dict[str, Indicator]:
    latest: dict[str, Indicator] = {}
    for n, row in enumerate(_rows(path), start=2):
        if "Country Code" not in row:
            raise DataPackError(f"{path}:{n}: no 'Country Code' column")
        years = sorted((int(k), v) for k, v in row.items() if k and k.isdigit() and v and v.strip())
        if years:
            year, value = years[-1]
            latest[row["Country Code"]] = Indicator(value=float(value), year=year)
    return latest


def load_world_bank(
    folder: Path,
    iso3_to_iso2: Mapping[str, str],
    label_points: Mapping[str, tuple[float, float]] | None = None,
) -> tuple[tuple[Country, ...], list[str]]:
    """Countries from the WDI folder, and the ISO3 codes skipped for lack of an ISO2 code.

    ``iso3_to_iso2`` maps World Bank codes (ISO 3166-1 alpha-3, plus XKX for Kosovo) to alpha-2;
    ``label_points`` gives an optional (lat, lon) per alpha-2 code.
    """
    if not folder.is_dir():
        raise DataPackError(f"{folder}: not a folder (expected the World Bank WDI export)")
    indicators = {name: _latest_long(folder / fname) for name, fname in _LONG_FILES.items()}
    indicators["internet_users_pct"] = _latest_wide(_one(folder, "API_IT.NET.USER.ZS_*.csv"))
    points = label_points or {}
    countries, skipped = [], []
    for row in _rows(_one(folder, "Metadata_Country_*.csv")):
        iso3, region = row.get("Country Code", ""), (row.get("Region") or "").strip()
        if not region:
            continue  # an aggregate such as a region or income group
        iso2 = iso3_to_iso2.get(iso3)
        if iso2 is None:
            skipped.append(iso3)
            continue
        lat, lon = points.get(iso2, (None, None))
        countries.append(
            Country(
                code=iso2,
                iso3=iso3,
                name=row.get("TableName", iso3),
                region=region,
                income_group=_INCOME.get(
                    (row.get("IncomeGroup") or "").strip(), IncomeGroup.UNCLASSIFIED
                ),
                lat=lat,
                lon=lon,
                **{name: values.get(iso3) for name, values in indicators.items()},
                source="World Bank WDI (CC BY 4.0)",
            )
        )
    return tuple(sorted(countries, key=lambda c: c.code)), skipped
