"""The runtime's edge cases, deterministic: a fake clock shared by the runtime and simulated
sites, a SQLite store in ``tmp_path``, and a backend wrapper that injects failures (refused
dispatches, a process dying mid-outbox, polls and cancels that fail).

Every scenario checks the engine's states, the stored task rows, the leases' close reasons and
``verify`` of the stored ledger. The six bugs these tests found are fixed; the tests stay as
their guard.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from suanwang.control.backends.base import BackendError, JobSpec, JobState, JobStatus, Poll
from suanwang.control.backends.registry import make_backends
from suanwang.control.backends.sim import SimBackend
from suanwang.control.config import ControlConfig, SimOptions
from suanwang.control.runtime import Runtime
from suanwang.control.service import ControlService
from suanwang.control.store import open_store
from suanwang.control.store.schema import EventRow, LedgerRow, MarketOpRow, OutboxRow
from suanwang.core.engine import Event, EventKind, LostReason, TaskState
from suanwang.core.market.leases import CloseReason, Lease
from suanwang.core.market.verify import verify
from suanwang.core.tasks import Demand, Origin, RunSpec, TaskSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.units import ComputeClass
from suanwang.core.world import World
from suanwang.world.builtin import load_builtin_world

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
CREDIT = 10_000_000_000
S = TaskState


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ProcessDiedError(Exception):
    """Not a BackendError: stands for the control plane dying in the middle of the outbox."""


class Flaky:
    """A backend over a :class:`SimBackend` with failures injected on demand."""

    def __init__(self, inner: SimBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.capabilities = inner.capabilities
        self.refuse: Callable[[JobSpec], bool] = lambda job: False
        self.die: str | None = None  # "before" / "after" the real submit, once
        self.poll_down = False
        self.cancel_down = False
        self.override: dict[str, JobStatus] = {}  # statuses reported instead of the real ones
        self.submits: list[str] = []
        self.cancels: list[str] = []

    def submit(self, job: JobSpec) -> str:
        self.submits.append(job.key)
        if self.die == "before":
            self.die = None
            raise ProcessDiedError(job.key)
        if self.refuse(job):
            raise BackendError(f"{self.name}: refused {job.key}")
        handle = self.inner.submit(job)
        if self.die == "after":
            self.die = None
            raise ProcessDiedError(job.key)
        return handle

    def poll(self) -> Poll:
        if self.poll_down:
            raise BackendError(f"{self.name}: unreachable")
        poll = self.inner.poll()
        if not self.override:
            return poll
        return poll.model_copy(update={"jobs": {**poll.jobs, **self.override}})

    def cancel(self, key: str) -> None:
        if self.cancel_down:
            raise BackendError(f"{self.name}: unreachable")
        self.cancels.append(key)
        self.inner.cancel(key)

    def close(self) -> None:
        self.inner.close()


def config(**kw: Any) -> ControlConfig:
    base: dict[str, Any] = {
        "backends": {"sim": SimOptions(kind="sim", time_scale=3600.0)},  # a task hour: 1 s
        "heartbeat_grace_s": 30.0,
        "meter_every_s": 10,
    }
    base.update(kw)
    return ControlConfig(**base)


@dataclass
class Plane:
    """One control plane over ``tmp``: the runtime, the service and the wrapped backends."""

    tmp: Path
    world: World
    clock: FakeClock
    cfg: ControlConfig
    rt: Runtime
    svc: ControlService
    recovered: dict[str, int]

    @property
    def sim(self) -> Flaky:
        return self.backend("sim")

    def backend(self, name: str) -> Flaky:
        b = self.rt.backends[name]
        assert isinstance(b, Flaky)
        return b

    def tick(self, step: float = 0.5) -> None:
        self.rt.tick()
        self.clock.advance(step)

    def ticks(self, n: int, step: float = 0.5) -> None:
        for _ in range(n):
            self.tick(step)

    def until(self, done: Callable[[], bool], step: float = 0.5, limit: int = 400) -> None:
        for _ in range(limit):
            if done():
                return
            self.tick(step)
        raise AssertionError(f"condition not reached: {self.rt.engine.counts()}")

    def until_idle(self, step: float = 0.5, limit: int = 400) -> None:
        self.tick(step)
        self.until(self.rt.idle, step, limit)

    def state(self, task: str) -> TaskState | None:
        rec = self.rt.engine.tasks.get(task)
        return rec.state if rec is not None else None

    def restart(self, cfg: ControlConfig | None = None) -> Runtime:
        """A new runtime (new store connection, new backend objects) over the same files."""
        self.rt, self.recovered = runtime(self.tmp, self.world, self.clock, cfg or self.cfg)
        return self.rt


def runtime(
    tmp: Path, world: World, clock: FakeClock, cfg: ControlConfig
) -> tuple[Runtime, dict[str, int]]:
    store = open_store(f"sqlite:///{tmp / 'store.db'}")
    raw = make_backends(cfg, [s.id for s in world.sites], tmp, clock=clock.epoch)
    backends: dict[str, Any] = {}
    for name, b in raw.items():
        assert isinstance(b, SimBackend)
        backends[name] = Flaky(b)
    rt = Runtime(store, cfg, world, UNIT_TABLE, backends, data_dir=tmp, clock=clock)
    return rt, rt.recover()


def plane(tmp: Path, world: World, cfg: ControlConfig | None = None) -> Plane:
    clock = FakeClock()
    cfg = cfg or config()
    rt, recovered = runtime(tmp, world, clock, cfg)
    n = itertools.count(1)
    svc = ControlService(rt.store, clock=clock, ids=lambda: f"t-{next(n)}")
    return Plane(tmp, world, clock, cfg, rt, svc, recovered)


def spec(hours: float = 4.0, *, tenant: str = "acme", **kw: Any) -> TaskSpec:
    """A small general-compute task of ``hours`` task hours (seconds of the fake clock)."""
    return TaskSpec(
        name="job",
        tenant=tenant,
        demand=Demand(compute_class=ComputeClass.GENERAL, units=1),
        duration_hours=hours,
        origin=Origin(country="DE", lat=50.11, lon=8.68),
        run=RunSpec(checkpoint=True),
        **kw,
    )


@pytest.fixture(scope="module")
def world() -> World:
    return load_builtin_world()


# --- what the checks read --------------------------------------------------------------------


def stored_ledger(rt: Runtime) -> list[dict[str, Any]]:
    with rt.store.sessions() as s:
        return [
            dict(b) for b in s.execute(select(LedgerRow.body).order_by(LedgerRow.seq)).scalars()
        ]


def check_ledger(rt: Runtime) -> None:
    """The stored ledger verifies and is exactly the in-memory one."""
    stored = stored_ledger(rt)
    assert verify(stored) == []
    assert stored == [r.model_dump(mode="json") for r in rt.journal.market.ledger.records()]


def market_ops(rt: Runtime) -> int:
    with rt.store.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(MarketOpRow)) or 0)


def leases(rt: Runtime, task: str) -> dict[int, Lease]:
    """The task's leases by attempt."""
    out = {}
    for lid, lease in rt.journal.market.leases.items():
        t, a = lid.rsplit(".", 1)
        if t == task:
            out[int(a)] = lease
    return out


