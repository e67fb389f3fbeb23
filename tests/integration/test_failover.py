"""Failover: a site that fails, a cable that is cut and a site that falls silent move their
work elsewhere; short heartbeat blips move nothing; lost attempts are fenced before the next
one starts; their leases close as ``rescheduled`` and the ledger stays valid.

Time is a fake clock shared by the runtime and the simulated backend, so the scenario is
exact and fast.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from suanwang.control.backends.registry import make_backends
from suanwang.control.backends.sim import SimBackend
from suanwang.control.config import ControlConfig, SimOptions
from suanwang.control.runtime import Runtime
from suanwang.control.service import ControlService
from suanwang.control.store import open_store
from suanwang.control.store.schema import LedgerRow
from suanwang.core.engine import EventKind, LostReason, TaskState
from suanwang.core.errors import SuanwangError
from suanwang.core.market.leases import CloseReason
from suanwang.core.market.verify import verify
from suanwang.core.network.engine import Network
from suanwang.core.network.failures import FailureSpec
from suanwang.core.scheduling.workload import generate_tasks
from suanwang.core.tasks import LatencyMode, RunSpec, TaskSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.world import World
from suanwang.world.builtin import load_builtin_world

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def world() -> World:
    return load_builtin_world()


def build(tmp_path: Path, world: World, clock: FakeClock) -> Runtime:
    cfg = ControlConfig(
        backends={"sim": SimOptions(kind="sim", time_scale=3600.0)},  # a task hour: 1 s
        heartbeat_grace_s=30.0,
        meter_every_s=10,
    )
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    backends = make_backends(cfg, [s.id for s in world.sites], tmp_path, clock=clock.epoch)
    rt = Runtime(store, cfg, world, UNIT_TABLE, backends, data_dir=tmp_path, clock=clock)
    rt.recover()
    return rt


def running_at(rt: Runtime) -> Counter[str]:
    return Counter(r.site for r in rt.engine.in_state(TaskState.RUNNING) if r.site)


def affected_by(world: World, rt: Runtime, srlg: str) -> set[str]:
    """Running tasks whose users lose every path to their site when ``srlg`` is cut, or whose
    latency SLA the detour breaks (computed here independently of the runtime)."""
    before, after = Network.from_world(world), Network.from_world(world)
    after.fail(FailureSpec(srlgs=frozenset({srlg})), report=False)
    out = set()
    for rec in rt.engine.in_state(TaskState.RUNNING):
        spec = rt.specs[rec.id]
        o = spec.origin
        was = {x.site: x.one_way_ms for x in before.latencies_from_point(o.lat, o.lon)}
        now = {x.site: x.one_way_ms for x in after.latencies_from_point(o.lat, o.lon)}
        w, n = was.get(rec.site or ""), now.get(rec.site or "")
        if w is not None and n is None:
            out.add(rec.id)
        elif spec.latency_sla is not None and w is not None and n is not None and n > w:
            ms = n if spec.latency_sla.mode is LatencyMode.ONE_WAY else 2 * n
            if ms > spec.latency_sla.max_ms:
                out.add(rec.id)
        elif spec.input is not None and spec.input.site != rec.site:
            try:
                after.path(spec.input.site, rec.site or "")
            except SuanwangError:
                out.add(rec.id)
    return out


def lost_reasons(rt: Runtime, task: str) -> list[LostReason]:
    return [
        _lost_of(rt, task, line.stimulus_id)
        for line in rt.engine.story(task)
        if line.kind is EventKind.LOST and line.accepted
    ]


def _lost_of(rt: Runtime, task: str, stimulus: str) -> LostReason:
    from suanwang.control.store.schema import EventRow
    from suanwang.core.engine import Event

    with rt.store.sessions() as s:
        body = s.execute(
            select(EventRow.body).where(EventRow.task == task, EventRow.stimulus_id == stimulus)
        ).scalar_one()
    lost = Event.model_validate(body).lost
    assert lost is not None
    return lost


def long_tasks(world: World, n: int) -> list[TaskSpec]:
    """Tasks that run 2-6 task hours (2-6 s of the fake clock) and declare checkpoints."""
    rng = np.random.default_rng(11)
    out = []
    for spec in generate_tasks(world, n, rng, start=T0):
        hours = float(rng.uniform(2.0, 6.0))
        out.append(
            spec.model_copy(
                update={
                    "duration_hours": hours,
                    "deadline": None,
                    "deferrable": False,
                    "run": RunSpec(checkpoint=True),
                }
            )
        )
    return out


def test_site_failure_cable_cut_and_silence_move_work_elsewhere(
    tmp_path: Path, world: World
) -> None:
    clock = FakeClock()
    rt = build(tmp_path, world, clock)
    sim = rt.backends["sim"]
    assert isinstance(sim, SimBackend)
    svc = ControlService(rt.store, clock=clock)
    ids = svc.submit_many(long_tasks(world, 120))
    rt.tick()
    clock.advance(0.5)
    rt.tick()
    running = running_at(rt)
    assert sum(running.values()) >= 80

    # 1. a site fails: an operator declares it down
    down_site, _ = running.most_common(1)[0]
    on_down = {r.id for r in rt.engine.in_state(TaskState.RUNNING) if r.site == down_site}
    svc.site_down(down_site)
    clock.advance(0.5)
    rt.tick()
    for t in on_down:
        assert rt.engine.tasks[t].state in (TaskState.RESCHEDULING, TaskState.QUEUED)

    # 2. a cable is cut: the one whose loss strands the most running tasks
    cables = sorted({c.id for c in world.cables})
    best = max(cables, key=lambda c: (len(affected_by(world, rt, f"cable:{c}")), c))
    on_cable = affected_by(world, rt, f"cable:{best}")
    assert on_cable, "the scenario needs a cable whose cut strands a running task"
    svc.cut(FailureSpec(srlgs=frozenset({f"cable:{best}"})))
    clock.advance(0.5)
    rt.tick()

    # 3. a short blip (10 s < 30 s grace) moves nothing; a long silence does
    stable = running_at(rt)
    blip_site, silent_site = [s for s, _ in stable.most_common() if s != down_site][:2]
    on_blip = {r.id for r in rt.engine.in_state(TaskState.RUNNING) if r.site == blip_site}
    on_silent = {r.id for r in rt.engine.in_state(TaskState.RUNNING) if r.site == silent_site}
    sim.silence(blip_site, clock.epoch() + 10)
    sim.silence(silent_site, clock.epoch() + 600)
    for _ in range(2):
        clock.advance(0.1)
        rt.tick()
    for _ in range(80):  # 40 s, past the grace period
        clock.advance(0.5)
        rt.tick()
    for t in on_blip:
        assert not any(line.kind is EventKind.LOST for line in rt.engine.story(t)), (
            f"{t} was moved by a blip"
        )

    # 4. everything finishes
    for _ in range(200):
        if rt.idle():
            break
        clock.advance(1.0)
        rt.tick()
    assert rt.idle(), rt.engine.counts()
    stranded = [r.id for r in rt.engine.in_state(TaskState.QUEUED)]
    for t in stranded:  # a cut can leave a task with nowhere to go; it says why
        assert svc.get(t).reason.startswith("waiting: ")
    # 5. the cable is repaired and the site is back: the stranded tasks run too
    svc.restore(f"cable:{best}")
    svc.site_up(down_site)
    for _ in range(200):
        clock.advance(1.0)
        rt.tick()
        if rt.idle():
            break
    for t in stranded:
        if lost_reasons(rt, t):
            assert rt.engine.tasks[t].state is TaskState.SUCCEEDED, svc.get(t).reason
        else:  # never placeable (its budget, say): still waiting, and saying why
            assert svc.get(t).state == "queued"
            assert svc.get(t).reason.startswith("waiting: ")

    sim.restore_site(silent_site)  # it answers again: its fenced jobs can be inspected
    moved = {t: lost_reasons(rt, t) for t in ids if lost_reasons(rt, t)}
    assert on_down <= set(moved)
    assert on_cable <= set(moved)
    assert on_silent <= set(moved)
    assert {r for rs in moved.values() for r in rs} >= {
        LostReason.SITE_DOWN,
        LostReason.PATH_CUT,
        LostReason.HEARTBEAT,
    }
    market = rt.journal.market
    for t, reasons in moved.items():
        rec = rt.engine.tasks[t]
        assert rec.state is TaskState.SUCCEEDED, (t, rec.state, rec.reason)
        assert rec.attempt == len(reasons) + 1
        story = rt.engine.story(t)
        places = [e for e in story if e.kind is EventKind.PLACE and e.accepted]
        assert len(places) == rec.attempt
        # never in two places: each lost attempt was stopped before the next was placed
        kinds = [line.kind for line in story if line.accepted]
        for a in range(1, rec.attempt):
            stop_at = [i for i, k in enumerate(kinds) if k is EventKind.STOPPED][a - 1]
            place_at = [i for i, k in enumerate(kinds) if k is EventKind.PLACE][a]
            assert stop_at < place_at
            lease = market.leases[f"{t}.{a}"]
            assert lease.close_reason is CloseReason.RESCHEDULED
            # the fenced attempt is over (a partitioned site may have finished it meanwhile)
            assert sim.poll().jobs[rt.engine.key(t, a)].state.finished
        assert market.leases[f"{t}.{rec.attempt}"].close_reason is CloseReason.COMPLETED
        # resumed from the checkpoint: the last attempt ran less than the whole task
        assert rec.checkpoint is not None
        assert rec.checkpoint.startswith("done_s=")
    for t in on_down:  # unless it waited for the site to come back
        assert rt.engine.tasks[t].site != down_site or t in stranded
    for t in on_silent:
        assert rt.engine.tasks[t].site != silent_site
    with rt.store.sessions() as s:
        records = [
            dict(b) for b in s.execute(select(LedgerRow.body).order_by(LedgerRow.seq)).scalars()
        ]
    assert verify(records) == []
    # the whole story survives a restart
    again = build(tmp_path, world, clock)
    assert again.engine.counts() == rt.engine.counts()
