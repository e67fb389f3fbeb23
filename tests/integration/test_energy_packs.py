"""Energy packs: measured hourly carbon and prices, annual zone and country averages.

The tests that read ``../shared/data`` (Electricity Maps / green-dcc hourly CSVs, CO2.js annual
files) skip cleanly when it is absent; the malformed-file tests write their own CSVs and always
run.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from suanwang.cli.app import app
from suanwang.core.energy.clock import epoch_hour
from suanwang.core.energy.signals import SignalBook, builtin_book
from suanwang.world.builtin import load_builtin_world
from suanwang.world.packs.electricity import (
    EnergyPack,
    PackUse,
    apply_packs,
    load_energy_pack,
)
from suanwang.world.packs.errors import DataPackError

runner = CliRunner()
WORLD = load_builtin_world()
ISO3 = {c.iso3: c.code for c in WORLD.countries}
ZONE_COUNTRY = {s.grid_zone: s.country for s in WORLD.sites}
LCA = "Carbon Intensity gCO₂eq/kWh (LCA)"
HEADER = ["Datetime (UTC)", "Zone Id", LCA]
FALLBACK_REPLACED = {"pack-country-annual", "pack-zone-annual"}
DE_SITE = next(s for s in WORLD.sites if s.grid_zone == "DE")


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUANWANG_ENERGY_PACKS", raising=False)
    monkeypatch.delenv("SUANWANG_WORLD", raising=False)


@cache
def _pack(path: Path) -> EnergyPack:
    """Each shared folder is read once per session (about a second for the hourly one)."""
    return load_energy_pack(path, ISO3)


def _applied(pack: EnergyPack) -> tuple[SignalBook, list[PackUse]]:
    return apply_packs(builtin_book(WORLD), pack, ZONE_COUNTRY)


def run_json(*args: str, env: dict[str, str] | None = None) -> Any:
    result = runner.invoke(app, ["energy", *args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def csv_value(path: Path, stamp: str, column: str) -> float:
    """The value of ``column`` in the row whose ``Datetime (UTC)`` is ``stamp``, read plainly."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        hits = [row[column] for row in csv.DictReader(fh) if row["Datetime (UTC)"] == stamp]
    assert len(hits) == 1, f"{path.name}: {len(hits)} rows at {stamp}"
    return float(hits[0])


# --- hourly pack (shared data) ------------------------------------------------------------------
@pytest.mark.shared_data
def test_hourly_pack_reads_every_zone_for_a_whole_year(shared_data: Path) -> None:
    folder = shared_data / "carbon-hourly"
    pack = _pack(folder)
    carbon_files = sorted((folder / "carbon_intensity").glob("*_2022_hourly.csv"))
    price_files = sorted((folder / "electricity_prices").glob("*_electricity_prices_2022.csv"))
    assert len(pack.carbon) == len(carbon_files) == 16
    assert len(pack.prices) == len(price_files) == 15
    assert set(pack.carbon) == {f.name.split("_")[0] for f in carbon_files}
    assert set(pack.prices) == {f.name.split("_")[0] for f in price_files}
    assert "DE-LU" in pack.carbon
    assert "GB" in pack.carbon
    assert "GB" not in pack.prices
    for zone, year in [*pack.carbon.items(), *pack.prices.items()]:
        assert year.year == 2022, zone
        assert year.values.shape == (8760,), zone
        assert np.all(np.isfinite(year.values)), zone
    for zone, year in pack.carbon.items():
        assert np.all(year.values >= 0), zone
    assert not pack.zone_annual
    assert not pack.country_annual
    assert len(pack.files) == 31
    assert any("Electricity Maps" in line and "ODbL" in line for line in pack.attributions())


@pytest.mark.shared_data
def test_de_replays_de_lu_measured_hours(shared_data: Path) -> None:
    folder = shared_data / "carbon-hourly"
    book, uses = _applied(_pack(folder))
    moment = datetime(2026, 3, 5, 10, tzinfo=UTC)
    sig = book.signals("DE", epoch_hour(moment), 1)
    assert sig.provenance["intensity"].origin == "measured"
    assert "DE-LU" in sig.provenance["intensity"].source
    assert sig.provenance["price"].origin == "measured"
    # the same calendar hour of 2022, read straight from the CSVs
    carbon = csv_value(
        folder / "carbon_intensity" / "DE-LU_2022_hourly.csv", "2022-03-05 10:00:00", LCA
    )
    price = csv_value(
        folder / "electricity_prices" / "DE-LU_electricity_prices_2022.csv",
        "2022-03-05 10:00:00+00:00",
        "Price (USD/MWh)",
    )
    assert float(sig.intensity_g_per_kwh[0]) == pytest.approx(carbon)
    assert float(sig.price_usd_per_mwh[0]) == pytest.approx(price)
    # a measured year also becomes the zone's annual factor (its mean)
    annual = book.zone("DE").annual
    assert annual.method == "pack-hourly-mean"
    assert annual.g_per_kwh == pytest.approx(float(_pack(folder).carbon["DE-LU"].values.mean()))
    used = {u.zone: u for u in uses}
    assert used["DE"].intensity is not None
    assert used["DE"].price is not None
    # zones the pack does not cover keep their shipped signals
    assert "CN-NX" not in used
    nx = book.signals("CN-NX", epoch_hour(moment), 1).provenance
    assert (nx["intensity"].origin, nx["price"].origin) == ("synthetic", "tariff")


