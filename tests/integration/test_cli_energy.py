"""`suanwang energy ...`: site signals, green windows, task accounting, zones and back-tests.

Everything here runs on the data shipped in the package (no ``../shared``): the signals are
synthetic (annual factor x shape), Chinese prices come from provincial tariffs, and zones with
no known price say ``fallback``. Numbers are checked against hand-worked figures or recomputed
from other outputs, never against values copied from a previous run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import Result
from typer.testing import CliRunner

from suanwang.cli.app import app
from suanwang.core.energy.clock import epoch_hour, year_hours
from suanwang.core.energy.signals import builtin_book
from suanwang.core.sites import Site
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.units import ComputeClass
from suanwang.world.builtin import load_builtin_world

runner = CliRunner()
WORLD = load_builtin_world()
BOOK = builtin_book(WORLD)
AT = "2026-07-01T04:00Z"
AT_TIME = datetime(2026, 7, 1, 4, tzinfo=UTC)
COMMANDS = ("site", "windows", "account", "zones", "backtest")


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own packs or world file must not change what these tests see."""
    monkeypatch.delenv("SUANWANG_ENERGY_PACKS", raising=False)
    monkeypatch.delenv("SUANWANG_WORLD", raising=False)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, ["energy", *args], env={"COLUMNS": "160", **(env or {})})


