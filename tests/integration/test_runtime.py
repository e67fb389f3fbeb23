"""The runtime end to end on a real store (SQLite and PostgreSQL) with simulated and local
backends: submissions through the service run to completion, leases settle, the ledger
verifies, and a restart rebuilds the same state."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from suanwang.control.backends.registry import make_backends
from suanwang.control.config import ControlConfig, LocalOptions, SimOptions
from suanwang.control.runtime import Runtime
from suanwang.control.service import ControlService
from suanwang.control.store import open_store
from suanwang.control.store.schema import LedgerRow
from suanwang.core.engine import EventKind, TaskState
from suanwang.core.market.leases import CloseReason
from suanwang.core.market.verify import verify
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.tasks import RunSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.world import World
from suanwang.world.builtin import load_builtin_world

FAST = 3600.0 * 3600.0  # a task hour takes a millisecond


@pytest.fixture(scope="module")
def world() -> World:
    return load_builtin_world()


def runtime(url: str, data: Path, world: World, cfg: ControlConfig) -> Runtime:
    store = open_store(url)
    backends = make_backends(cfg, [s.id for s in world.sites], data)
    rt = Runtime(store, cfg, world, UNIT_TABLE, backends, data_dir=data)
    rt.recover()
    return rt


def run_until_idle(rt: Runtime, limit_s: float = 60.0) -> int:
    deadline = time.monotonic() + limit_s
    n = 0
    while time.monotonic() < deadline:
        rt.tick()
        n += 1
        if rt.idle():
            return n
        time.sleep(0.02)
    raise AssertionError(f"not idle after {limit_s} s: {rt.engine.counts()}")


def stored_ledger(rt: Runtime) -> list[dict[str, object]]:
    with rt.store.sessions() as s:
        return [
            dict(b) for b in s.execute(select(LedgerRow.body).order_by(LedgerRow.seq)).scalars()
        ]


def sim_config(**kw: object) -> ControlConfig:
    return ControlConfig(
        backends={"sim": SimOptions(kind="sim", time_scale=FAST)},
        tick_s=0.02,
        **kw,  # type: ignore[arg-type]
    )


def test_tasks_submitted_through_the_service_run_to_completion_and_settle(
    store_url: str, tmp_path: Path, world: World
) -> None:
    rt = runtime(store_url, tmp_path, world, sim_config())
    svc = ControlService(rt.store)
    specs = generate_tasks(world, 60, np.random.default_rng(5), start=datetime.now(UTC))
    ids = svc.submit_many(specs)
    assert svc.get(ids[0]).state == "submitted"
    run_until_idle(rt)
    counts = svc.counts()
    placed = [t for t in ids if svc.get(t).state != "queued"]
    assert counts["succeeded"] == len(placed) >= 50
    assert counts["waiting"] == 0
    for t in placed:
        lease = rt.journal.market.leases[f"{t}.1"]
        assert lease.close_reason is CloseReason.COMPLETED
    records = stored_ledger(rt)
    assert verify(records) == []
    assert records == [r.model_dump(mode="json") for r in rt.journal.market.ledger.records()]
    story = svc.story(placed[0])
    assert [line.kind for line in story if line.accepted][:3] == [
        EventKind.SUBMIT,
        EventKind.ADMIT,
        EventKind.PLACE,
    ]
    assert story[-1].after is TaskState.SUCCEEDED
    # a second runtime over the same store rebuilds the same state
    again = runtime(store_url, tmp_path, world, sim_config())
    assert again.engine.counts() == rt.engine.counts()
    assert again.journal.market.ledger.balances() == rt.journal.market.ledger.balances()


def test_a_cancelled_task_stops_and_its_lease_closes_cancelled(
    store_url: str, tmp_path: Path, world: World
) -> None:
    cfg = ControlConfig(
        backends={"sim": SimOptions(kind="sim", time_scale=1.0)}, tick_s=0.02
    )  # real time: the task runs for hours
    rt = runtime(store_url, tmp_path, world, cfg)
    svc = ControlService(rt.store)
    spec = generate_tasks(world, 1, np.random.default_rng(2), start=datetime.now(UTC))[0]
    task = svc.submit(spec)
    for _ in range(3):
        rt.tick()
    assert svc.get(task).state in ("dispatched", "running")
    svc.cancel(task)
    rt.tick()
    assert svc.get(task).state == "cancelled"
    lease = rt.journal.market.leases[f"{task}.1"]
    assert lease.close_reason is CloseReason.CANCELLED
    rt.tick()
    jobs = rt.backends["sim"].poll().jobs
    assert jobs[rt.engine.key(task, 1)].state.value == "cancelled"
    assert verify(stored_ledger(rt)) == []


def test_a_request_id_sent_twice_queues_one_task(tmp_path: Path, world: World) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    svc = ControlService(store)
    spec = generate_tasks(world, 1, np.random.default_rng(2), start=datetime.now(UTC))[0]
    first = svc.submit(spec, request_id="req-1")
    assert svc.submit(spec, request_id="req-1") == first
    assert svc.counts()["waiting"] == 1


def test_local_backend_runs_real_commands_with_their_exit_codes(
    tmp_path: Path, world: World
) -> None:
    cfg = ControlConfig(
        backends={"laptop": LocalOptions(kind="local")}, default_backend="laptop", tick_s=0.05
    )
    rt = runtime(f"sqlite:///{tmp_path / 's.db'}", tmp_path, world, cfg)
    svc = ControlService(rt.store)
    base = generate_tasks(world, 3, np.random.default_rng(9), start=datetime.now(UTC))
    out = tmp_path / "out"
    out.mkdir()
    py = sys.executable
    good = [
        base[i].model_copy(
            update={
                "run": RunSpec(
                    command=(py, "-c", f"open({str(out / str(i))!r}, 'a').write('ran\\n')"),
                    memory_mb=1024,
                )
            }
        )
        for i in range(2)
    ]
    bad = base[2].model_copy(
        update={"run": RunSpec(command=(py, "-c", "raise SystemExit(3)"), memory_mb=1024)}
    )
    ids = svc.submit_many([*good, bad])
    run_until_idle(rt)
    states = [svc.get(t).state for t in ids]
    assert states == ["succeeded", "succeeded", "failed"]
    assert svc.get(ids[2]).reason.startswith("exit 3")
    for i in range(2):
        assert (out / str(i)).read_text() == "ran\n"
    assert verify(stored_ledger(rt)) == []


def test_a_configured_backend_that_no_site_maps_to_is_not_built(
    tmp_path: Path, world: World
) -> None:
    cfg = ControlConfig(
        backends={
            "sim": SimOptions(kind="sim"),
            "spare": LocalOptions(kind="local"),  # no [sites] entry names it
        }
    )
    built = make_backends(cfg, [s.id for s in world.sites], tmp_path)
    assert set(built) == {"sim"}