@pytest.mark.shared_data
def test_a_zone_with_carbon_but_no_prices_keeps_its_shipped_price(shared_data: Path) -> None:
    book, _ = _applied(_pack(shared_data / "carbon-hourly"))
    assert "GB" in book.zones  # the check below means something
    sig = book.signals("GB", epoch_hour(datetime(2026, 1, 1, tzinfo=UTC)), 24)
    assert sig.provenance["intensity"].origin == "measured"
    assert sig.provenance["price"].origin != "measured"


@pytest.mark.shared_data
def test_cli_site_with_a_pack_says_measured(shared_data: Path) -> None:
    folder = shared_data / "carbon-hourly"
    out = run_json(
        "--pack", str(folder), "site", DE_SITE.id, "--at", "2026-03-05T10:00Z", "--hours", "3"
    )
    assert out["zone"] == "DE"
    assert out["provenance"]["intensity"]["origin"] == "measured"
    assert out["provenance"]["price"]["origin"] == "measured"
    assert out["annual"]["method"] == "pack-hourly-mean"
    expected = csv_value(
        folder / "carbon_intensity" / "DE-LU_2022_hourly.csv", "2022-03-05 10:00:00", LCA
    )
    assert out["now"]["intensity_g_per_kwh"] == pytest.approx(expected, abs=0.01)
    assert any("Electricity Maps" in line for line in out["attribution"])
    # the same pack named in the environment gives the same answer
    from_env = run_json(
        "site",
        DE_SITE.id,
        "--at",
        "2026-03-05T10:00Z",
        "--hours",
        "3",
        env={"SUANWANG_ENERGY_PACKS": str(folder)},
    )
    assert from_env == out


@pytest.mark.shared_data
def test_cli_backtest_measured_only_uses_the_pack_zones(shared_data: Path) -> None:
    out = run_json(
        "--pack",
        str(shared_data / "carbon-hourly"),
        "backtest",
        "--measured-only",
        "--forecast",
        "persistence",
    )
    origins = out["origin_by_zone"]
    assert "DE" in origins
    assert set(origins.values()) == {"measured"}
    assert {r["zone"] for r in out["rows"]} == set(origins)


# --- annual pack (shared data) ------------------------------------------------------------------
@pytest.mark.shared_data
def test_annual_pack_fills_the_fallback_zones(shared_data: Path) -> None:
    shipped = builtin_book(WORLD)
    book, uses = _applied(_pack(shared_data / "carbon-annual"))
    fallback = [z for z, m in shipped.zones.items() if m.annual.method == "fallback"]
    assert fallback  # the check below means something
    for zone in fallback:
        annual = book.zone(zone).annual
        assert annual.method in FALLBACK_REPLACED, zone
        assert annual.g_per_kwh > 0, zone
    # China's official provincial factors are never replaced by an annual pack
    for zone, model in shipped.zones.items():
        if model.annual.method == "mee-province":
            assert book.zone(zone).annual == model.annual, zone
    # annual figures change no hourly origin: the shape stays synthetic
    assert {u.intensity for u in uses} == {None}
    de = book.signals("DE", 0, 1).provenance["intensity"]
    assert de.origin == "synthetic"


@pytest.mark.shared_data
def test_ember_alone_replaces_only_proxies_and_fallbacks(shared_data: Path, tmp_path: Path) -> None:
    shutil.copy(shared_data / "carbon-annual" / "co2js" / "average-intensities.json", tmp_path)
    pack = load_energy_pack(tmp_path, ISO3)
    assert pack.country_annual
    assert not pack.zone_annual
    shipped = builtin_book(WORLD)
    book, _ = _applied(pack)
    for zone, model in shipped.zones.items():
        after = book.zone(zone).annual
        if model.annual.method in {"fallback", "gcp-country-proxy"}:
            country = ZONE_COUNTRY[zone]
            assert after.method == "pack-country-annual", zone
            assert after.g_per_kwh == pytest.approx(pack.country_annual[country].g_per_kwh)
        else:
            assert after == model.annual, zone


@pytest.mark.shared_data
def test_cli_zones_with_the_annual_pack(shared_data: Path) -> None:
    shipped = {r["zone"]: r for r in run_json("zones")["zones"]}
    out = run_json("--pack", str(shared_data / "carbon-annual"), "zones")
    rows = {r["zone"]: r for r in out["zones"]}
    assert set(rows) == set(shipped)
    for zone, before in shipped.items():
        if before["annual"]["method"] == "fallback":
            assert rows[zone]["annual"]["method"] in FALLBACK_REPLACED, zone
    assert any("Ember" in line for line in out["attribution"])


