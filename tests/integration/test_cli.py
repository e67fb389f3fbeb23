"""The `suanwang` command line, driven in-process (CliRunner) and once as a real process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from suanwang import __version__
from suanwang.cli.app import app

runner = CliRunner()


def run_json(*args: str) -> object:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_summary_json_has_integer_counts() -> None:
    data = run_json("world", "summary")
    assert isinstance(data, dict)
    for key in ("sites", "submarine_cables", "countries"):
        assert isinstance(data[key], int)
    assert data["sites"] >= 80
    assert data["submarine_cables"] >= 40
    assert data["countries"] >= 190


def test_summary_for_people_mentions_the_counts() -> None:
    result = runner.invoke(app, ["world", "summary"])
    assert result.exit_code == 0
    assert "submarine cables" in result.stdout
    assert "countries" in result.stdout


def test_sites_filtered_by_country_and_kind() -> None:
    rows = run_json("world", "sites", "--country", "cn", "--kind", "hub")
    assert isinstance(rows, list)
    assert len(rows) >= 10
    for row in rows:
        assert {"id", "name", "city", "country", "lat", "lon", "kind"} <= row.keys()
        assert row["country"] == "CN"
        assert row["kind"] == "hub"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["world", "site", "cn-zhangjiako"], "cn-zhangjiakou"),
        (["world", "cable", "marea2"], "marea"),
        (["world", "sites", "--country", "XQ"], "unknown country"),
    ],
)
def test_unknown_ids_exit_2_with_closest_matches(args: list[str], needle: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output


def test_bad_kind_is_a_usage_error() -> None:
    result = runner.invoke(app, ["world", "sites", "--kind", "moon"])
    assert result.exit_code == 2


def test_site_detail_lists_pools_and_links() -> None:
    data = run_json("world", "site", "to-nukualofa")
    assert isinstance(data, dict)
    assert data["country"] == "TO"
    assert data["pools"]
    assert data["links"]


def test_cables_and_cable_detail() -> None:
    rows = run_json("world", "cables")
    assert isinstance(rows, list)
    assert len(rows) >= 40
    peace = run_json("world", "cable", "peace")
    assert isinstance(peace, dict)
    assert all("cable:peace" in s["srlgs"] for s in peace["segments"])


def test_countries_by_income() -> None:
    rows = run_json("world", "countries", "--income", "low")
    assert isinstance(rows, list)
    assert rows
    assert all(r["income_group"] == "low" for r in rows)


def test_units_json_lists_every_model() -> None:
    rows = run_json("units")
    assert isinstance(rows, list)
    assert len(rows) >= 15
    h100 = next(r for r in rows if r["id"] == "nvidia-h100")
    assert h100["ratings"]["ai"] == 989.0
    assert h100["units"]["ai"] == "TFLOPS-FP16"
    hpc_only = run_json("units", "--class", "hpc")
    assert isinstance(hpc_only, list)
    assert all("hpc" in r["ratings"] for r in hpc_only)


def test_world_file_option_reports_bad_files_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "world.json"
    bad.write_text('{"version": "x", "sites": [{"id": "BAD"}]}')
    result = runner.invoke(app, ["world", "--world", str(bad), "summary"])
    assert result.exit_code == 2
    assert "sites.0" in result.output
    assert "Traceback" not in result.output
    missing = runner.invoke(app, ["world", "--world", str(tmp_path / "nope.json"), "summary"])
    assert missing.exit_code == 2
    assert "cannot read" in missing.output


def test_console_script_runs_as_a_real_process() -> None:
    exe = shutil.which("suanwang", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("the suanwang console script is not installed in this environment")
    out = subprocess.run(
        [exe, "world", "summary", "--json"], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout)["sites"] >= 80


def test_pack_with_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["world", "pack", "world-bank", str(tmp_path / "absent")])
    assert result.exit_code == 2
    assert "not a folder" in result.output
    assert "Traceback" not in result.output


def test_pack_kind_must_be_known(tmp_path: Path) -> None:
    assert runner.invoke(app, ["world", "pack", "openstreetmap", str(tmp_path)]).exit_code == 2


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("kind", "folder", "key", "minimum"),
    [
        ("world-bank", "world-bank", "countries", 210),
        ("natural-earth", "natural-earth", "country_label_points", 170),
        ("topology-zoo", "topology-zoo", "networks", 200),
        ("telegeography", "submarine-cables", "cables", 400),
    ],
)
def test_pack_reports_on_the_real_public_data(
    shared_data: Path, kind: str, folder: str, key: str, minimum: int
) -> None:
    report = run_json("world", "pack", kind, str(shared_data / folder))
    assert isinstance(report, dict)
    assert report[key] >= minimum
    assert report["attribution"]


@pytest.mark.shared_data
def test_pack_names_the_closest_zoo_network(shared_data: Path) -> None:
    archive = str(shared_data / "topology-zoo")
    result = runner.invoke(app, ["world", "pack", "topology-zoo", archive, "--network", "Geant201"])
    assert result.exit_code == 2
    assert "Geant2012" in result.output
