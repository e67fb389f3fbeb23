"""The group-commit writer: batches what is waiting, writes in submission order, fails only
the batch that failed, drains on close; and the API's writer on a real SQLite store: inbox
rows and audit entries of concurrent writers in one intact chain, all or nothing per batch."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from suanwang.api.app import ApiSettings, create_app
from suanwang.api.audit import AuditLog, entry_fields
from suanwang.api.tokens import TokenStore
from suanwang.api.writer import (
    BatchWriteError,
    GroupWriter,
    Write,
    WriterClosedError,
    store_writer,
)
from suanwang.control.service import ControlService
from suanwang.control.store import Store, open_store
from suanwang.control.store.schema import InboxRow
from suanwang.core.access import Role
from suanwang.core.tasks import TaskSpec
from suanwang.world.builtin import load_builtin_world


class Recorder:
    """A ``write`` that records its batches; it waits on ``gate`` while ``hold`` is set
    (so that a test can pile items up behind a batch in progress) and fails on ``poison``."""

    def __init__(self) -> None:
        self.batches: list[list[Any]] = []
        self.hold = threading.Event()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def __call__(self, items: list[Any]) -> list[Any]:
        self.batches.append(list(items))
        self.entered.set()
        if self.hold.is_set():
            assert self.gate.wait(10), "the test never opened the gate"
        if "poison" in items:
            raise ValueError("the database said no")
        return [f"done:{i}" for i in items]

    def block_first(self, writer: GroupWriter[Any, Any], first: Any) -> Any:
        """Submit ``first`` and return its future once the writer is inside its batch."""
        self.hold.set()
        future = writer.submit(first)
        assert self.entered.wait(10)
        return future


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def writer(rec: Recorder) -> Iterator[GroupWriter[Any, Any]]:
    w: GroupWriter[Any, Any] = GroupWriter(rec, max_size=100, idle_s=5.0, name="test-writer")
    yield w
    rec.gate.set()
    assert w.close(timeout=10)


# --- batching and order ---------------------------------------------------------------------------
def test_one_item_is_written_alone_and_answered_with_its_result(
    writer: GroupWriter[Any, Any], rec: Recorder
) -> None:
    assert writer.write("a", timeout=10) == "done:a"
    assert rec.batches == [["a"]]
    assert (writer.batches, writer.items) == (1, 1)


def test_items_waiting_while_a_batch_commits_make_the_next_batch_together(
    writer: GroupWriter[Any, Any], rec: Recorder
) -> None:
    first = rec.block_first(writer, "first")
    waiting = [writer.submit(i) for i in range(10)]
    assert writer.pending == 10
    rec.gate.set()
    assert first.result(10) == "done:first"
    assert [f.result(10) for f in waiting] == [f"done:{i}" for i in range(10)]
    assert rec.batches == [["first"], list(range(10))]  # one transaction for the ten


def test_a_batch_holds_at_most_max_size_and_a_big_item_goes_alone(rec: Recorder) -> None:
    w: GroupWriter[Any, Any] = GroupWriter(rec, max_size=10, size=lambda item: item[1])
    try:
        first = rec.block_first(w, ("first", 1))
        items = [("a", 4), ("b", 4), ("c", 4), ("big", 50), ("d", 1), ("e", 1)]
        futures = [w.submit(i) for i in items]
        rec.gate.set()
        first.result(10)
        for f in futures:
            f.result(10)
    finally:
        assert w.close(timeout=10)
    names = [[name for name, _ in batch] for batch in rec.batches]
    assert names == [["first"], ["a", "b"], ["c"], ["big"], ["d", "e"]]


def test_items_are_written_in_the_order_they_were_submitted(
    writer: GroupWriter[Any, Any], rec: Recorder
) -> None:
    futures = [writer.submit(i) for i in range(2000)]
    assert [f.result(10) for f in futures] == [f"done:{i}" for i in range(2000)]
    assert [i for batch in rec.batches for i in batch] == list(range(2000))
    assert all(len(b) <= 100 for b in rec.batches)


def test_each_threads_items_keep_their_order_across_batches(
    writer: GroupWriter[Any, Any], rec: Recorder
) -> None:
    def produce(k: int) -> None:
        for i in range(200):
            assert writer.write((k, i), timeout=10) == f"done:{(k, i)}"

    threads = [threading.Thread(target=produce, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [item for batch in rec.batches for item in batch]
    assert len(flat) == 1600
    for k in range(8):
        assert [i for kk, i in flat if kk == k] == list(range(200))
    assert len(rec.batches) < 1600  # concurrent writers shared transactions


def test_an_event_loop_awaits_its_write(writer: GroupWriter[Any, Any]) -> None:
    async def main() -> list[Any]:
        return list(
            await asyncio.gather(*(asyncio.wrap_future(writer.submit(i)) for i in range(20)))
        )

    assert asyncio.run(main()) == [f"done:{i}" for i in range(20)]


# --- failures -------------------------------------------------------------------------------------
def test_a_failed_batch_fails_its_own_waiters_only_with_the_cause_named(
    writer: GroupWriter[Any, Any], rec: Recorder
) -> None:
    first = rec.block_first(writer, "first")
    doomed = [writer.submit("b"), writer.submit("poison"), writer.submit("c")]
    rec.gate.set()
    assert first.result(10) == "done:first"
    for future in doomed:
        err = future.exception(10)
        assert isinstance(err, BatchWriteError)
        assert "group commit of 3 write(s) failed" in str(err)
        assert "ValueError: the database said no" in str(err)
        assert isinstance(err.__cause__, ValueError)
    assert len({id(f.exception()) for f in doomed}) == 3  # one exception per waiter
    assert writer.write("after", timeout=10) == "done:after"  # the thread lives on
    assert rec.batches == [["first"], ["b", "poison", "c"], ["after"]]


def test_a_write_that_answers_for_the_wrong_number_of_items_fails_the_batch() -> None:
    w: GroupWriter[Any, Any] = GroupWriter(lambda items: items[:-1])
    try:
        with pytest.raises(BatchWriteError, match="gave 0 results for 1 items"):
            w.write("a", timeout=10)
    finally:
        w.close(timeout=10)


def test_a_waiter_cannot_cancel_a_submitted_write(
    writer: GroupWriter[Any, Any], rec: Recorder
) -> None:
    first = rec.block_first(writer, "first")
    queued = writer.submit("queued")
    assert not queued.cancel()
    rec.gate.set()
    assert (first.result(10), queued.result(10)) == ("done:first", "done:queued")


# --- lifecycle ------------------------------------------------------------------------------------
def writer_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def test_close_writes_everything_submitted_before_it_then_refuses_more(rec: Recorder) -> None:
    w: GroupWriter[Any, Any] = GroupWriter(rec, max_size=7, name="drain-writer")
    first = rec.block_first(w, "first")
    waiting = [w.submit(i) for i in range(50)]
    closer = threading.Thread(target=w.close)
    closer.start()
    time.sleep(0.05)
    assert closer.is_alive()  # close waits for the writes in progress and queued
    with pytest.raises(WriterClosedError):
        w.submit("late")
    rec.gate.set()
    closer.join(10)
    assert not closer.is_alive()
    assert first.done()
    assert all(f.done() for f in waiting)
    assert [f.result() for f in waiting] == [f"done:{i}" for i in range(50)]
    assert [i for b in rec.batches[1:] for i in b] == list(range(50))
    assert writer_threads("drain-writer") == []
    assert w.closed
    assert w.close()  # closing again: nothing more to do


def test_an_idle_thread_ends_and_the_next_write_starts_another(rec: Recorder) -> None:
    w: GroupWriter[Any, Any] = GroupWriter(rec, idle_s=0.05, name="idle-writer")
    assert w.write("a", timeout=10) == "done:a"
    deadline = time.monotonic() + 10
    while writer_threads("idle-writer") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writer_threads("idle-writer") == []
    assert w.write("b", timeout=10) == "done:b"
    assert w.close(timeout=10)
    assert writer_threads("idle-writer") == []


def test_a_writer_never_used_closes_at_once() -> None:
    assert GroupWriter(lambda items: items).close(timeout=1)


def test_max_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_size"):
        GroupWriter(lambda items: items, max_size=0)


# --- the API's writer on a real store -------------------------------------------------------------
WORLD = load_builtin_world()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 's.db'}")
    yield s
    s.close()


def spec(tenant: str = "tenant-01") -> TaskSpec:
    from datetime import UTC, datetime

    import numpy as np

    from suanwang.core.scheduling.workload import generate_tasks

    made = generate_tasks(WORLD, 1, np.random.default_rng(7), start=datetime.now(UTC))[0]
    return made.model_copy(update={"tenant": tenant})


def fields(who: str, target: str, outcome: str = "accepted") -> dict[str, Any]:
    return entry_fields(
        principal=who,
        role="tenant",
        action="tasks.submit",
        target=target,
        source="127.0.0.1",
        outcome=outcome,
        detail={},
    )


def inbox_count(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(InboxRow)).scalar_one())


def test_concurrent_submissions_share_transactions_in_one_intact_chain(store: Store) -> None:
    log, service = AuditLog(store), ControlService(store)
    w = store_writer(log)
    one = spec()
    results: dict[str, dict[str, Any]] = {}

    def submit(k: int) -> None:
        for _ in range(40):
            (task,), rows = service.submissions([one])
            results[task] = w.write(Write(audit=fields(f"tenant-{k}", task), inbox=rows), 30)

    threads = [threading.Thread(target=submit, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert w.close(timeout=10)
    entries = log.rows(limit=1000, after_seq=0)
    assert [e["seq"] for e in entries] == list(range(1, 321))
    assert log.verify() == []
    assert w.batches < w.items == 320
    assert inbox_count(store) == 320
    for task, entry in results.items():  # each waiter got its own entry, as stored
        assert entry["target"] == task
        assert entries[entry["seq"] - 1] == entry
    for task in list(results)[:5]:
        assert service.get(task).state == "submitted"


def test_a_failed_batch_writes_neither_its_inbox_rows_nor_its_audit_entries(
    store: Store,
) -> None:
    log, service = AuditLog(store), ControlService(store)
    w = store_writer(log)
    (task,), rows = service.submissions([spec()])
    assert w.write(Write(audit=fields("tenant-01", task), inbox=rows), 10)["seq"] == 1
    # the same inbox row again: the batch breaks the inbox's unique stimulus id
    with pytest.raises(BatchWriteError, match=r"cannot write to .*UNIQUE"):
        w.write(Write(audit=fields("tenant-01", "again"), inbox=rows), 10)
    assert (log.count(), inbox_count(store)) == (1, 1)
    (task2,), rows2 = service.submissions([spec()])
    assert w.write(Write(audit=fields("tenant-01", task2), inbox=rows2), 10)["seq"] == 2
    assert log.verify() == []
    w.close()


def test_an_audit_entry_alone_is_written_without_an_inbox_row(store: Store) -> None:
    w = store_writer(AuditLog(store))
    entry = w.write(Write(audit=fields("tenant-02", "tenant-01", "forbidden")), 10)
    assert (entry["seq"], entry["outcome"], inbox_count(store)) == (1, "forbidden", 0)
    w.close()


def _write_in_a_process(url: str, who: str, n: int) -> None:
    store = open_store(url)
    w = store_writer(AuditLog(store))
    service = ControlService(store)
    futures = []
    for i in range(n):
        (task,), rows = service.submissions([spec()])
        futures.append(w.submit(Write(audit=fields(who, f"{task}-{i}"), inbox=rows)))
    for f in futures:
        f.result(60)
    w.close()
    store.close()


def test_two_processes_writing_at_once_make_one_intact_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    open_store(url).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_in_a_process, args=(url, f"proc-{k}", 60)) for k in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    store = open_store(url)
    log = AuditLog(store)
    assert (log.count(), inbox_count(store)) == (120, 120)
    assert log.verify() == []
    store.close()


# --- the app --------------------------------------------------------------------------------------
def test_the_apps_lifespan_closes_its_writer_after_the_last_request(store: Store) -> None:
    token = TokenStore(store).create("tenant-01", Role.TENANT)[1]
    app = create_app(ApiSettings(store=store, world=WORLD))
    body = spec().model_dump_json()
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    with TestClient(app) as client:
        r = client.post("/v1/tasks", content=body, headers=headers)
        assert r.status_code == 202
        assert not app.state.writer.closed
    assert app.state.writer.closed
    log = AuditLog(store)
    [entry] = log.rows()
    assert (entry["principal"], entry["action"], entry["target"], entry["outcome"]) == (
        "tenant-01",
        "tasks.submit",
        r.json()["id"],
        "accepted",
    )
    assert entry["source"] == "testclient"
    assert inbox_count(store) == 1