def closes(rt: Runtime, task: str) -> dict[int, CloseReason | None]:
    return {a: lease.close_reason for a, lease in sorted(leases(rt, task).items())}


def stored_events(rt: Runtime, task: str) -> list[Event]:
    with rt.store.sessions() as s:
        bodies = s.execute(
            select(EventRow.body).where(EventRow.task == task).order_by(EventRow.seq)
        ).scalars()
        return [Event.model_validate(b) for b in bodies]


def lost_reasons(rt: Runtime, task: str) -> list[LostReason | None]:
    """The typed reasons of the task's accepted LOST events, in order."""
    accepted = {line.stimulus_id for line in rt.engine.story(task) if line.accepted}
    return [
        e.lost
        for e in stored_events(rt, task)
        if e.kind is EventKind.LOST and e.stimulus_id in accepted
    ]


def accepted_kinds(rt: Runtime, task: str) -> list[EventKind]:
    return [line.kind for line in rt.engine.story(task) if line.accepted]


def job_files(p: Plane, task: str, backend: str = "sim") -> list[str]:
    folder = p.tmp / "jobs" / backend
    return sorted(f.name for f in folder.glob(f"sw.{task}.*.json"))


def job_state(p: Plane, key: str, backend: str = "sim") -> JobState:
    return p.backend(backend).inner.poll().jobs[key].state


def tenant_balance(rt: Runtime, tenant: str = "acme") -> int:
    return rt.journal.market.balance(tenant)


def assert_no_live_lease_for_finished_tasks(rt: Runtime) -> None:
    for rec in rt.engine.tasks.values():
        if rec.state.terminal or rec.state is S.QUEUED:
            live = [a for a, lease in leases(rt, rec.id).items() if lease.live]
            assert live == [], (rec.id, rec.state, live)


def assert_rows_match_engine(p: Plane) -> None:
    for rec in p.rt.engine.tasks.values():
        row = p.svc.get(rec.id)
        assert (row.state, row.attempt, row.site) == (rec.state.value, rec.attempt, rec.site)


# --- 1. a refused dispatch --------------------------------------------------------------------


def test_a_refused_dispatch_is_lost_requeued_and_finishes_on_the_next_attempt(
    tmp_path: Path, world: World
) -> None:
    p = plane(tmp_path, world)
    p.sim.refuse = lambda job: job.attempt == 1
    t = p.svc.submit(spec(3.0))
    p.tick()  # placed; the dispatch is refused at the end of the tick
    assert p.state(t) is S.PLACED
    assert p.sim.submits == [f"sw.{t}.1"]
    assert leases(p.rt, t)[1].live
    p.tick()  # the refusal comes back as a lost attempt
    assert p.state(t) is S.RESCHEDULING
    assert p.svc.get(t).state == "rescheduling"
    assert closes(p.rt, t) == {1: CloseReason.RESCHEDULED}
    p.until_idle()
    rec = p.rt.engine.tasks[t]
    assert rec.state is S.SUCCEEDED
    assert rec.attempt == 2
    assert lost_reasons(p.rt, t) == [LostReason.DISPATCH]
    kinds = accepted_kinds(p.rt, t)
    assert kinds.index(EventKind.STOPPED) < len(kinds) - 1 - kinds[::-1].index(EventKind.PLACE)
    assert closes(p.rt, t) == {1: CloseReason.RESCHEDULED, 2: CloseReason.COMPLETED}
    assert job_files(p, t) == [f"sw.{t}.2.json"]  # the refused attempt never ran
    row = p.svc.get(t)
    assert (row.state, row.attempt) == ("succeeded", 2)
    assert_rows_match_engine(p)
    assert_no_live_lease_for_finished_tasks(p.rt)
    check_ledger(p.rt)
    # the refused attempt never started: the tenant paid only for the one that ran
    assert 0 < CREDIT - tenant_balance(p.rt) <= leases(p.rt, t)[2].paid_cum_micros
    assert leases(p.rt, t)[1].paid_cum_micros == 0