def run_json(*args: str) -> Any:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def run_text(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def run_fail(*args: str, env: dict[str, str] | None = None) -> str:
    """Run a command that must fail as a user error: exit 2, a message, no traceback."""
    result = invoke(*args, env=env)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "error:" in result.output
    return result.output


def sites_where(pred: Any) -> list[Site]:
    return [s for s in WORLD.sites if pred(s)]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


CN_HUB = sites_where(lambda s: s.country == "CN" and s.kind.value == "hub")[0]
NO_PRICE_SITE = sites_where(
    lambda s: (
        s.country != "CN"
        and BOOK.zone(s.grid_zone).tariff is None
        and BOOK.zone(s.grid_zone).profile is None
    )
)[0]
NX_SITE = sites_where(lambda s: s.grid_zone == "CN-NX")[0]


# --- help ---------------------------------------------------------------------------------------
def test_group_help_lists_every_command() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.stdout


# --- energy site --------------------------------------------------------------------------------
def test_site_json_for_a_chinese_hub() -> None:
    out = run_json("site", CN_HUB.id, "--at", AT)
    assert out["site"] == CN_HUB.id
    assert out["zone"] == CN_HUB.grid_zone
    assert out["pue"] == CN_HUB.pue
    rows = out["hours"]
    assert len(rows) == 24
    assert [utc(r["start"]) for r in rows] == [AT_TIME + timedelta(hours=i) for i in range(24)]
    assert out["now"] == rows[0]
    for r in rows:
        assert r["intensity_g_per_kwh"] > 0
        assert r["price_usd_per_mwh"] > 0
        assert r["band"] in {"critical-peak", "peak", "flat", "valley", "deep-valley"}
    assert out["mean_intensity_g_per_kwh"] == pytest.approx(
        np.mean([r["intensity_g_per_kwh"] for r in rows]), abs=0.01
    )
    assert out["mean_price_usd_per_mwh"] == pytest.approx(
        np.mean([r["price_usd_per_mwh"] for r in rows]), abs=0.01
    )
    prov = out["provenance"]
    assert prov["intensity"]["origin"] == "synthetic"
    assert prov["price"]["origin"] == "tariff"
    assert prov["bands"]["origin"] == "tariff"
    assert out["annual"]["method"] == "mee-province"
    assert out["annual"]["g_per_kwh"] > 0
    assert out["attribution"] == []  # no pack, nothing to attribute


def test_a_tariff_day_has_more_than_one_band_and_price() -> None:
    rows = run_json("site", CN_HUB.id, "--at", AT)["hours"]
    assert len({r["band"] for r in rows}) >= 2
    assert len({r["price_usd_per_mwh"] for r in rows}) >= 2


def test_site_without_price_data_says_fallback() -> None:
    out = run_json("site", NO_PRICE_SITE.id, "--at", AT, "--hours", "6")
    assert len(out["hours"]) == 6
    assert out["provenance"]["price"]["origin"] == "fallback"
    assert out["provenance"]["bands"]["origin"] == "fallback"
    assert out["provenance"]["intensity"]["origin"] == "synthetic"
    assert len({r["price_usd_per_mwh"] for r in out["hours"]}) == 1  # flat
    assert {r["band"] for r in out["hours"]} == {"flat"}


def test_site_at_with_an_offset_is_floored_to_the_utc_hour() -> None:
    out = run_json("site", CN_HUB.id, "--at", "2026-07-01T04:30+08:00", "--hours", "1")
    assert utc(out["now"]["start"]) == datetime(2026, 6, 30, 20, tzinfo=UTC)


def test_site_at_without_a_zone_means_utc() -> None:
    naive = run_json("site", CN_HUB.id, "--at", "2026-07-01T04:00", "--hours", "3")
    assert naive["hours"] == run_json("site", CN_HUB.id, "--at", AT, "--hours", "3")["hours"]


def test_site_for_people_names_zone_and_origins() -> None:
    text = run_text("site", CN_HUB.id, "--at", AT, "--hours", "3")
    assert CN_HUB.id in text
    assert CN_HUB.grid_zone in text
    assert "synthetic" in text
    assert "tariff" in text


def test_unknown_site_suggests_a_close_one() -> None:
    out = run_fail("site", CN_HUB.id + "x", "--at", AT)
    assert "did you mean" in out
    assert CN_HUB.id in out


def test_bad_at_is_a_usage_error() -> None:
    out = run_fail("site", CN_HUB.id, "--at", "yesterday")
    assert "--at" in out


# --- energy windows -----------------------------------------------------------------------------
def test_windows_are_sorted_disjoint_maximal_and_inside_the_horizon() -> None:
    hours = 48
    report = run_json("windows", "CN-NX", "--hours", str(hours), "--at", AT)
    assert report["zone"] == "CN-NX"
    assert report["hours"] == hours
    assert utc(report["start"]) == AT_TIME
    assert report["forecast"] == "as modelled"
    end_of_horizon = AT_TIME + timedelta(hours=hours)
    windows = report["windows"]
    assert windows, "CN-NX has valley tariff hours every day, so there must be windows"
    for w in windows:
        start, end = utc(w["start"]), utc(w["end"])
        assert AT_TIME <= start < end <= end_of_horizon
        assert w["hours"] == (end - start) // timedelta(hours=1)
        assert 0 <= w["low_carbon_hours"] <= w["hours"]
        assert 0 <= w["valley_hours"] <= w["hours"]
        assert max(w["low_carbon_hours"], w["valley_hours"]) >= 1
    for a, b in pairwise(windows):
        # sorted and disjoint; a surplus run is maximal, so at least one hour separates two
        assert utc(a["end"]) < utc(b["start"])
    assert report["surplus_hours"] == sum(w["hours"] for w in windows)


def test_windows_hours_are_exactly_the_low_carbon_or_valley_hours() -> None:
    """Recompute the surplus hours independently: the threshold from the zone's whole year,
    the intensities from the signal book, the bands from `energy site`."""
    hours = 48
    report = run_json("windows", "CN-NX", "--hours", str(hours), "--at", AT)
    year = BOOK.zone("CN-NX").intensity(year_hours(2026))[0]
    threshold = float(np.percentile(year, 20.0))
    assert report["threshold_g_per_kwh"] == pytest.approx(threshold)
    assert report["percentile"] == 20.0

    ci = BOOK.signals("CN-NX", epoch_hour(AT_TIME), hours).intensity_g_per_kwh
    rows = run_json("site", NX_SITE.id, "--at", AT, "--hours", str(hours))["hours"]
    assert [r["intensity_g_per_kwh"] for r in rows] == pytest.approx(ci, abs=0.01)
    low = ci <= threshold
    valley = np.array([r["band"] in {"valley", "deep-valley"} for r in rows])
    expected = {i for i in range(hours) if low[i] or valley[i]}

    covered: set[int] = set()
    for w in report["windows"]:
        a = (utc(w["start"]) - AT_TIME) // timedelta(hours=1)
        b = a + w["hours"]
        covered |= set(range(a, b))
        assert w["low_carbon_hours"] == int(low[a:b].sum())
        assert w["valley_hours"] == int(valley[a:b].sum())
        assert w["mean_intensity_g_per_kwh"] == pytest.approx(ci[a:b].mean())
    assert covered == expected


def test_greenest_and_cheapest_blocks_are_the_best_runs() -> None:
    hours, block = 48, 4
    report = run_json("windows", "CN-NX", "--hours", str(hours), "--at", AT, "--block", "4")
    rows = run_json("site", NX_SITE.id, "--at", AT, "--hours", str(hours))["hours"]
    ci = np.array([r["intensity_g_per_kwh"] for r in rows])
    price = np.array([r["price_usd_per_mwh"] for r in rows])
    for key, values in (("greenest", ci), ("cheapest", price)):
        b = report[key]
        assert b["hours"] == block
        assert utc(b["end"]) - utc(b["start"]) == timedelta(hours=block)
        best = min(values[i : i + block].mean() for i in range(hours - block + 1))
        field = "mean_intensity_g_per_kwh" if key == "greenest" else "mean_price_usd_per_mwh"
        assert b[field] == pytest.approx(best, abs=0.01)


def test_a_site_id_or_lower_case_zone_stands_for_its_zone() -> None:
    by_zone = run_json("windows", "CN-NX", "--hours", "24", "--at", AT)
    assert run_json("windows", NX_SITE.id, "--hours", "24", "--at", AT) == by_zone
    assert run_json("windows", "cn-nx", "--hours", "24", "--at", AT) == by_zone


def test_unknown_zone_suggests_close_zones() -> None:
    out = run_fail("windows", "CN-NQ", "--at", AT)
    assert "did you mean" in out
    assert "CN-NX" in out


def test_windows_on_a_forecast_say_so() -> None:
    report = run_json("windows", "CN-NX", "--hours", "24", "--at", AT, "--forecast", "persistence")
    assert report["forecast"] == "persistence"
    assert "persistence" in report["provenance"]["intensity"]["source"]


def test_windows_rejects_an_unknown_forecaster() -> None:
    out = run_fail("windows", "CN-NX", "--at", AT, "--forecast", "crystal-ball")
    assert "persistence" in out  # the message lists the valid ones


def test_windows_for_people() -> None:
    text = run_text("windows", "CN-NX", "--hours", "48", "--at", AT)
    assert "CN-NX" in text
    assert "surplus hours" in text
    assert "greenest" in text
    assert "cheapest" in text


# --- energy account -----------------------------------------------------------------------------
GPU_SITE = sites_where(  # an H100 site whose zone has a price profile, so cost varies by hour
    lambda s: (
        any(p.model == "nvidia-h100" for p in s.pools)
        and BOOK.zone(s.grid_zone).profile is not None
    )
)[0]
CPU_SITE = NX_SITE
GPU_TASK = {
    "id": "train",
    "site": GPU_SITE.id,
    "start": "2026-07-01T04:00:00Z",
    "duration_hours": 2,
    "demand": {"compute_class": "ai", "model": "nvidia-h100", "count": 8},
    "transfer_gb": 250,
}
CPU_TASK = {
    "id": "batch",
    "site": CPU_SITE.id,
    "start": "2026-07-01T04:30:00+08:00",  # 20:30 UTC the day before: a part hour first
    "duration_hours": 3.5,
    "demand": {"compute_class": "general", "units": 64},
    "utilisation": 0.5,
}
UNITS_TASK = {
    "id": "infer",
    "site": NO_PRICE_SITE.id,
    "start": "2026-07-01T10:15:00Z",
    "duration_hours": 1.25,
    "demand": {"compute_class": "ai", "units": 5000, "memory_gb": 100},
    "utilisation": 0.8,
    "transfer_gb": 40,
}
SUM_KEYS = (
    "kwh_it",
    "kwh_facility",
    "kwh_network",
    "kwh_total",
    "gco2e_location",
    "gco2e_market",
    "cost_usd",
)


def write_jsonl(path: Path, *lines: dict[str, Any] | str) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def tasks_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "tasks.jsonl", GPU_TASK, CPU_TASK, UNITS_TASK)