# --- malformed packs (always run) ---------------------------------------------------------------
def _write_year(
    path: Path,
    header: list[str] = HEADER,
    value: Callable[[int], str] = lambda i: f"{100 + i % 24}",
    skip: range = range(0),
) -> Path:
    """A year 2022 of hourly rows, with the hours in ``skip`` left out."""
    start = datetime(2022, 1, 1)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for i in range(8760):
            if i not in skip:
                stamp = (start + timedelta(hours=i)).strftime("%Y-%m-%d %H:%M:%S")
                writer.writerow([stamp, "XX", value(i)])
    return path


def test_a_well_formed_csv_is_read(tmp_path: Path) -> None:
    _write_year(tmp_path / "XX_2022_hourly.csv")
    pack = load_energy_pack(tmp_path)
    values = pack.carbon["XX"].values
    assert values.shape == (8760,)
    assert values[:24].tolist() == [100.0 + h for h in range(24)]


def test_short_gaps_are_interpolated_linearly(tmp_path: Path) -> None:
    # hours 50..55 missing: 6 hours, the most that is filled
    _write_year(tmp_path / "XX_2022_hourly.csv", value=lambda i: f"{i}", skip=range(50, 56))
    values = load_energy_pack(tmp_path).carbon["XX"].values
    assert values[48:58].tolist() == pytest.approx(list(range(48, 58)))


def test_wrong_column_names_the_file_and_column(tmp_path: Path) -> None:
    header = ["Datetime (UTC)", "Zone Id", "Carbon Intensity (LCA)"]
    _write_year(tmp_path / "XX_2022_hourly.csv", header=header)
    with pytest.raises(DataPackError, match=r"XX_2022_hourly\.csv") as info:
        load_energy_pack(tmp_path)
    assert LCA in str(info.value)


def test_missing_time_column_names_the_file(tmp_path: Path) -> None:
    _write_year(tmp_path / "XX_2022_hourly.csv", header=["Time", "Zone Id", LCA])
    with pytest.raises(DataPackError, match=r"XX_2022_hourly\.csv.*Datetime \(UTC\)"):
        load_energy_pack(tmp_path)


def test_non_numeric_value_names_the_file_and_line(tmp_path: Path) -> None:
    # hour 99 is on line 101 (line 1 is the header)
    _write_year(tmp_path / "XX_2022_hourly.csv", value=lambda i: "n/a" if i == 99 else f"{100 + i}")
    with pytest.raises(DataPackError, match=r"XX_2022_hourly\.csv.*line 101") as info:
        load_energy_pack(tmp_path)
    assert "'n/a'" in str(info.value)


def test_bad_timestamp_names_the_file_and_line(tmp_path: Path) -> None:
    path = _write_year(tmp_path / "XX_2022_hourly.csv")
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[9] = "yesterday,XX,100"  # line 10
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataPackError, match=r"XX_2022_hourly\.csv.*line 10.*yesterday"):
        load_energy_pack(tmp_path)


def test_a_ten_hour_gap_is_an_error_that_says_where(tmp_path: Path) -> None:
    # hours 50..59 missing: 2022-01-03 02:00 UTC onwards
    _write_year(tmp_path / "XX_2022_hourly.csv", skip=range(50, 60))
    with pytest.raises(DataPackError, match=r"XX_2022_hourly\.csv") as info:
        load_energy_pack(tmp_path)
    message = str(info.value)
    assert "10 hours" in message
    assert "2022-01-03T02:00" in message


def test_a_price_file_is_checked_the_same_way(tmp_path: Path) -> None:
    header = ["Datetime (UTC)", "Datetime (Local)", "Price (USD/MWh)"]
    _write_year(
        tmp_path / "XX_electricity_prices_2022.csv",
        header=header,
        value=lambda i: "free" if i == 7 else "50",
    )
    with pytest.raises(DataPackError, match=r"XX_electricity_prices_2022\.csv.*line 9"):
        load_energy_pack(tmp_path)


def test_cli_reports_a_malformed_pack_without_a_traceback(tmp_path: Path) -> None:
    _write_year(tmp_path / "DE-LU_2022_hourly.csv", skip=range(100, 120))
    result = runner.invoke(app, ["energy", "--pack", str(tmp_path), "site", DE_SITE.id])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "energy pack" in result.output
    assert "DE-LU_2022_hourly.csv" in result.output
    assert "20 hours" in result.output


def test_files_not_named_like_energy_data_are_ignored(tmp_path: Path) -> None:
    _write_year(tmp_path / "XX_2022_hourly.csv")
    (tmp_path / "README.md").write_text("not data", encoding="utf-8")
    (tmp_path / "lower_2022_hourly.csv").write_text("lower-case zone: not ours", encoding="utf-8")
    sub = tmp_path / "more"
    sub.mkdir()
    _write_year(sub / "YY_2022_hourly.csv")
    pack = load_energy_pack(tmp_path)
    assert set(pack.carbon) == {"XX", "YY"}
    assert len(pack.files) == 2