def test_a_refused_dispatch_keeps_the_ledger_in_time_order(tmp_path: Path, world: World) -> None:
    p = plane(tmp_path, world)
    busy = p.svc.submit(spec(100.0))
    p.ticks(3, step=5.0)  # `busy` runs and is metered
    assert p.state(busy) is S.RUNNING
    p.sim.refuse = lambda job: job.task != busy
    t = p.svc.submit(spec(3.0))
    p.tick(step=15.0)  # placed; refused; the next tick is 15 s later (past meter_every_s)
    p.tick()  # busy is metered (settled at the new time) before t's lease is closed
    assert p.state(t) is S.RESCHEDULING
    check_ledger(p.rt)


def test_a_restart_right_after_a_refused_dispatch_keeps_the_reason(
    tmp_path: Path, world: World
) -> None:
    p = plane(tmp_path, world)
    p.sim.refuse = lambda job: job.attempt == 1
    t = p.svc.submit(spec(3.0))
    p.tick()  # placed; refused; the LOST event waits in memory for the next tick
    p.restart()
    p.until_idle()
    assert p.state(t) is S.SUCCEEDED
    assert lost_reasons(p.rt, t) == [LostReason.DISPATCH]


# --- 2. a crash between the commit and the outbox ----------------------------------------------


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_crash_between_commit_and_outbox_dispatches_exactly_once_after_recovery(
    tmp_path: Path, world: World, when: str
) -> None:
    p = plane(tmp_path, world)
    p.sim.die = when  # the process dies before (or right after) the backend took the job
    t = p.svc.submit(spec(3.0))
    with pytest.raises(ProcessDiedError):
        p.rt.tick()
    assert p.svc.get(t).state == "placed"  # the tick was committed
    with p.rt.store.sessions() as s:
        rows = s.execute(select(OutboxRow.op, OutboxRow.key, OutboxRow.done)).all()
    assert [tuple(r) for r in rows] == [("dispatch", f"sw.{t}.1", False)]
    assert job_files(p, t) == ([f"sw.{t}.1.json"] if when == "after" else [])
    p.clock.advance(2.0)

    p.restart()
    assert p.recovered["pending_outbox"] == 1
    assert p.recovered["fenced"] == 0
    assert p.state(t) is S.PLACED
    p.until_idle()
    rec = p.rt.engine.tasks[t]
    assert (rec.state, rec.attempt) == (S.SUCCEEDED, 1)
    assert lost_reasons(p.rt, t) == []
    assert accepted_kinds(p.rt, t).count(EventKind.PLACE) == 1
    assert job_files(p, t) == [f"sw.{t}.1.json"]  # one job for the key, ever
    record = json.loads((p.tmp / "jobs" / "sim" / f"sw.{t}.1.json").read_text())
    submitted = T0 if when == "after" else T0 + timedelta(seconds=2)
    assert record["submitted_at"] == submitted.timestamp()  # not started a second time
    with p.rt.store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutboxRow).where(~OutboxRow.done)) == 0
    assert closes(p.rt, t) == {1: CloseReason.COMPLETED}
    assert_rows_match_engine(p)
    check_ledger(p.rt)


# --- 3. orphans are fenced at recovery ---------------------------------------------------------


def test_recovery_fences_orphans_and_stale_attempts_and_nothing_else(
    tmp_path: Path, world: World
) -> None:
    p = plane(tmp_path, world)
    t = p.svc.submit(spec(60.0))
    p.ticks(2)
    rec = p.rt.engine.tasks[t]
    assert rec.state is S.RUNNING
    first = rec.site
    assert first is not None
    p.svc.site_down(first)  # attempt 1 is lost and stopped; attempt 2 runs elsewhere
    p.until(lambda: p.state(t) is S.RUNNING and p.rt.engine.tasks[t].attempt == 2)
    second = p.rt.engine.tasks[t].site
    assert second is not None
    assert second != first

    sim = p.sim.inner
    # a zombie: attempt 1's job comes back (its record lost, then re-created)
    (p.tmp / "jobs" / "sim" / f"sw.{t}.1.json").unlink()
    sim.submit(JobSpec(key=f"sw.{t}.1", task=t, attempt=1, site=second, sim_seconds=500))
    # a job of a task nobody knows, one already finished, and one in another namespace
    sim.submit(
        JobSpec(key="sw.t-orphan.1", task="t-orphan", attempt=1, site=second, sim_seconds=500)
    )
    sim.submit(JobSpec(key="sw.t-done.1", task="t-done", attempt=1, site=second, sim_seconds=0))
    other = SimBackend("sim", "other", sim.sites, workdir=sim.workdir, clock=p.clock.epoch)
    other.submit(JobSpec(key="other.t-x.1", task="t-x", attempt=1, site=second, sim_seconds=500))
    p.clock.advance(0.5)

    p.restart()
    assert p.recovered["fenced"] == 2
    jobs = p.sim.inner.poll().jobs
    assert jobs[f"sw.{t}.1"].state is JobState.CANCELLED
    assert jobs["sw.t-orphan.1"].state is JobState.CANCELLED
    assert jobs["sw.t-done.1"].state is JobState.SUCCEEDED
    assert jobs[f"sw.{t}.2"].state is JobState.RUNNING  # the live attempt is left alone
    assert other.poll().jobs["other.t-x.1"].state is JobState.RUNNING  # not our namespace
    p.until_idle()
    assert p.state(t) is S.SUCCEEDED
    assert closes(p.rt, t) == {1: CloseReason.RESCHEDULED, 2: CloseReason.COMPLETED}
    assert "t-orphan" not in p.rt.engine.tasks
    check_ledger(p.rt)