def test_account_totals_are_the_sums_of_the_tasks(tasks_file: Path) -> None:
    out = run_json("account", str(tasks_file))
    tasks, totals = out["tasks"], out["totals"]
    assert [t["id"] for t in tasks] == ["train", "batch", "infer"]
    assert totals["tasks"] == 3
    for key in SUM_KEYS:
        assert totals[key] == pytest.approx(sum(t[key] for t in tasks)), key
    assert isinstance(totals["cost_micros"], int)
    assert totals["cost_micros"] == sum(t["cost_micros"] for t in tasks)
    facility = sum(t["kwh_facility"] for t in tasks)
    assert totals["peak_share"] == pytest.approx(
        sum(t["peak_share"] * t["kwh_facility"] for t in tasks) / facility
    )
    for t in tasks:
        assert isinstance(t["cost_micros"], int)
        assert t["cost_micros"] == round(t["cost_usd"] * 1_000_000)
        assert t["kwh_total"] == pytest.approx(t["kwh_facility"] + t["kwh_network"])
        assert 0.0 <= t["peak_share"] <= 1.0
        # no site claims a green share, so market-based equals location-based
        assert t["green_share"] == 0.0
        assert t["gco2e_market"] == pytest.approx(t["gco2e_location"])
        assert t["provenance"]["pue"]["origin"] == "declared"
        assert "lines" not in t


