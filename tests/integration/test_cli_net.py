"""`suanwang net ...`: paths, circles, hub pairs, failures, the matrix and one-to-all latency."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from suanwang.cli.app import app
from suanwang.core.network.jurisdictions import EU

runner = CliRunner()


def run_json(*args: str) -> Any:
    result = runner.invoke(app, ["net", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def run_text(*args: str) -> str:
    result = runner.invoke(app, ["net", *args], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def check_path(p: dict[str, Any], src: str, dst: str) -> None:
    """The invariants every path in the JSON keeps."""
    for key in ("hops", "one_way_ms", "rtt_ms", "bottleneck_gbps", "countries", "nodes"):
        assert key in p
    assert p["src"] == src
    assert p["dst"] == dst
    assert p["rtt_ms"] == pytest.approx(2 * p["one_way_ms"])
    assert p["one_way_ms"] == pytest.approx(
        p["endpoint_ms"] + sum(h["one_way_ms"] for h in p["hops"])
    )
    assert p["hops"][0]["src"] == src
    assert p["hops"][-1]["dst"] == dst
    for a, b in zip(p["hops"], p["hops"][1:], strict=False):
        assert a["dst"] == b["src"]
    assert p["nodes"] == [src, *(h["dst"] for h in p["hops"])]
    assert p["bottleneck_gbps"] == pytest.approx(min(h["free_gbps"] for h in p["hops"]))
    assert p["price_per_gb_micros"] == pytest.approx(
        sum(h["price_per_gb_micros"] for h in p["hops"])
    )
    touched = {c for h in p["hops"] for c in h["countries"]}
    assert set(p["countries"]) == touched | {p["countries"][0]}


# --- net path ---------------------------------------------------------------------------------
def test_path_json_is_consistent() -> None:
    p = run_json("path", "de-frankfurt", "cn-shanghai")
    check_path(p, "de-frankfurt", "cn-shanghai")
    assert p["countries"][0] == "DE"
    assert p["countries"][-1] == "CN"
    assert p["one_way_ms"] >= p["floor_one_way_ms"]
    assert p["rules"]["max_one_way_ms"] is None
    assert "cheapest" not in p
    assert "backups" not in p


def test_avoid_keeps_every_hop_out_of_the_country() -> None:
    plain = run_json("path", "ao-luanda", "mx-queretaro")
    assert "US" in plain["countries"]  # the check below means something
    p = run_json("path", "ao-luanda", "mx-queretaro", "--avoid", "US")
    check_path(p, "ao-luanda", "mx-queretaro")
    assert "US" not in p["countries"]
    for hop in p["hops"]:
        assert "US" not in hop["countries"]
    assert p["one_way_ms"] >= plain["one_way_ms"]
    assert p["rules"]["avoid"] == ["US"]


@pytest.mark.parametrize(
    ("src", "dst"), [("de-frankfurt", "fr-paris"), ("bg-sofia", "de-frankfurt")]
)
def test_within_eu_stays_in_the_eu(src: str, dst: str) -> None:
    p = run_json("path", src, dst, "--within", "EU")
    check_path(p, src, dst)
    assert set(p["countries"]) <= EU
    for hop in p["hops"]:
        assert set(hop["countries"]) <= EU
    assert p["rules"]["within"] == sorted(EU)


def test_within_changes_a_path_that_leaves_the_eu() -> None:
    plain = run_json("path", "bg-sofia", "de-frankfurt")
    assert not set(plain["countries"]) <= EU
    inside = run_json("path", "bg-sofia", "de-frankfurt", "--within", "eu")
    assert set(inside["countries"]) <= EU


def test_rtt_bound_is_halved_one_way() -> None:
    p = run_json("path", "de-frankfurt", "cn-shanghai", "--max-latency-ms", "300", "--rtt")
    assert p["rules"]["max_one_way_ms"] == pytest.approx(150.0)
    assert p["rules"]["max_rtt_ms"] == pytest.approx(300.0)
    assert p["rtt_ms"] <= 300.0


def test_a_bound_too_tight_says_how_fast_the_best_path_is() -> None:
    result = runner.invoke(
        app, ["net", "path", "de-frankfurt", "cn-shanghai", "--max-latency-ms", "5"]
    )
    assert result.exit_code == 2
    assert "error:" in result.output
    assert "one way" in result.output
    assert "Traceback" not in result.output


def test_cheapest_reports_price_bound_and_gap() -> None:
    fastest = run_json("path", "de-frankfurt", "cn-shanghai")
    bound = 2 * fastest["one_way_ms"]
    p = run_json(
        "path", "de-frankfurt", "cn-shanghai", "--max-latency-ms", f"{bound}", "--cheapest"
    )
    check_path(p, "de-frankfurt", "cn-shanghai")
    c = p["cheapest"]
    assert c["max_one_way_ms"] == pytest.approx(bound)
    assert p["one_way_ms"] <= bound + 1e-6
    assert c["lower_bound_micros"] <= p["price_per_gb_micros"] + 1e-6
    assert c["gap_micros"] >= 0
    assert p["price_per_gb_micros"] <= fastest["price_per_gb_micros"] + 1e-6
    assert c["fastest_one_way_ms"] == pytest.approx(fastest["one_way_ms"])


def test_backups_share_no_risk_with_the_primary() -> None:
    p = run_json("path", "de-frankfurt", "cn-shanghai", "--backups", "2")
    check_path(p, "de-frankfurt", "cn-shanghai")
    assert p["backups_requested"] == 2
    assert 1 <= len(p["backups"]) <= 2
    seen_links = {h["link"] for h in p["hops"]}
    seen_groups = set(p["srlgs"])
    for b in p["backups"]:
        check_path(b, "de-frankfurt", "cn-shanghai")
        assert b["one_way_ms"] >= p["one_way_ms"]
        links = {h["link"] for h in b["hops"]}
        assert not links & seen_links
        assert not set(b["srlgs"]) & seen_groups
        seen_links |= links
        seen_groups |= set(b["srlgs"])


def test_path_for_people_has_summary_and_hops() -> None:
    out = run_text("path", "de-frankfurt", "fr-paris", "--within", "EU", "--backups", "1")
    assert "ms one way" in out
    assert "ms round trip" in out
    assert "per GB" in out
    assert "bottleneck" in out
    assert "hops from de-frankfurt" in out
    assert "backup 1" in out


def test_cheapest_for_people_shows_bound_and_gap() -> None:
    out = run_text("path", "de-frankfurt", "cn-shanghai", "--max-latency-ms", "300", "--cheapest")
    assert "cheapest within 300.00 ms one way" in out
    assert "lower bound" in out


# --- net cut ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tonga", "tonga-cable", "Tonga Cable", "TONGA CABLE SYSTEM"])
def test_cutting_the_tonga_cable_leaves_tonga_on_satellite(name: str) -> None:
    r = run_json("cut", "--cable", name)
    assert r["key"] == "cable:tonga-cable"
    assert r["target"]["id"] == "tonga-cable"
    assert r["failed_links"]
    assert r["unreachable_pairs"] == []
    isolated = {c["code"]: c for c in r["isolated_countries"]}
    assert isolated["TO"]["reachable_by"] == "satellite-only"
    assert "to-nukualofa" in isolated["TO"]["nodes"]
    assert r["max_increase_ms"] > 0
    assert r["latency_changes"][0]["increase_ms"] == r["max_increase_ms"]


def test_cut_for_people_summarises_the_damage() -> None:
    out = run_text("cut", "--cable", "tonga-cable", "--top", "3")
    assert "links down: 1" in out
    assert "TO Tonga" in out
    assert "satellite only" in out
    assert "unreachable site pairs: 0" in out
    assert "largest latency increases" in out


@pytest.mark.parametrize("name", ["red-sea", "Red Sea", "RED_SEA"])
def test_cut_a_corridor_by_id_or_name(name: str) -> None:
    r = run_json("cut", "--corridor", name)
    assert r["key"] == "corridor:red-sea"
    assert "seamewe-5" in r["target"]["cables"]
    assert len(r["failed_links"]) >= len(r["target"]["cables"])


def test_cut_a_region() -> None:
    r = run_json("cut", "--region=-33.87,151.21,50")
    assert r["key"].startswith("region:")
    assert r["failed_links"]
    assert {"unreachable_pairs", "isolated_countries", "latency_changes"} <= r.keys()


def test_cut_a_link_and_a_site() -> None:
    link = run_json("path", "to-nukualofa", "fj-suva")["hops"][1]["link"]
    r = run_json("cut", "--link", link)
    assert r["failed_links"] == [link]
    s = run_json("cut", "--site", "to-nukualofa")
    assert s["key"] == "node:to-nukualofa"
    assert any("to-nukualofa" in pair for pair in s["unreachable_pairs"])


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--cable", "southern"], ["ambiguous", "southern-cross", "southern-cross-next"]),
        (["--cable", "seamewe"], ["ambiguous", "seamewe-4", "seamewe-6"]),
        (["--cable", "marea3"], ["unknown cable", "marea"]),
        (["--corridor", "red see"], ["unknown corridor", "red-sea"]),
        ([], ["exactly one"]),
        (["--cable", "marea", "--corridor", "red-sea"], ["exactly one", "--cable, --corridor"]),
        (["--region", "1,2"], ["LAT,LON,KM"]),
        (["--region", "a,b,c"], ["numbers"]),
        (["--region", "95,0,10"], ["latitude"]),
        (["--region", "0,0,-5"], ["radius"]),
        (["--link", "no-such-link"], ["unknown link"]),
        (["--site", "cn-shangai"], ["cn-shanghai"]),
    ],
)
def test_cut_bad_input(args: list[str], needles: list[str]) -> None:
    result = runner.invoke(app, ["net", "cut", *args], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "error:" in result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output


# --- net circles / net hubs -------------------------------------------------------------------
def test_circles_json_rings_one_way_and_round_trip() -> None:
    c = run_json("circles", "cn-shanghai")
    assert c["site"] == "cn-shanghai"
    rings = {(r["mode"], r["within_ms"]): r["sites"] for r in c["rings"]}
    assert set(rings) == {(m, r) for m in ("one-way", "round-trip") for r in (1.0, 5.0, 20.0)}
    for (mode, within), members in rings.items():
        for m in members:
            assert m["site"] != "cn-shanghai"
            assert (m["one_way_ms"] if mode == "one-way" else m["rtt_ms"]) <= within + 1e-9
    ids = {k: {m["site"] for m in v} for k, v in rings.items()}
    for mode in ("one-way", "round-trip"):
        assert ids[(mode, 1.0)] <= ids[(mode, 5.0)] <= ids[(mode, 20.0)]
    for r in (1.0, 5.0, 20.0):
        assert ids[("round-trip", r)] <= ids[("one-way", r)]
    assert ids[("one-way", 20.0)]


def test_circles_custom_rings_and_table() -> None:
    c = run_json("circles", "cn-shanghai", "--rings", "2,10")
    assert sorted({r["within_ms"] for r in c["rings"]}) == [2.0, 10.0]
    out = run_text("circles", "cn-shanghai")
    assert "round trip" in out
    assert "one way" in out


def test_hubs_json_counts_match_pairs() -> None:
    h = run_json("hubs")
    n = len(h["hubs"])
    assert n >= 8
    assert all(x.startswith("cn-") for x in h["hubs"])
    assert len(h["pairs"]) == n * (n - 1) // 2
    assert h["target_ms"] == 20.0
    assert h["meeting_one_way"] == sum(p["meets_one_way"] for p in h["pairs"])
    assert h["meeting_rtt"] == sum(p["meets_rtt"] for p in h["pairs"])
    assert h["meeting_rtt"] <= h["meeting_one_way"]
    for p in h["pairs"]:
        assert p["rtt_ms"] == pytest.approx(2 * p["one_way_ms"], abs=2e-3)
        if abs(p["one_way_ms"] - 20.0) > 1e-3:  # the JSON figures are rounded
            assert p["meets_one_way"] == (p["one_way_ms"] < 20.0)
    tight = run_json("hubs", "--target-ms", "5")
    assert tight["meeting_one_way"] <= h["meeting_one_way"]


def test_hubs_table_has_counts() -> None:
    out = run_text("hubs")
    assert "pairs meet 20 ms one way" in out
    assert "round trip" in out


# --- net matrix -------------------------------------------------------------------------------
def test_matrix_json_for_chosen_sites() -> None:
    sites = ["cn-shanghai", "de-frankfurt", "us-ashburn"]
    m = run_json("matrix", "--sites", ",".join(sites))
    assert m["sites"] == sites
    ow, rtt = m["one_way_ms"], m["rtt_ms"]
    assert len(ow) == 3
    assert all(len(row) == 3 for row in ow)
    for i in range(3):
        assert ow[i][i] == 0
        for j in range(3):
            assert rtt[i][j] == pytest.approx(2 * ow[i][j], abs=2e-3)
            assert ow[i][j] == pytest.approx(ow[j][i], abs=1e-3)
    p = run_json("path", "cn-shanghai", "de-frankfurt")
    assert ow[0][1] == pytest.approx(p["one_way_ms"], abs=1e-3)
    assert {"price_per_gb_micros", "bottleneck_gbps", "version"} <= m.keys()


def test_matrix_table_is_limited_without_sites() -> None:
    result = runner.invoke(app, ["net", "matrix"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "showing the first 12" in result.output
    out = run_text("matrix", "--sites", "cn-shanghai,de-frankfurt", "--rtt")
    assert "round-trip" in out
    assert "de-frankfurt" in out


# --- net latency ------------------------------------------------------------------------------
def test_latency_from_a_site_is_sorted() -> None:
    d = run_json("latency", "cn-shanghai")
    rows = d["sites"]
    assert rows[0] == {"site": "cn-shanghai", "one_way_ms": 0.0, "rtt_ms": 0.0}
    times = [r["one_way_ms"] for r in rows if r["one_way_ms"] is not None]
    assert times == sorted(times)
    assert len(rows) == len(run_json("matrix")["sites"])
    for r in rows:
        if r["one_way_ms"] is not None:
            assert r["rtt_ms"] == pytest.approx(2 * r["one_way_ms"], abs=1e-3)


def test_latency_from_a_point() -> None:
    d = run_json("latency", "--from-point=-1.29,36.82")
    assert d["origin"] is None
    assert d["from_point"] == {"lat": -1.29, "lon": 36.82}
    assert d["attached_to"]
    assert d["sites"][0]["site"] == "ke-nairobi"
    out = run_text("latency", "--from-point", "31.23,121.47")
    assert "attached through" in out


# --- bad input everywhere ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["path", "de-frankfurt", "cn-shangai"], "cn-shanghai"),
        (["path", "de-frankfurt", "fr-paris", "--avoid", "UK"], "GB"),
        (["path", "de-frankfurt", "fr-paris", "--within", "Europe"], "EU"),
        (["path", "de-frankfurt", "fr-paris", "--max-latency-ms", "-3"], "--max-latency-ms"),
        (["path", "de-frankfurt", "fr-paris", "--min-gbps", "-1"], "--min-gbps"),
        (["path", "de-frankfurt", "fr-paris", "--backups", "-1"], "--backups"),
        (["path", "de-frankfurt", "fr-paris", "--rtt"], "--max-latency-ms"),
        (["path", "de-frankfurt", "fr-paris", "--cheapest"], "--max-latency-ms"),
        (["path", "de-frankfurt", "cn-shanghai", "--within", "EU"], "CN"),
        (["path", "de-frankfurt", "fr-paris", "--within", "DE", "--avoid", "DE"], "avoided"),
        (["path", "de-frankfurt", "cn-shanghai", "--min-gbps", "1e9"], "Gbps"),
        (["circles", "cn-shanghai", "--rings", "1,-5"], "--rings"),
        (["circles", "nowhere-at-all"], "unknown"),
        (["hubs", "--target-ms", "0"], "--target-ms"),
        (["matrix", "--sites", "cn-shanghai,atlantis"], "atlantis"),
        (["latency"], "ORIGIN"),
        (["latency", "cn-shanghai", "--from-point", "1,2"], "exactly one"),
        (["latency", "--from-point", "100,2"], "latitude"),
        (["latency", "--from-point", "1"], "LAT,LON"),
        (["--world", "/no/such/world.json", "path", "a", "b"], "cannot read"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], needle: str) -> None:
    result = runner.invoke(app, ["net", *args], env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert "error:" in result.output
    assert needle in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["path", "circles", "hubs", "cut", "matrix", "latency"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, ["net", command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert f"suanwang net {command}" in result.output
    assert "Example" in result.output