def test_an_orphan_on_a_backend_unreachable_at_recovery_is_fenced_once_it_answers(
    tmp_path: Path, world: World
) -> None:
    p = plane(tmp_path, world)
    site = world.sites[0].id
    p.sim.inner.submit(
        JobSpec(key="sw.t-orphan.1", task="t-orphan", attempt=1, site=site, sim_seconds=500)
    )
    clock, cfg = p.clock, p.cfg
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    raw = make_backends(cfg, [s.id for s in world.sites], tmp_path, clock=clock.epoch)
    assert isinstance(raw["sim"], SimBackend)
    down = Flaky(raw["sim"])
    down.poll_down = True
    rt = Runtime(store, cfg, world, UNIT_TABLE, {"sim": down}, data_dir=tmp_path, clock=clock)
    assert rt.recover()["fenced"] == 0
    down.poll_down = False
    for _ in range(10):
        rt.tick()
        clock.advance(0.5)
    assert down.inner.poll().jobs["sw.t-orphan.1"].state is JobState.CANCELLED


# --- 4. a job the backend forgot ---------------------------------------------------------------


def test_a_vanished_job_is_lost_rescheduled_and_finishes(tmp_path: Path, world: World) -> None:
    p = plane(tmp_path, world)
    t = p.svc.submit(spec(6.0))
    p.ticks(3)
    assert p.state(t) is S.RUNNING
    (p.tmp / "jobs" / "sim" / f"sw.{t}.1.json").unlink()  # the backend forgets it
    p.tick()
    assert p.state(t) is S.RESCHEDULING
    assert lost_reasons(p.rt, t) == [LostReason.VANISHED]
    p.until_idle()
    rec = p.rt.engine.tasks[t]
    assert (rec.state, rec.attempt) == (S.SUCCEEDED, 2)
    assert closes(p.rt, t) == {1: CloseReason.RESCHEDULED, 2: CloseReason.COMPLETED}
    assert rec.checkpoint is not None
    assert rec.checkpoint.startswith("done_s=")
    assert_rows_match_engine(p)
    check_ledger(p.rt)


def test_a_job_cancelled_behind_the_runtimes_back_is_lost_and_moved(
    tmp_path: Path, world: World
) -> None:
    p = plane(tmp_path, world)
    t = p.svc.submit(spec(6.0))
    p.ticks(3)
    assert p.state(t) is S.RUNNING
    p.sim.inner.cancel(f"sw.{t}.1")  # an operator scancel-ed it
    p.tick()
    assert p.state(t) is S.RESCHEDULING
    p.until_idle()
    assert p.state(t) is S.SUCCEEDED
    assert lost_reasons(p.rt, t) == [LostReason.VANISHED]
    assert closes(p.rt, t) == {1: CloseReason.RESCHEDULED, 2: CloseReason.COMPLETED}
    check_ledger(p.rt)


# --- 5. cancellations --------------------------------------------------------------------------


def test_cancel_while_rescheduling_ends_cancelled_and_never_places_again(
    tmp_path: Path, world: World
) -> None:
    p = plane(tmp_path, world)
    t = p.svc.submit(spec(20.0))
    p.ticks(2)
    site = p.rt.engine.tasks[t].site
    assert p.state(t) is S.RUNNING
    assert site is not None
    p.sim.cancel_down = True  # the stop cannot be carried out: the task stays rescheduling
    p.svc.site_down(site)
    p.ticks(3)
    assert p.state(t) is S.RESCHEDULING
    assert closes(p.rt, t) == {1: CloseReason.RESCHEDULED}
    ledger_before = len(stored_ledger(p.rt))
    p.svc.cancel(t)
    p.tick()
    assert p.state(t) is S.CANCELLED
    assert p.svc.get(t).state == "cancelled"
    assert len(stored_ledger(p.rt)) == ledger_before  # the lease was already closed
    assert job_state(p, f"sw.{t}.1") is JobState.RUNNING  # the stop is still pending
    assert not p.rt.idle()
    p.sim.cancel_down = False
    p.until_idle()
    assert job_state(p, f"sw.{t}.1") is JobState.CANCELLED  # stopped in the end
    assert p.state(t) is S.CANCELLED
    assert accepted_kinds(p.rt, t).count(EventKind.PLACE) == 1
    assert closes(p.rt, t) == {1: CloseReason.RESCHEDULED}
    assert job_files(p, t) == [f"sw.{t}.1.json"]
    check_ledger(p.rt)


def test_cancel_twice_closes_the_lease_once(tmp_path: Path, world: World) -> None:
    p = plane(tmp_path, world)
    t = p.svc.submit(spec(60.0))
    p.ticks(25, step=1.0)
    assert p.state(t) is S.RUNNING
    p.svc.cancel(t)
    p.svc.cancel(t)  # two requests in the same tick
    p.tick()
    assert p.state(t) is S.CANCELLED
    ledger_after = stored_ledger(p.rt)
    ops_after = market_ops(p.rt)
    p.svc.cancel(t)  # and one more later
    p.tick()
    p.svc.cancel(t, request_id="again")
    p.svc.cancel(t, request_id="again")
    p.ticks(3)
    assert p.state(t) is S.CANCELLED
    assert stored_ledger(p.rt) == ledger_after
    assert market_ops(p.rt) == ops_after
    cancels = [line for line in p.rt.engine.story(t) if line.kind is EventKind.CANCEL]
    assert [line.accepted for line in cancels] == [True, False, False, False]
    assert closes(p.rt, t) == {1: CloseReason.CANCELLED}
    assert job_state(p, f"sw.{t}.1") is JobState.CANCELLED
    assert p.sim.cancels.count(f"sw.{t}.1") == 1
    assert leases(p.rt, t)[1].paid_cum_micros > 0  # it ran ~25 s and paid for them
    check_ledger(p.rt)