def test_account_gpu_task_by_hand(tasks_file: Path) -> None:
    """8 x H100 (700 W TDP) at utilisation 1 for 2 h = 5,600 W, 11.2 kWh IT; x PUE; plus
    250 GB x 0.001 kWh/GB on the network."""
    task = run_json("account", str(tasks_file))["tasks"][0]
    assert task["site"] == GPU_SITE.id
    assert task["zone"] == GPU_SITE.grid_zone
    assert task["model"] == "nvidia-h100"
    assert task["devices"] == 8
    assert task["it_watts"] == pytest.approx(5600.0)
    assert task["kwh_it"] == pytest.approx(11.2)
    assert task["kwh_facility"] == pytest.approx(11.2 * GPU_SITE.pue)
    assert task["kwh_network"] == pytest.approx(0.25)
    assert task["kwh_total"] == pytest.approx(11.2 * GPU_SITE.pue + 0.25)
    # carbon and cost from the hourly signals `energy site` shows (rounded to 0.01 there)
    rows = run_json("site", GPU_SITE.id, "--at", AT, "--hours", "2")["hours"]
    per_hour = 5.6 * GPU_SITE.pue
    ci = [r["intensity_g_per_kwh"] for r in rows]
    expected_g = sum(per_hour * c for c in ci) + 0.25 * ci[0]
    assert task["gco2e_location"] == pytest.approx(expected_g, rel=1e-4)
    expected_usd = sum(per_hour * r["price_usd_per_mwh"] / 1000 for r in rows)
    assert task["cost_usd"] == pytest.approx(expected_usd, rel=1e-4)
    assert utc(task["end"]) == AT_TIME + timedelta(hours=2)


def test_account_cpu_task_by_units_by_hand(tasks_file: Path) -> None:
    """64 general units at the site's largest general pool. The built-in world's Zhongwei pool is
    Xeon 8380 cores (the reference core: 1 unit each), mapped to CCF's Cascade Lake: 2 vCPUs x
    (0.6389 + 0.5 x (3.859 - 0.6389)) W at utilisation 0.5."""
    general = [p for p in CPU_SITE.pools if p.compute_class is ComputeClass.GENERAL]
    pool = max(general, key=lambda p: p.count)
    assert pool.model == "intel-xeon-8380", "the hand-worked figure below assumes this model"
    assert UNIT_TABLE.model(pool.model).rating(ComputeClass.GENERAL) == 1.0
    task = run_json("account", str(tasks_file))["tasks"][1]
    watts = 64 * 2 * (0.6389 + 0.5 * (3.859 - 0.6389))
    assert task["model"] == "intel-xeon-8380"
    assert task["devices"] == pytest.approx(64)
    assert task["it_watts"] == pytest.approx(watts)
    assert task["kwh_it"] == pytest.approx(watts * 3.5 / 1000)
    assert task["kwh_facility"] == pytest.approx(watts * 3.5 / 1000 * CPU_SITE.pue)
    assert task["kwh_network"] == 0.0
    assert task["provenance"]["price"]["origin"] == "tariff"
    assert utc(task["start"]) == datetime(2026, 6, 30, 20, 30, tzinfo=UTC)
    assert utc(task["end"]) == datetime(2026, 7, 1, 0, 0, tzinfo=UTC)


def test_account_accelerator_units_and_memory(tasks_file: Path) -> None:
    """Units become devices of the largest AI pool (units / rating); memory adds 0.392 W/GB."""
    ai = [p for p in NO_PRICE_SITE.pools if p.compute_class is ComputeClass.AI]
    pool = max(ai, key=lambda p: p.count)
    devices = 5000 / UNIT_TABLE.model(pool.model).rating(ComputeClass.AI)
    task = run_json("account", str(tasks_file))["tasks"][2]
    assert task["model"] == pool.model
    assert task["devices"] == pytest.approx(devices)
    assert task["kwh_network"] == pytest.approx(0.04)
    if pool.model == "nvidia-h100":
        assert task["it_watts"] == pytest.approx(devices * 700 * 0.8 + 100 * 0.392)
    assert task["kwh_it"] == pytest.approx(task["it_watts"] * 1.25 / 1000)
    assert task["provenance"]["price"]["origin"] == "fallback"
    # a flat fallback price: cost is facility energy x that price
    price = run_json("site", NO_PRICE_SITE.id, "--at", AT, "--hours", "1")["now"]
    assert task["cost_usd"] == pytest.approx(
        task["kwh_facility"] * price["price_usd_per_mwh"] / 1000
    )


