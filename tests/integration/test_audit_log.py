"""The audit log on a real store, SQLite and PostgreSQL (``store_url``): concurrent appends
make one intact chain, and tampering with the table by SQL is caught by ``AuditLog.verify``
and by ``suanwang audit verify`` (exit 1, naming the seq), which ``audit show`` complements.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from suanwang.api.audit import LIMITS, AuditLog
from suanwang.cli.audit import app
from suanwang.control.store import Store, open_store
from suanwang.core.audit_chain import GENESIS, entry_hash

runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SUANWANG_DATA_DIR", "SUANWANG_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    yield s
    s.close()


def append_n(log: AuditLog, n: int, who: str = "tenant-a") -> None:
    for i in range(n):
        log.append(
            principal=who,
            role="tenant",
            action="tasks.submit",
            target=f"t-{i:04d}",
            source="127.0.0.1",
            outcome="ok",
            detail={"i": i, "who": who},
        )


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _append_in_a_process(url: str, who: str, n: int) -> None:
    store = open_store(url)
    append_n(AuditLog(store), n, who)
    store.close()


# --- appending -----------------------------------------------------------------------------------
def test_an_append_returns_the_stored_entry_linked_to_the_one_before(store: Store) -> None:
    at = datetime(2026, 12, 5, 16, 30, tzinfo=timezone(timedelta(hours=8)))
    log = AuditLog(store, clock=lambda: at)
    first = log.append(
        principal="op",
        role="operator",
        action="network.cut",
        target="cable/sea-me-we-6",
        source="10.0.0.7",
        outcome="ok",
        detail={"at": at, "why": "切断 test"},
    )
    second = log.append(
        principal="op",
        role="operator",
        action="network.restore",
        target="cable/sea-me-we-6",
        source="10.0.0.7",
        outcome="ok",
    )
    assert (first["seq"], first["prev"]) == (1, GENESIS)
    assert (second["seq"], second["prev"]) == (2, first["hash"])
    assert first["at"] == at
    assert first["at"].tzinfo == UTC
    assert first["detail"] == {"at": "2026-12-05T08:30:00.000000Z", "why": "切断 test"}
    assert second["detail"] == {}
    assert log.rows() == [first, second]  # what was returned is what was stored
    assert first["hash"] == entry_hash(GENESIS, log.rows()[0])
    assert log.verify() == []


def test_texts_too_long_for_their_column_are_cut_and_still_verify(store: Store) -> None:
    log = AuditLog(store)
    entry = log.append(
        principal="p" * 200,
        role="tenant",
        action="tasks.submit",
        target="x" * 1000,
        source="nul\x00byte",
        outcome="ok",
    )
    assert len(entry["principal"]) == LIMITS["principal"]
    assert entry["target"].endswith("…")
    assert entry["source"] == "nul\ufffdbyte"
    assert log.verify() == []


def test_detail_that_is_not_json_is_refused_and_nothing_is_written(store: Store) -> None:
    log = AuditLog(store)
    with pytest.raises(TypeError):
        log.append(
            principal="a",
            role="tenant",
            action="x",
            target="y",
            source="z",
            outcome="ok",
            detail={"s": {1, 2}},
        )
    assert log.count() == 0


def test_appends_from_4_threads_make_one_intact_chain_of_200(store: Store) -> None:
    log = AuditLog(store)
    threads = [threading.Thread(target=append_n, args=(log, 50, f"tenant-{k}")) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = log.rows(limit=1000, after_seq=0)
    assert [e["seq"] for e in entries] == list(range(1, 201))
    assert len({e["prev"] for e in entries}) == 200  # no two entries share a prev
    assert log.verify() == []
    assert log.conflicts == 0  # serialised by the lock, not rescued by retries
    for k in range(4):
        mine = [e["detail"]["i"] for e in entries if e["principal"] == f"tenant-{k}"]
        assert mine == list(range(50))


def test_appends_from_2_processes_make_one_intact_chain(store_url: str, store: Store) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_append_in_a_process, args=(store_url, f"proc-{k}", 40))
        for k in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    log = AuditLog(store)
    assert log.count() == 80
    assert log.verify() == []


def test_rows_pages_forward_or_gives_the_latest(store: Store) -> None:
    log = AuditLog(store)
    append_n(log, 10)
    assert [e["seq"] for e in log.rows(limit=3)] == [8, 9, 10]
    assert [e["seq"] for e in log.rows(limit=3, after_seq=4)] == [5, 6, 7]
    assert log.rows(limit=3, after_seq=10) == []
    assert log.rows(limit=0) == []


# --- tampering -----------------------------------------------------------------------------------
def test_an_sql_update_of_a_row_is_caught_at_its_seq_by_verify_and_the_cli(
    store_url: str, store: Store
) -> None:
    log = AuditLog(store)
    append_n(log, 30)
    assert invoke("verify", "--db", store_url)[0] == 0
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit SET outcome = 'denied' WHERE seq = 17"))
    breaks = log.verify()
    assert [(b.seq, b.code) for b in breaks] == [(17, "hash")]
    code, out, err = invoke("verify", "--db", store_url)
    assert code == 1
    assert "at seq 17" in err
    assert "edited" in err
    assert "17" in out
    code, out, _ = invoke("verify", "--db", store_url, "--json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False
    assert report["entries"] == 30
    assert report["breaks"][0]["seq"] == 17
    assert report["breaks"][0]["code"] == "hash"


def test_an_update_that_recomputes_the_hash_is_caught_at_the_next_seq(store: Store) -> None:
    log = AuditLog(store)
    append_n(log, 10)
    row = log.rows(limit=1, after_seq=4)[0] | {"outcome": "denied"}
    forged = entry_hash(row["prev"], row)
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE audit SET outcome = 'denied', hash = :h WHERE seq = 5"), {"h": forged}
        )
    assert [(b.seq, b.code) for b in log.verify()] == [(6, "prev")]


def test_a_delete_in_the_middle_is_caught(store_url: str, store: Store) -> None:
    log = AuditLog(store)
    append_n(log, 30)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit WHERE seq = 15"))
    assert [(b.seq, b.code) for b in log.verify()] == [(16, "gap"), (16, "prev")]
    code, _, err = invoke("verify", "--db", store_url)
    assert code == 1
    assert "at seq 16" in err
    assert "seq 15 missing" in err


def test_a_cut_tail_passes_the_chain_but_not_an_anchor_noted_before(
    store_url: str, store: Store
) -> None:
    log = AuditLog(store)
    append_n(log, 12)
    code, out, _ = invoke("verify", "--db", store_url, "--json")
    assert code == 0
    head = json.loads(out)["head"]
    anchor = f"{head['seq']}:{head['hash']}"
    assert head["seq"] == 12
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit WHERE seq > 9"))
    code, out, _ = invoke("verify", "--db", store_url)
    assert code == 0  # the known limit of a chain alone
    assert "ok: 9 entries, chain intact" in out
    code, _, err = invoke("verify", "--db", store_url, "--anchor", anchor)
    assert code == 1
    assert "at seq 12" in err
    assert "gone" in err


# --- the CLI ------------------------------------------------------------------------------------
def test_verify_says_ok_with_the_count_and_the_head(store_url: str, store: Store) -> None:
    append_n(AuditLog(store), 5)
    code, out, _ = invoke("verify", "--db", store_url)
    assert code == 0
    assert "ok: 5 entries, chain intact" in out
    assert "head 5:" in out
    code, out, _ = invoke("verify", "--db", store_url, "--json")
    assert code == 0
    report = json.loads(out)
    assert (report["ok"], report["entries"], report["breaks"]) == (True, 5, [])


def test_show_lists_the_latest_entries_as_a_table_or_json(store_url: str, store: Store) -> None:
    append_n(AuditLog(store), 30)
    code, out, _ = invoke("show", "--db", store_url, "--limit", "5", "--json")
    assert code == 0
    shown = json.loads(out)
    assert [e["seq"] for e in shown] == [26, 27, 28, 29, 30]
    assert shown[0]["at"].endswith("Z")
    assert shown[0]["principal"] == "tenant-a"
    code, out, _ = invoke("show", "--db", store_url, "--limit", "3")
    assert code == 0
    assert "t-0029" in out
    assert "t-0027" in out
    assert "t-0026" not in out


def test_verify_and_show_on_a_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = open_store(f"sqlite:///{data / 'suanwang.db'}")
    append_n(AuditLog(store), 3)
    store.close()
    code, out, _ = invoke("verify", "--data-dir", str(data))
    assert code == 0
    assert "ok: 3 entries" in out
    code, out, _ = invoke("show", "--data-dir", str(data), "--after", "1", "--json")
    assert [e["seq"] for e in json.loads(out)] == [2, 3]


def test_an_empty_log_verifies_and_shows_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_store(url).close()
    code, out, _ = invoke("verify", "--db", url)
    assert (code, "ok: 0 entries, chain intact" in out) == (0, True)
    code, out, _ = invoke("show", "--db", url)
    assert (code, "no entries" in out) == (0, True)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["verify", "--data-dir", "{tmp}/nowhere"], "no control-plane store"),
        (["verify", "--db", "sqlite:///{tmp}/missing.db"], "no control-plane store"),
        (["show", "--db", "not a url"], "not a database URL"),
        (["verify", "--db", "sqlite:///{tmp}/x.db", "--anchor", "12"], "not SEQ:HASH"),
    ],
)
def test_mistakes_are_exit_2_with_a_clear_error(tmp_path: Path, args: list[str], says: str) -> None:
    code, _, err = invoke(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert code == 2
    assert says in err
    assert "Traceback" not in err
    assert not (tmp_path / "nowhere").exists()