def test_cancel_after_success_changes_nothing(tmp_path: Path, world: World) -> None:
    p = plane(tmp_path, world)
    t = p.svc.submit(spec(2.0))
    p.until_idle()
    assert p.state(t) is S.SUCCEEDED
    ledger = stored_ledger(p.rt)
    ops = market_ops(p.rt)
    balance = tenant_balance(p.rt)
    p.svc.cancel(t)
    p.ticks(2)
    assert p.state(t) is S.SUCCEEDED
    assert p.svc.get(t).state == "succeeded"
    assert stored_ledger(p.rt) == ledger
    assert market_ops(p.rt) == ops
    assert tenant_balance(p.rt) == balance
    assert closes(p.rt, t) == {1: CloseReason.COMPLETED}
    assert p.sim.cancels == []
    assert p.rt.engine.story(t)[-1].accepted is False


def test_cancel_before_placement_and_while_waiting(tmp_path: Path, world: World) -> None:
    p = plane(tmp_path, world)
    early = p.svc.submit(spec(2.0))
    p.svc.cancel(early)  # in the same inbox batch as its submission
    waiting = p.svc.submit(spec(2.0, budget_micros=1))  # can never be placed
    p.ticks(2)
    assert p.state(early) is S.CANCELLED
    assert p.state(waiting) is S.QUEUED
    assert p.svc.get(waiting).reason.startswith("waiting: ")
    p.svc.cancel(waiting)
    p.tick()
    assert p.state(waiting) is S.CANCELLED
    for t in (early, waiting):
        assert leases(p.rt, t) == {}
        assert job_files(p, t) == []
        assert EventKind.PLACE not in accepted_kinds(p.rt, t)
        assert p.svc.get(t).state == "cancelled"
    assert p.rt.idle()
    assert tenant_balance(p.rt) == CREDIT
    check_ledger(p.rt)


def test_cancel_of_a_dispatched_job_that_never_started_costs_nothing(
    tmp_path: Path, world: World
) -> None:
    cfg = config(backends={"sim": SimOptions(kind="sim", time_scale=3600.0, start_delay_s=600)})
    p = plane(tmp_path, world, cfg)
    t = p.svc.submit(spec(2.0))
    p.ticks(3, step=5.0)
    assert p.state(t) is S.DISPATCHED
    p.svc.cancel(t)
    p.tick()
    assert p.state(t) is S.CANCELLED
    assert closes(p.rt, t) == {1: CloseReason.CANCELLED}
    assert job_state(p, f"sw.{t}.1") is JobState.CANCELLED
    assert leases(p.rt, t)[1].paid_cum_micros == 0
    assert tenant_balance(p.rt) == CREDIT
    check_ledger(p.rt)


def test_a_stop_pending_at_a_crash_is_carried_out_after_recovery(
    tmp_path: Path, world: World
) -> None:
    p = plane(tmp_path, world)
    t = p.svc.submit(spec(60.0))
    p.ticks(3)
    assert p.state(t) is S.RUNNING
    p.sim.cancel_down = True
    p.svc.cancel(t)
    p.ticks(2)
    assert p.state(t) is S.CANCELLED
    assert job_state(p, f"sw.{t}.1") is JobState.RUNNING  # the stop is still in the outbox
    p.restart()  # the new backend objects answer
    assert p.recovered["pending_outbox"] == 1
    assert p.recovered["fenced"] == 0  # left to the pending stop, not cancelled twice
    p.until_idle()
    assert job_state(p, f"sw.{t}.1") is JobState.CANCELLED
    assert p.sim.cancels == [f"sw.{t}.1"]
    assert closes(p.rt, t) == {1: CloseReason.CANCELLED}
    with p.rt.store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutboxRow).where(~OutboxRow.done)) == 0
    check_ledger(p.rt)


# --- what the backend reports ------------------------------------------------------------------


def test_a_job_that_fails_on_its_own_fails_the_task_and_one_lost_with_its_site_moves(
    tmp_path: Path, world: World
) -> None:
    p = plane(tmp_path, world)
    own, infra = p.svc.submit_many([spec(60.0), spec(60.0)])
    p.ticks(3)
    assert p.state(own) is S.RUNNING
    assert p.state(infra) is S.RUNNING
    p.sim.override = {
        f"sw.{own}.1": JobStatus(
            key=f"sw.{own}.1", state=JobState.FAILED, exit_code=3, message="exit 3"
        ),
        f"sw.{infra}.1": JobStatus(
            key=f"sw.{infra}.1", state=JobState.FAILED, message="node died", lost=True
        ),
    }
    p.tick()
    rec = p.rt.engine.tasks[own]
    assert (rec.state, rec.exit_code, rec.reason) == (S.FAILED, 3, "exit 3")
    row = p.svc.get(own)
    assert (row.state, row.reason) == ("failed", "exit 3")
    assert closes(p.rt, own) == {1: CloseReason.COMPLETED}
    assert p.state(infra) is S.RESCHEDULING
    assert lost_reasons(p.rt, infra) == [LostReason.SITE_DOWN]
    p.until_idle()
    assert p.state(own) is S.FAILED
    assert p.rt.engine.tasks[own].attempt == 1
    assert (p.state(infra), p.rt.engine.tasks[infra].attempt) == (S.SUCCEEDED, 2)
    assert closes(p.rt, infra) == {1: CloseReason.RESCHEDULED, 2: CloseReason.COMPLETED}
    check_ledger(p.rt)