def test_account_detail_lines_sum_to_the_task(tasks_file: Path) -> None:
    out = run_json("account", str(tasks_file), "--detail")
    durations = {"train": 2.0, "batch": 3.5, "infer": 1.25}
    for t in out["tasks"]:
        lines = t["lines"]
        assert lines, t["id"]
        assert sum(x["hours"] for x in lines) == pytest.approx(durations[t["id"]])
        assert sum(x["it_kwh"] for x in lines) == pytest.approx(t["kwh_it"])
        assert sum(x["facility_kwh"] for x in lines) == pytest.approx(t["kwh_facility"])
        network_g = t["kwh_network"] * lines[0]["intensity_g_per_kwh"]
        assert sum(x["gco2e_location"] for x in lines) + network_g == pytest.approx(
            t["gco2e_location"]
        )
        assert sum(x["cost_usd"] for x in lines) == pytest.approx(t["cost_usd"])
        for x in lines:
            assert 0.0 < x["hours"] <= 1.0
            assert x["facility_kwh"] == pytest.approx(x["it_kwh"] * x["pue"])
            assert x["gco2e_location"] == pytest.approx(
                x["facility_kwh"] * x["intensity_g_per_kwh"]
            )
        starts = [utc(x["start"]) for x in lines]
        assert starts == [starts[0] + timedelta(hours=i) for i in range(len(lines))]
        first = utc(t["start"])
        assert starts[0] == first.replace(minute=0, second=0, microsecond=0)
    batch = out["tasks"][1]
    assert [x["hours"] for x in batch["lines"]] == pytest.approx([0.5, 1.0, 1.0, 1.0])


def test_account_same_totals_with_and_without_detail(tasks_file: Path) -> None:
    plain = run_json("account", str(tasks_file))
    detail = run_json("account", str(tasks_file), "--detail")
    assert plain["totals"] == detail["totals"]


def test_account_for_people(tasks_file: Path) -> None:
    text = run_text("account", str(tasks_file))
    for needle in ("train", "batch", "infer", "total (3)", "kWh"):
        assert needle in text


