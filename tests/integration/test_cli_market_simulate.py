"""`suanwang market simulate` and `suanwang ledger verify|balances`, driven in-process.

The simulation runs the whole market on a generated workload of the built-in world; every
ledger it writes must pass `ledger verify`, and a ledger corrupted in any of the ways below
must fail it, naming the invariant that broke.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from suanwang.cli.app import app

runner = CliRunner()


def _simulate(tmp_path: Path, *args: str) -> tuple[dict[str, Any], Path]:
    ledger = tmp_path / "ledger.jsonl"
    res = runner.invoke(app, ["market", "simulate", "--json", "--ledger", str(ledger), *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout), ledger


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    return _simulate(tmp_path_factory.mktemp("sim"), "--tasks", "250", "--seed", "4")


def test_simulation_exercises_the_market_and_its_ledger_verifies(
    run: tuple[dict[str, Any], Path],
) -> None:
    data, ledger = run
    r = data["report"]
    assert data["ok"]
    assert data["violations"] == []
    assert r["leases"] > 0
    assert sum(r["closed"].values()) == r["leases"]
    assert r["closed"].get("completed", 0) > 0
    # faults were injected and handled, not avoided
    assert r["events_duplicate"] > 0
    assert r["events_late"] > 0
    assert r["paused"] > 0
    assert r["disputes"] > 0
    assert r["vouchers"] > 0
    # money went where it should: every micro paid is split between the parties
    assert r["paid_micros"] > 0
    split = r["provider_micros"] + r["carrier_micros"] + r["platform_micros"]
    assert 0 < split <= r["paid_micros"]
    res = runner.invoke(app, ["ledger", "verify", str(ledger), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["ok"]
    assert out["transactions"] > 0
    assert out["first_violation"] is None


def test_same_seed_same_ledger(tmp_path: Path) -> None:
    a, la = _simulate(tmp_path / "a", "--tasks", "80", "--seed", "9")
    b, lb = _simulate(tmp_path / "b", "--tasks", "80", "--seed", "9")
    assert a["report"] == b["report"]
    assert la.read_bytes() == lb.read_bytes()


def test_calm_run_has_no_faults(tmp_path: Path) -> None:
    data, _ = _simulate(tmp_path, "--tasks", "60", "--seed", "1", "--calm")
    r = data["report"]
    assert r["failed_start"] == 0
    assert r["events_duplicate"] == 0
    assert r["disputes"] == 0
    assert set(r["closed"]) == {"completed"}


def _lines(ledger: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in ledger.read_text().splitlines()]


def _write(path: Path, recs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def _first(recs: list[dict[str, Any]], kind: str) -> int:
    return next(i for i, r in enumerate(recs) if r["type"] == "txn" and r["txn"]["kind"] == kind)


def _tamper_amount(recs: list[dict[str, Any]]) -> None:
    recs[_first(recs, "usage-settlement")]["txn"]["entries"][0]["amount"] -= 7


def _tamper_duplicate_key(recs: list[dict[str, Any]]) -> None:
    recs.append(recs[_first(recs, "deposit")])


def _tamper_overdraw(recs: list[dict[str, Any]]) -> None:
    i = _first(recs, "fund-lease")
    for e in recs[i]["txn"]["entries"]:
        e["amount"] *= 10**9


def _tamper_split(recs: list[dict[str, Any]]) -> None:
    entries = recs[_first(recs, "usage-settlement")]["txn"]["entries"]
    credits = [e for e in entries if e["amount"] > 0]
    credits[0]["amount"] += 1
    credits[-1]["amount"] -= 1
    if credits[0] is credits[-1]:  # one party only: move a micro to the platform instead
        credits[0]["amount"] -= 1
        entries.append({"account": "platform:fees", "amount": 1})


def _tamper_escrow(recs: list[dict[str, Any]]) -> None:
    i = next(
        i
        for i, r in enumerate(recs)
        if r["type"] == "txn"
        and r["txn"]["kind"] == "refund"
        and r["txn"]["refs"]["final"] == "true"
        and len(r["txn"]["entries"]) == 2
    )
    for e in recs[i]["txn"]["entries"]:
        e["amount"] = e["amount"] // 2 if e["amount"] > 0 else -((-e["amount"]) // 2)


def _tamper_header(recs: list[dict[str, Any]]) -> None:
    recs.pop(0)


def _tamper_time(recs: list[dict[str, Any]]) -> None:
    recs[-1]["txn"]["at"] = "2000-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (_tamper_amount, "balanced"),
        (_tamper_duplicate_key, "key-unique"),
        (_tamper_overdraw, "no-negative-balance"),
        (_tamper_split, "split-exact"),
        (_tamper_escrow, "lease-closure"),
        (_tamper_header, "header"),
        (_tamper_time, "time-order"),
    ],
)
def test_ledger_verify_names_the_first_broken_invariant(
    run: tuple[dict[str, Any], Path], tmp_path: Path, tamper: Any, code: str
) -> None:
    recs = _lines(run[1])
    tamper(recs)
    bad = _write(tmp_path / "bad.jsonl", recs)
    res = runner.invoke(app, ["ledger", "verify", str(bad), "--json"])
    assert res.exit_code == 1, res.output
    out = json.loads(res.stdout)
    assert not out["ok"]
    assert code in {v["code"] for v in out["violations"]}
    human = runner.invoke(app, ["ledger", "verify", str(bad)])
    assert human.exit_code == 1
    assert "broken invariant" in human.output


def test_ledger_verify_reports_garbage_lines_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type":"header","format":1,"currency":"USD"}\nnot json\n')
    res = runner.invoke(app, ["ledger", "verify", str(bad), "--json"])
    assert res.exit_code == 1
    first = json.loads(res.stdout)["first_violation"]
    assert first["code"] == "schema"
    assert "line 2" in first["message"]
    missing = runner.invoke(app, ["ledger", "verify", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2
    assert "cannot read ledger" in missing.output


def test_ledger_balances_sum_to_zero(run: tuple[dict[str, Any], Path]) -> None:
    res = runner.invoke(app, ["ledger", "balances", str(run[1]), "--json"])
    assert res.exit_code == 0, res.output
    balances = json.loads(res.stdout)["balances_micros"]
    assert sum(balances.values()) == 0
    assert balances["external:world"] < 0
    prov = runner.invoke(app, ["ledger", "balances", str(run[1]), "--prefix", "provider:"])
    assert prov.exit_code == 0
    assert "provider:" in prov.output


def test_bad_start_is_a_clear_error() -> None:
    res = runner.invoke(app, ["market", "simulate", "--start", "yesterday"])
    assert res.exit_code == 2
    assert "ISO 8601" in res.output