def test_a_request_id_reused_for_another_task_is_not_silently_dropped(
    tmp_path: Path, world: World
) -> None:
    p = plane(tmp_path, world)
    a, b = p.svc.submit_many([spec(50.0), spec(50.0)])
    p.ticks(2)
    p.svc.cancel(a, request_id="r-1")
    try:
        p.svc.cancel(b, request_id="r-1")
    except Exception:
        return  # refusing the reuse loudly is fine too
    p.tick()
    assert p.state(a) is S.CANCELLED
    assert p.state(b) is S.CANCELLED


# --- 6. a lease that cannot be funded ----------------------------------------------------------


def test_a_tenant_that_cannot_fund_the_lease_fails_without_dispatch(
    tmp_path: Path, world: World
) -> None:
    p = plane(tmp_path, world, config(tenant_credit_micros=0))
    t = p.svc.submit(spec(2.0))
    p.until_idle()
    rec = p.rt.engine.tasks[t]
    assert rec.state is S.FAILED
    assert "could not be funded" in rec.reason
    row = p.svc.get(t)
    assert row.state == "failed"
    assert "could not be funded" in row.reason
    assert p.sim.submits == []
    assert job_files(p, t) == []
    assert leases(p.rt, t) == {}
    with p.rt.store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutboxRow)) == 0
    check_ledger(p.rt)
    before = p.rt.engine.counts()
    p.restart()
    assert p.rt.engine.counts() == before
    assert p.rt.engine.tasks[t].reason == rec.reason


def hourly(**kw: Any) -> ControlConfig:
    """Task hours in hours of the fake clock, ticks a minute apart (metered every minute)."""
    return config(
        backends={"sim": SimOptions(kind="sim", time_scale=1.0)},
        heartbeat_grace_s=300.0,
        meter_every_s=60,
        **kw,
    )


def prepay_of(tmp: Path, world: World) -> int:
    """The prepayment of ``spec()``'s lease where the scheduler puts it (a probe run)."""
    p = plane(tmp, world, hourly())
    t = p.svc.submit(spec(3.0))
    p.tick(60.0)
    return leases(p.rt, t)[1].terms.prepay_micros


def test_a_tenant_whose_money_runs_out_mid_run_never_goes_negative(
    tmp_path: Path, world: World
) -> None:
    prepay = prepay_of(tmp_path / "probe", world)
    credit = prepay * 3 // 2
    p = plane(tmp_path / "plane", world, hourly(tenant_credit_micros=credit))
    t = p.svc.submit(spec(3.0))  # three hours of a one-hour prepayment, 1.5 hours of money
    p.until_idle(step=60.0)
    assert p.state(t) is S.SUCCEEDED
    lease = leases(p.rt, t)[1]
    assert lease.close_reason is CloseReason.COMPLETED
    assert lease.paused  # the money did run out: billing paused (the job was not stopped)
    assert 0 <= tenant_balance(p.rt) < credit
    assert lease.paid_cum_micros <= credit
    check_ledger(p.rt)


def test_a_rescheduled_task_the_tenant_can_no_longer_fund_fails_saying_so(
    tmp_path: Path, world: World
) -> None:
    prepay = prepay_of(tmp_path / "probe", world)
    credit = prepay * 3 // 2
    p = plane(tmp_path / "plane", world, hourly(tenant_credit_micros=credit))
    t = p.svc.submit(spec(3.0))
    p.ticks(65, step=60.0)  # an hour of work paid: less than a prepayment is left
    assert p.state(t) is S.RUNNING
    site = p.rt.engine.tasks[t].site
    assert site is not None
    p.svc.site_down(site)
    p.until_idle(step=60.0)
    rec = p.rt.engine.tasks[t]
    assert rec.state is S.FAILED
    assert "could not be funded" in rec.reason
    assert p.svc.get(t).reason == rec.reason
    assert closes(p.rt, t) == {1: CloseReason.RESCHEDULED}  # attempt 2 never got a lease
    assert p.sim.submits == [f"sw.{t}.1"]
    assert 0 <= tenant_balance(p.rt) < prepay
    check_ledger(p.rt)


# --- 7. max_attempts ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["site-failed", "refused"])
def test_a_task_that_keeps_losing_its_attempts_gives_up_after_max_attempts(
    tmp_path: Path, world: World, how: str
) -> None:
    p = plane(tmp_path, world, config(max_attempts=3))
    if how == "site-failed":
        for site in world.sites:
            p.sim.inner.fail_site(site.id)
    else:
        p.sim.refuse = lambda job: True
    t = p.svc.submit(spec(2.0))
    p.until_idle()
    rec = p.rt.engine.tasks[t]
    assert rec.state is S.FAILED
    reason = LostReason.SITE_DOWN if how == "site-failed" else LostReason.DISPATCH
    assert rec.reason == f"{reason.value}: gave up after 3 lost attempts"
    assert lost_reasons(p.rt, t) == [reason] * 3
    assert rec.attempt == 3
    row = p.svc.get(t)
    assert (row.state, row.attempt, row.reason) == ("failed", 3, rec.reason)
    assert closes(p.rt, t) == dict.fromkeys((1, 2, 3), CloseReason.RESCHEDULED)
    assert not any(lease.live for lease in leases(p.rt, t).values())
    assert p.sim.submits == [f"sw.{t}.{a}" for a in (1, 2, 3)]
    for key in p.sim.inner.poll().jobs:
        assert job_state(p, key).finished
    assert tenant_balance(p.rt) == CREDIT  # attempts that never ran cost nothing
    check_ledger(p.rt)