def test_account_skips_blank_and_comment_lines(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", "# a comment", GPU_TASK, "", "   ")
    assert run_json("account", str(path))["totals"]["tasks"] == 1


def _without(task: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in task.items() if k != key}


@pytest.mark.parametrize(
    ("bad_line", "needles"),
    [
        (_without(GPU_TASK, "duration_hours"), ("duration_hours",)),
        ('{"id": "x", "site": ', ("not JSON",)),
        ({**GPU_TASK, "site": GPU_SITE.id + "x"}, ("site", "did you mean", GPU_SITE.id)),
        ({**GPU_TASK, "start": "2026-07-01T04:00:00"}, ("start", "timezone")),
        ({**GPU_TASK, "demand": {"compute_class": "ai"}}, ("demand",)),
        ({**GPU_TASK, "utilisation": 1.5}, ("utilisation",)),
    ],
    ids=["missing-field", "not-json", "unknown-site", "naive-start", "no-demand", "bad-util"],
)
def test_account_bad_line_names_file_line_and_field(
    tmp_path: Path, bad_line: dict[str, Any] | str, needles: tuple[str, ...]
) -> None:
    path = write_jsonl(tmp_path / "tasks.jsonl", CPU_TASK, bad_line)
    out = run_fail("account", str(path))
    assert "tasks.jsonl line 2" in out
    assert "line 1" not in out
    for needle in needles:
        assert needle in out


def test_account_reports_every_bad_line_at_once(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "tasks.jsonl",
        "not json",
        CPU_TASK,
        {**GPU_TASK, "start": "2026-07-01T04:00:00"},
        {**GPU_TASK, "site": "nowhere-at-all"},
    )
    out = run_fail("account", str(path))
    for n in (1, 3, 4):
        assert f"tasks.jsonl line {n}" in out
    assert "line 2" not in out


@pytest.mark.parametrize("content", ["", "\n\n", "# only a comment\n"])
def test_account_empty_file_is_an_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text(content, encoding="utf-8")
    assert "no tasks" in run_fail("account", str(path))


def test_account_missing_file_is_an_error(tmp_path: Path) -> None:
    assert "no such file" in run_fail("account", str(tmp_path / "absent.jsonl"))


def test_account_site_without_that_compute_class_names_the_task(tmp_path: Path) -> None:
    site = sites_where(lambda s: all(p.compute_class is not ComputeClass.AI for p in s.pools))[0]
    task = {**UNITS_TASK, "id": "nowhere-to-run", "site": site.id}
    out = run_fail("account", str(write_jsonl(tmp_path / "t.jsonl", task)))
    assert "nowhere-to-run" in out
    assert "ai" in out


# --- energy zones -------------------------------------------------------------------------------
def test_zones_lists_every_site_zone_with_an_annual_factor() -> None:
    out = run_json("zones")
    rows = {r["zone"]: r for r in out["zones"]}
    assert len(rows) == len(out["zones"])  # no duplicates
    assert [r["zone"] for r in out["zones"]] == sorted(rows)
    assert set(rows) == {s.grid_zone for s in WORLD.sites}
    listed = [site for r in out["zones"] for site in r["sites"]]
    assert sorted(listed) == sorted(s.id for s in WORLD.sites)
    for s in WORLD.sites:
        assert s.id in rows[s.grid_zone]["sites"]
    for key, r in rows.items():
        assert r["annual"]["g_per_kwh"] > 0, key
        assert r["annual"]["method"], key
        assert r["annual"]["source"], key
        assert r["intensity"] == "synthetic", key
        if key.startswith("CN-"):
            assert r["annual"]["method"] == "mee-province", key
            assert r["price"] == "tariff", key
            assert r["bands"] == "tariff", key
        else:
            assert r["annual"]["method"] != "mee-province", key
            assert r["price"] in {"profile", "fallback"}, key
    assert out["attribution"] == []


def test_zones_for_people() -> None:
    text = run_text("zones")
    assert "CN-NX" in text
    assert "mee-province" in text


# --- energy backtest ----------------------------------------------------------------------------
def test_backtest_runs_on_synthetic_data() -> None:
    out = run_json("backtest", "--forecast", "persistence")
    assert out["signal"] == "intensity"
    zones = {s.grid_zone for s in WORLD.sites}
    assert set(out["origin_by_zone"]) == zones
    assert set(out["origin_by_zone"].values()) == {"synthetic"}
    assert {r["zone"] for r in out["rows"]} == zones
    assert {r["forecaster"] for r in out["rows"]} == {"persistence"}
    for r in out["rows"]:
        assert r["n_forecasts"] > 0
        assert r["n_hours"] == 24 * r["n_forecasts"]
        assert r["mae"] >= 0
        assert r["rmse"] >= r["mae"] - 1e-9


def test_backtest_on_prices_and_two_forecasters() -> None:
    out = run_json("backtest", "--forecast", "persistence,seasonal-naive-24h", "--signal", "price")
    assert out["signal"] == "price"
    assert {r["forecaster"] for r in out["rows"]} == {"persistence", "seasonal-naive-24h"}
    origins = out["origin_by_zone"]
    assert all(origins[z] == "tariff" for z in origins if z.startswith("CN-"))
    assert "fallback" in origins.values()


def test_backtest_for_people() -> None:
    text = run_text("backtest", "--forecast", "persistence")
    assert "persistence MAPE" in text
    assert "CN-NX" in text


def test_backtest_measured_only_without_a_pack_is_an_error() -> None:
    out = run_fail("backtest", "--measured-only", "--forecast", "persistence")
    assert "measured" in out
    assert "--pack" in out


def test_backtest_rejects_a_bad_signal_and_forecaster() -> None:
    assert "--signal" in run_fail("backtest", "--signal", "colour")
    assert "persistence" in run_fail("backtest", "--forecast", "tea-leaves")


# --- packs --------------------------------------------------------------------------------------
def test_missing_pack_is_a_usage_error() -> None:
    out = run_fail("--pack", "/nonexistent", "zones")
    assert "energy pack" in out
    assert "/nonexistent" in out
    assert "no such file" in out


def test_pack_folder_without_energy_data_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here", encoding="utf-8")
    out = run_fail("--pack", str(tmp_path), "site", CN_HUB.id)
    assert "no energy data found" in out


def test_packs_are_also_read_from_the_environment() -> None:
    out = run_fail("zones", env={"SUANWANG_ENERGY_PACKS": "/nonexistent"})
    assert "/nonexistent" in out
