"""The World Bank WDI loader that derives the country table."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanwang.core.countries import IncomeGroup
from suanwang.world.packs.errors import DataPackError
from suanwang.world.packs.world_bank import load_world_bank

ISO = {"KEN": "KE", "SGP": "SG", "XKX": "XK"}


def write_fixture(folder: Path) -> Path:
    (folder / "Metadata_Country_test.csv").write_text(
        "\ufeffCountry Code,Region,IncomeGroup,SpecialNotes,TableName\n"
        'KEN,Sub-Saharan Africa,Lower middle income,"notes, with comma",Kenya\n'
        "SGP,East Asia & Pacific,High income,,Singapore\n"
        "AFE,,,aggregate,Africa Eastern and Southern\n"
        "XKX,Europe & Central Asia,Upper middle income,,Kosovo\n"
        "ZZZ,Nowhere,High income,,No ISO2\n"
    )
    long_header = "Country Name,Country Code,Year,Value\n"
    (folder / "sp.pop.totl.csv").write_text(
        long_header + "Kenya,KEN,2022,54000000\nKenya,KEN,2023,55100000\nKenya,KEN,2024,\n"
    )
    (folder / "ny.gnp.pcap.cd.csv").write_text(long_header + "Singapore,SGP,2023,70590\n")
    (folder / "it.net.bbnd.p2.csv").write_text(long_header)
    (folder / "API_IT.NET.USER.ZS_test.csv").write_text(
        '"Data Source","World Development Indicators",\n\n'
        "Country Name,Country Code,Indicator Name,Indicator Code,2021,2022,2023\n"
        "Kenya,KEN,Individuals using the Internet,IT.NET.USER.ZS,29,35.5,\n"
    )
    return folder


def test_fixture_folder_gives_latest_values_and_drops_aggregates(tmp_path: Path) -> None:
    countries, skipped = load_world_bank(write_fixture(tmp_path), ISO, {"KE": (0.5, 37.9)})
    by_code = {c.code: c for c in countries}
    assert sorted(by_code) == ["KE", "SG", "XK"]
    assert skipped == ["ZZZ"]
    ke = by_code["KE"]
    assert ke.income_group is IncomeGroup.LOWER_MIDDLE
    assert ke.population is not None
    assert (ke.population.value, ke.population.year) == (55_100_000, 2023)
    assert ke.internet_users_pct is not None
    assert ke.internet_users_pct.year == 2022
    assert (ke.lat, ke.lon) == (0.5, 37.9)
    assert ke.fixed_broadband_per_100 is None
    assert by_code["SG"].gni_per_capita_usd is not None


def test_missing_folder_or_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataPackError, match="not a folder"):
        load_world_bank(tmp_path / "absent", ISO)
    folder = write_fixture(tmp_path)
    (folder / "ny.gnp.pcap.cd.csv").unlink()
    with pytest.raises(DataPackError, match=r"ny\.gnp\.pcap\.cd\.csv"):
        load_world_bank(folder, ISO)


def test_malformed_rows_name_the_file_and_line(tmp_path: Path) -> None:
    folder = write_fixture(tmp_path)
    (folder / "sp.pop.totl.csv").write_text("Country Name,Country Code,Year,Value\nKenya,KEN,x,1\n")
    with pytest.raises(DataPackError, match=r"sp\.pop\.totl\.csv:2"):
        load_world_bank(folder, ISO)


@pytest.mark.shared_data
def test_real_world_bank_export_covers_every_country(shared_data: Path) -> None:
    pycountry = pytest.importorskip("pycountry")
    iso = {c.alpha_3: c.alpha_2 for c in pycountry.countries} | {"XKX": "XK"}
    countries, skipped = load_world_bank(shared_data / "world-bank", iso)
    assert len(countries) >= 210
    assert set(skipped) <= {"CHI"}  # the Channel Islands have no ISO alpha-2 code
    cn = next(c for c in countries if c.code == "CN")
    assert cn.population is not None
    assert cn.population.value > 1.3e9