# --- 8. restarts mid-flight --------------------------------------------------------------------


@pytest.mark.parametrize(
    "point", ["after-submit", "after-placement", "while-running", "while-rescheduling", "every"]
)
def test_a_restart_at_any_point_rebuilds_the_same_state_and_every_task_succeeds_once(
    tmp_path: Path, world: World, point: str
) -> None:
    p = plane(tmp_path, world, config(max_attempts=5))
    ids = p.svc.submit_many([spec(h) for h in (3.0, 5.0, 8.0, 12.0)])

    def restart_here(label: str) -> None:
        if point not in (label, "every"):
            return
        counts = p.rt.engine.counts()
        balances = p.rt.journal.market.ledger.balances()
        states = {t: (r.state, r.attempt, r.site) for t, r in p.rt.engine.tasks.items()}
        p.restart()
        assert p.rt.engine.counts() == counts
        assert p.rt.journal.market.ledger.balances() == balances
        assert {t: (r.state, r.attempt, r.site) for t, r in p.rt.engine.tasks.items()} == states
        assert p.recovered["fenced"] == 0
        assert p.recovered["pending_outbox"] == 0
        assert_rows_match_engine(p)

    restart_here("after-submit")
    p.tick()
    assert all(p.state(t) is S.PLACED for t in ids)
    restart_here("after-placement")
    p.ticks(4)
    assert all(p.state(t) is S.RUNNING for t in ids)
    restart_here("while-running")
    site = p.rt.engine.tasks[ids[-1]].site
    assert site is not None
    moved = [t for t in ids if p.rt.engine.tasks[t].site == site]
    p.svc.site_down(site)
    p.tick()
    assert all(p.state(t) is S.RESCHEDULING for t in moved)
    restart_here("while-rescheduling")
    p.ticks(4)
    restart_here("while-running")
    p.until_idle()
    for t in ids:
        rec = p.rt.engine.tasks[t]
        assert rec.state is S.SUCCEEDED, (t, rec.state, rec.reason)
        assert accepted_kinds(p.rt, t).count(EventKind.SUCCEEDED) == 1
        assert accepted_kinds(p.rt, t).count(EventKind.PLACE) == rec.attempt
        assert rec.attempt == (2 if t in moved else 1)
        expected = dict.fromkeys(range(1, rec.attempt), CloseReason.RESCHEDULED)
        expected[rec.attempt] = CloseReason.COMPLETED
        assert closes(p.rt, t) == expected
        assert job_files(p, t) == [f"sw.{t}.{a}.json" for a in range(1, rec.attempt + 1)]
        succeeded = [
            k
            for k, st in p.sim.inner.poll().jobs.items()
            if k.startswith(f"sw.{t}.") and st.state is JobState.SUCCEEDED
        ]
        assert succeeded == [f"sw.{t}.{rec.attempt}"]  # ran to the end once
    for t in moved:
        assert lost_reasons(p.rt, t) == [LostReason.SITE_DOWN]
    assert_rows_match_engine(p)
    assert_no_live_lease_for_finished_tasks(p.rt)
    check_ledger(p.rt)
    final = p.rt.engine.counts()
    p.restart()
    assert p.rt.engine.counts() == final


def running_attempt(p: Plane, task: str, attempt: int) -> Callable[[], bool]:
    def done() -> bool:
        rec = p.rt.engine.tasks.get(task)
        return rec is not None and rec.state is S.RUNNING and rec.attempt == attempt

    return done


def test_a_restart_with_a_lower_max_attempts_rebuilds_the_same_state(
    tmp_path: Path, world: World
) -> None:
    p = plane(tmp_path, world, config(max_attempts=5))
    t = p.svc.submit(spec(60.0))
    for attempt in (1, 2):
        p.until(running_attempt(p, t, attempt))
        site = p.rt.engine.tasks[t].site
        assert site is not None
        p.svc.site_down(site)
    p.until(running_attempt(p, t, 3))
    before = p.rt.engine.tasks[t].state
    p.restart(config(max_attempts=2))
    assert p.rt.engine.tasks[t].state is before
    assert_no_live_lease_for_finished_tasks(p.rt)
    assert_rows_match_engine(p)


# --- 9. a backend that cannot be polled --------------------------------------------------------


def two_backends(tmp: Path, world: World, edge: list[str]) -> Plane:
    cfg = config(
        backends={
            "sim": SimOptions(kind="sim", time_scale=3600.0),
            "edge": SimOptions(kind="sim", time_scale=3600.0),
        },
        sites=dict.fromkeys(edge, "edge"),
    )
    return plane(tmp, world, cfg)


def where_it_goes(tmp: Path, world: World) -> str:
    """The site the scheduler picks for ``spec()`` on an empty world."""
    p = plane(tmp, world)
    t = p.svc.submit(spec(1.0))
    p.tick()
    site = p.rt.engine.tasks[t].site
    assert site is not None
    return site


def test_a_poll_outage_shorter_than_grace_moves_nothing_a_longer_one_moves_the_work(
    tmp_path: Path, world: World
) -> None:
    home = where_it_goes(tmp_path / "probe", world)
    p = two_backends(tmp_path / "plane", world, [home])
    edge = p.backend("edge")
    ids = p.svc.submit_many([spec(80.0) for _ in range(3)])
    p.ticks(3)
    assert all(p.state(t) is S.RUNNING for t in ids)
    assert {p.rt.engine.tasks[t].site for t in ids} == {home}

    edge.poll_down = True  # a 10 s blip: nothing moves
    p.ticks(20)
    edge.poll_down = False
    p.ticks(4)
    for t in ids:
        assert p.state(t) is S.RUNNING
        assert lost_reasons(p.rt, t) == []

    edge.poll_down = True  # a long outage: past the 30 s grace, the work moves
    p.ticks(58)  # 29 s: not yet
    assert all(p.state(t) is S.RUNNING for t in ids)
    p.ticks(6)
    for t in ids:
        assert p.state(t) is not S.RUNNING or p.rt.engine.tasks[t].attempt == 2
        assert lost_reasons(p.rt, t) == [LostReason.HEARTBEAT]
    p.until_idle()
    for t in ids:
        rec = p.rt.engine.tasks[t]
        assert (rec.state, rec.attempt) == (S.SUCCEEDED, 2)
        assert rec.site != home
        assert closes(p.rt, t) == {1: CloseReason.RESCHEDULED, 2: CloseReason.COMPLETED}
    edge.poll_down = False
    for t in ids:  # the stop went through although the polls failed
        assert job_state(p, f"sw.{t}.1", "edge") is JobState.CANCELLED
    assert_rows_match_engine(p)
    check_ledger(p.rt)


def test_a_backend_that_cannot_be_polled_nor_cancelled_holds_its_tasks_until_it_answers(
    tmp_path: Path, world: World
) -> None:
    """The documented safety choice: a lost attempt is queued again only once its stop went
    through, so an unreachable backend keeps its tasks in `rescheduling` (never run twice)."""
    home = where_it_goes(tmp_path / "probe", world)
    p = two_backends(tmp_path / "plane", world, [home])
    edge = p.backend("edge")
    t = p.svc.submit(spec(80.0))
    p.ticks(3)
    assert p.state(t) is S.RUNNING
    edge.poll_down = edge.cancel_down = True
    p.ticks(70)
    assert p.state(t) is S.RESCHEDULING
    assert lost_reasons(p.rt, t) == [LostReason.HEARTBEAT]
    assert closes(p.rt, t) == {1: CloseReason.RESCHEDULED}
    edge.cancel_down = False  # the cancel goes through; the polls still fail
    p.ticks(3)
    assert p.rt.engine.tasks[t].attempt == 2
    p.until_idle()
    assert p.state(t) is S.SUCCEEDED
    assert p.rt.engine.tasks[t].site != home
    check_ledger(p.rt)


# --- 10. the story -----------------------------------------------------------------------------


def test_the_story_of_a_rescheduled_task_tells_every_step_in_order(
    tmp_path: Path, world: World
) -> None:
    cfg = config(backends={"sim": SimOptions(kind="sim", time_scale=3600.0, start_delay_s=1.2)})
    p = plane(tmp_path, world, cfg)
    t = p.svc.submit(spec(6.0))
    p.until(lambda: p.state(t) is S.RUNNING)
    site = p.rt.engine.tasks[t].site
    assert site is not None
    p.ticks(2)
    p.svc.site_down(site)
    p.until_idle()
    story = p.svc.story(t)
    assert story == p.rt.engine.story(t)
    steps = [
        (line.kind, line.after, line.attempt)
        for line in story
        if line.accepted and line.kind is not EventKind.CHECKPOINT
    ]
    e = EventKind
    assert steps == [
        (e.SUBMIT, S.SUBMITTED, None),
        (e.ADMIT, S.QUEUED, None),
        (e.PLACE, S.PLACED, None),
        (e.DISPATCHED, S.DISPATCHED, 1),
        (e.STARTED, S.RUNNING, 1),
        (e.LOST, S.RESCHEDULING, 1),
        (e.STOPPED, S.QUEUED, 1),
        (e.PLACE, S.PLACED, None),
        (e.DISPATCHED, S.DISPATCHED, 2),
        (e.STARTED, S.RUNNING, 2),
        (e.SUCCEEDED, S.SUCCEEDED, 2),
    ]
    ops = {line.kind: line.ops for line in story if line.accepted}
    assert ops[e.LOST] == ("stop", "close_lease")
    assert ops[e.SUCCEEDED] == ("close_lease",)
    assert any(line.kind is e.CHECKPOINT for line in story)
    lost = next(line for line in story if line.kind is e.LOST)
    assert lost.note == f"{site} is down"
    assert [line.at for line in story] == sorted(line.at for line in story)


def test_the_story_of_a_task_that_gave_up_ends_failed(tmp_path: Path, world: World) -> None:
    p = plane(tmp_path, world, config(max_attempts=2))
    p.sim.refuse = lambda job: True
    t = p.svc.submit(spec(2.0))
    p.until_idle()
    assert p.svc.get(t).state == "failed"
    assert p.rt.engine.story(t)[-1].after is S.FAILED
    story = p.svc.story(t)
    assert story[-1].after is S.FAILED
    assert "gave up" in story[-1].note
