"""The runtime loop: events in, scheduler per tick, instructions out through backends and ledger.

One :meth:`Runtime.tick`:

1. takes the requests the service layer left in the inbox (submit, cancel, cut or restore a
   link or cable, declare a site down or up) and turns them into engine events;
2. polls every backend: job states become events for the current attempt of each task; a
   site that answers is heartbeating; one silent beyond ``heartbeat_grace_s`` loses its
   attempts (short blips are tolerated); a job the backend no longer knows is lost;
3. plans every queued task with the converged scheduler on free capacity (silent and down
   sites have none; cut links are gone from the network) and places it;
4. carries out the engine's instructions: leases open and close in the market (priced with
   the market's contracts, typed close reasons), usage heartbeats are metered; dispatches and
   stops go to the outbox;
5. commits, in **one transaction**, the events, the market journal, the new ledger records,
   the task projections, the outbox and the taken inbox rows;
6. only then carries out the outbox on the backends (idempotent by dispatch key) and marks it
   done.

A restart (:meth:`Runtime.recover`) replays the event log into a fresh engine and the market
journal into a fresh market, checks the rebuilt ledger against the stored records, re-runs
the outbox rows not marked done (a backend starts at most one job per key), and reconciles
with every backend: a job in our namespace that is not the current attempt of a live task is
cancelled (fenced). So a crash at any point loses no task, starts none twice, and leaves the
ledger balanced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, select, update

from suanwang.control.backends.base import Backend, BackendError, JobSpec, JobState, Poll
from suanwang.control.backends.registry import make_backend
from suanwang.control.config import ControlConfig, SimOptions
from suanwang.control.journal import MarketJournal
from suanwang.control.logs import log
from suanwang.control.metrics import Metrics
from suanwang.control.site_registry import SiteRegistry, SiteStatus
from suanwang.control.store import Store
from suanwang.control.store.schema import (
    CutRow,
    EventRow,
    InboxRow,
    LedgerRow,
    MarketOpRow,
    OutboxRow,
    SiteRow,
    TaskRow,
)
from suanwang.core.energy.clock import epoch_hour
from suanwang.core.engine import (
    CloseLease,
    Dispatch,
    Engine,
    Event,
    EventKind,
    Instruction,
    LostReason,
    MeterStart,
    OpenLease,
    Stop,
    TaskRecord,
    TaskState,
)
from suanwang.core.errors import SuanwangError
from suanwang.core.market.contracts import lease_terms, task_units
from suanwang.core.market.errors import MarketError
from suanwang.core.market.metering import UsageEvent, UsageKind, event_id
from suanwang.core.market.settlement import MarketConfig
from suanwang.core.market.vouchers import TenantProfile
from suanwang.core.network.engine import Network
from suanwang.core.network.failures import FailureSpec
from suanwang.core.network.paths import Hop
from suanwang.core.scheduling.framework import Profile
from suanwang.core.scheduling.scheduler import schedule
from suanwang.core.scheduling.snapshot import Snapshot
from suanwang.core.tasks import LatencyMode, TaskSpec
from suanwang.core.units import UnitTable
from suanwang.core.world import World

Clock = Callable[[], datetime]
ACTIVE = (TaskState.PLACED, TaskState.DISPATCHED, TaskState.RUNNING)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class TickReport:
    """What one tick did (counts) and how long it took."""

    at: datetime
    requests: int = 0
    events: int = 0
    placed: int = 0
    dispatched: int = 0
    stopped: int = 0
    finished: int = 0
    queued: int = 0
    active: int = 0
    seconds: float = 0.0
    plan_seconds: float = 0.0
    commit_seconds: float = 0.0


@dataclass
class _TickWork:
    events: list[Event] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    new_tasks: dict[str, tuple[TaskSpec, datetime]] = field(default_factory=dict)
    taken: list[int] = field(default_factory=list)
    cuts_added: dict[str, tuple[FailureSpec, datetime]] = field(default_factory=dict)
    cuts_removed: set[str] = field(default_factory=set)
    sites: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class SiteLoad:
    """What runs at a site now: normalized units in use and in total, and live attempts."""

    used_units: float
    capacity_units: float
    running: int

    @property
    def load(self) -> float:
        return self.used_units / self.capacity_units if self.capacity_units > 0 else 0.0


class Runtime:
    """The control plane's loop over one store, world and set of backends."""

    def __init__(
        self,
        store: Store,
        config: ControlConfig,
        world: World,
        table: UnitTable,
        backends: dict[str, Backend],
        *,
        data_dir: Path,
        clock: Clock = utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.data_dir = data_dir
        self.config = config
        self.world = world
        self.table = table
        self.backends = backends
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.sites = {s.id: s for s in world.sites}
        self.currency = world.sites[0].pools[0].currency
        self.market_config = MarketConfig(currency=self.currency)
        self.engine = Engine(config.namespace, max_attempts=config.max_attempts)
        self.journal = MarketJournal(self.market_config)
        self.network = Network.from_world(world)
        self.specs: dict[str, TaskSpec] = {}
        self.queued_at: dict[str, datetime] = {}
        self.cuts: dict[str, FailureSpec] = {}
        self.down: set[str] = set()
        self.last_seen: dict[str, datetime] = {}
        self.dispatched: set[str] = set()
        self.stopped: set[str] = set()
        self.pending_outbox: list[tuple[int, dict[str, Any]]] = []
        self.later: list[Event] = []
        self.last_meter: dict[str, datetime] = {}
        self._snap: Snapshot | None = None
        self._snap_hour: int | None = None
        self._seq = 0
        self.ticks = 0
        self.waiting: dict[str, str] = {}
        self.unreconciled: set[str] = set()
        self._stalled_inputs: tuple[int, int, int] | None = None
        self._paths: dict[tuple[str, str], tuple[Hop, ...]] = {}
        self._paths_version = ""
        self.stalled = False
        self.profile = Profile.for_mode(config.scheduler_mode)
        self.registry = SiteRegistry(store, world, table=table, clock=clock)
        self.heartbeats: dict[str, SiteStatus] = {}
        self.site_load: dict[str, SiteLoad] = {}

    # --- recovery ---------------------------------------------------------------------------
    def recover(self) -> dict[str, int]:
        """Rebuild the state from the store and reconcile with the backends (module docs).

        Raises:
            SuanwangError: the stored ledger does not match the rebuilt one (the store was
                edited behind the runtime's back).
        """
        with self.store.sessions() as s:
            rows = s.execute(select(EventRow.body).order_by(EventRow.seq)).scalars().all()
            events = [Event.model_validate(b) for b in rows]
            ops = s.execute(select(MarketOpRow.body).order_by(MarketOpRow.seq)).scalars().all()
            stored = s.execute(select(LedgerRow.body).order_by(LedgerRow.seq)).scalars().all()
            tasks = s.execute(select(TaskRow.id, TaskRow.spec, TaskRow.updated_at)).all()
            outbox = s.execute(select(OutboxRow).order_by(OutboxRow.seq)).scalars().all()
            cuts = s.execute(select(CutRow)).scalars().all()
            sites = s.execute(select(SiteRow)).scalars().all()
        now = self.clock()
        self._sync_world()
        self.engine = Engine.replay(
            events, self.config.namespace, max_attempts=self.config.max_attempts
        )
        self.journal = MarketJournal.replay(self.market_config, ops)
        rebuilt = [r.model_dump(mode="json") for r in self.journal.market.ledger.records()]
        if rebuilt != list(stored) and (stored or ops):
            raise SuanwangError(
                f"the stored ledger ({len(stored)} records) does not match the one rebuilt "
                f"from the market journal ({len(rebuilt)} records); run `suanwang ledger "
                "verify --db` and restore the store from a backup"
            )
        self.journal.written_records = len(stored)
        for tid, spec, updated in tasks:
            self.specs[tid] = TaskSpec.model_validate(spec)
            if self.engine.tasks[tid].state is TaskState.QUEUED:
                self.queued_at[tid] = _aware(updated)
        for row in outbox:
            body: dict[str, Any] = dict(row.body)
            if not row.done:
                self.pending_outbox.append((row.seq, body))
            elif row.op == "stop":
                self.stopped.add(row.key)
            elif "refused" not in body:
                self.dispatched.add(row.key)
            else:  # refused before the crash: the engine may not have heard of it yet
                rec = self.engine.tasks.get(str(body["job"]["task"]))
                attempt = int(body["job"]["attempt"])
                if rec is not None and rec.attempt == attempt and rec.state in ACTIVE:
                    self.later.append(self._refused(body, now))
        for cut in cuts:
            failure = FailureSpec.model_validate(cut.spec)
            self.network.fail(failure, report=False)
            self.cuts[failure.key] = failure
        for site in sites:
            if site.down:
                self.down.add(site.id)
        for sid in self.sites:
            self.last_seen[sid] = now  # a fresh grace period after a restart
        for lease in self.journal.market.leases.values():
            if lease.live:
                self.last_meter[lease.id] = now
        self._seq = len(events)
        self.unreconciled = set(self.backends)
        fenced = self._reconcile({})
        counts = {k.value: v for k, v in self.engine.counts().items()}
        log(
            logging.INFO,
            "recovered",
            events=len(events),
            market_ops=len(ops),
            pending_outbox=len(self.pending_outbox),
            fenced=fenced,
            **counts,
        )
        self._update_gauges()
        return {
            "events": len(events),
            "market_ops": len(ops),
            "pending_outbox": len(self.pending_outbox),
            "fenced": fenced,
        }

    def _reconcile(self, polls: dict[str, Poll | None]) -> int:
        """Cancel every job in our namespace that is not a live task's current attempt, on
        each backend not reconciled since the start (one that cannot be reached now is tried
        again on later ticks, with the poll the tick makes anyway)."""
        wanted = {
            self.engine.key(r.id, r.attempt)
            for r in self.engine.tasks.values()
            if r.state in ACTIVE
        }
        pending_keys = {body["key"] for _, body in self.pending_outbox}
        fenced = 0
        for name in sorted(self.unreconciled):
            backend = self.backends[name]
            poll = polls.get(name)
            if poll is None:
                try:
                    poll = backend.poll()
                except BackendError as exc:
                    self.metrics.backend_errors.labels(name, "poll").inc()
                    log(logging.WARNING, "backend not reconciled yet", backend=name, error=str(exc))
                    continue
            for key, status in poll.jobs.items():
                if key in wanted or key in pending_keys or status.state.finished:
                    continue
                try:
                    backend.cancel(key)
                    fenced += 1
                    log(logging.WARNING, "fenced an orphan job", backend=name, key=key)
                except BackendError:
                    self.metrics.backend_errors.labels(name, "cancel").inc()
            self.unreconciled.discard(name)
        return fenced

    # --- one tick ---------------------------------------------------------------------------
    def tick(self) -> TickReport:
        """One pass of the loop (see the module docstring)."""
        t0 = time.perf_counter()
        now = self.clock()
        rep = TickReport(at=now)
        work = _TickWork()
        # events held back by the last outbox run are dated now, when they are taken: the
        # ledger's time order follows the ticks
        work.events.extend(e.model_copy(update={"at": now}) for e in self.later)
        self.later = []
        self._sync_world()
        rep.requests = self._take_inbox(work, now)
        self._poll_backends(work, now)
        ops = self._handle(work, work.events)
        t1 = time.perf_counter()
        placements = self._plan(work, now)
        rep.plan_seconds = time.perf_counter() - t1
        rep.placed = sum(1 for e in placements if e.kind is EventKind.PLACE)
        ops += self._handle(work, placements)
        rep.events = len(work.events)
        self._carry_out(work, ops, now)
        t2 = time.perf_counter()
        self._commit(work, now)
        rep.commit_seconds = time.perf_counter() - t2
        rep.dispatched, rep.stopped = self._run_outbox()
        counts = self.engine.counts()
        rep.queued = counts[TaskState.QUEUED]
        rep.active = sum(counts[s] for s in ACTIVE) + counts[TaskState.RESCHEDULING]
        rep.finished = sum(counts[s] for s in TaskState if s.terminal)
        rep.seconds = time.perf_counter() - t0
        self.metrics.tick_seconds.observe(rep.seconds)
        if rep.events or rep.requests or rep.dispatched or rep.stopped:
            log(
                logging.INFO,
                "tick",
                tick=self.ticks,
                requests=rep.requests,
                events=rep.events,
                placed=rep.placed,
                dispatched=rep.dispatched,
                stopped=rep.stopped,
                queued=rep.queued,
                active=rep.active,
                finished=rep.finished,
                seconds=round(rep.seconds, 4),
            )
        self._update_gauges()
        self.ticks += 1
        return rep

    def idle(self) -> bool:
        """Nothing left to do: no live task, no pending request or outbox row, and the queued
        tasks (if any) could not be placed on the last tick."""
        if self.pending_outbox or self.later:
            return False
        for r in self.engine.tasks.values():
            if r.state is TaskState.QUEUED and self.stalled:
                continue
            if not r.state.terminal:
                return False
        with self.store.sessions() as s:
            return s.scalar(select(InboxRow.seq).where(InboxRow.taken.is_(False)).limit(1)) is None

    def run(
        self,
        *,
        until_idle: bool = False,
        max_ticks: int | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        on_tick: Callable[[TickReport], None] | None = None,
        sleep: Callable[[float], object] = time.sleep,
    ) -> int:
        """Tick every ``tick_s`` until told to stop (or idle, or ``max_ticks``); the ticks run."""
        n = 0
        while not should_stop():
            started = time.perf_counter()
            rep = self.tick()
            n += 1
            if on_tick is not None:
                on_tick(rep)
            if (max_ticks is not None and n >= max_ticks) or (until_idle and self.idle()):
                break
            sleep(max(0.0, self.config.tick_s - (time.perf_counter() - started)))
        return n

    # --- 0. the world providers change -----------------------------------------------------
    def _sync_world(self) -> None:
        """Take up sites providers registered or changed, and their latest heartbeats."""
        world = self.registry.world()
        if world is not self.world:
            self._adopt(world)
        self.heartbeats = self.registry.statuses()

    def _adopt(self, world: World) -> None:
        """Run on ``world`` from now on: new sites get a backend and a grace period, the
        network is rebuilt with the cuts in force, and the next plan sees the new pools."""
        new = [s.id for s in world.sites if s.id not in self.sites]
        self.world = world
        self.sites = {s.id: s for s in world.sites}
        self.network = Network.from_world(world)
        for failure in self.cuts.values():
            self.network.fail(failure, report=False)
        self._snap = None
        self._paths = {}
        self._paths_version = ""
        now = self.clock()
        for site in new:
            name = self.config.backend_of(site)
            if name in self.backends:
                self.backends[name].serve(site)
            else:
                self.backends[name] = make_backend(
                    name,
                    self.config.backends[name],
                    self.config.namespace,
                    [site],
                    self.data_dir,
                )
            self.last_seen.setdefault(site, now)
        if new:
            log(logging.INFO, "sites joined", sites=",".join(new))

    # --- 1. requests ------------------------------------------------------------------------
    def _stim(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}#{self._seq}"

    def _take_inbox(self, work: _TickWork, now: datetime) -> int:
        with self.store.sessions() as s:
            rows = (
                s.execute(
                    select(InboxRow)
                    .where(InboxRow.taken.is_(False))
                    .order_by(InboxRow.seq)
                    .limit(self.config.max_batch)
                )
                .scalars()
                .all()
            )
        for row in rows:
            work.taken.append(row.seq)
            body = dict(row.body)
            sid = row.stimulus_id
            if row.kind == "submit" and row.task is not None:
                self._submit(work, row.task, TaskSpec.model_validate(body["spec"]), sid, now)
            elif row.kind == "cancel" and row.task is not None:
                work.events.append(self._ev(sid, EventKind.CANCEL, row.task, now))
            elif row.kind == "cut":
                self._cut(work, FailureSpec.model_validate(body["spec"]), sid, now)
            elif row.kind == "restore":
                self._restore(work, str(body["key"]), now)
            elif row.kind == "site_down":
                self._site_down(work, str(body["site"]), sid, now)
            elif row.kind == "voucher":
                self._grant_voucher(body, sid, now)
            elif row.kind == "site_up":
                self.down.discard(str(body["site"]))
                work.sites.add(str(body["site"]))
                self.last_seen[str(body["site"])] = now
                self._snap = None
            else:
                log(logging.WARNING, "unknown request ignored", kind=row.kind, stimulus=sid)
        return len(rows)

    def _ev(self, sid: str, kind: EventKind, task: str, at: datetime, **kw: Any) -> Event:
        return Event(stimulus_id=sid, kind=kind, task=task, at=at, **kw)

    def _submit(self, work: _TickWork, task: str, spec: TaskSpec, sid: str, now: datetime) -> None:
        if task in self.engine.tasks or task in work.new_tasks:
            return  # taken before a crash and replayed: the engine already has it
        work.new_tasks[task] = (spec, now)
        self.specs[task] = spec
        work.events.append(self._ev(sid, EventKind.SUBMIT, task, now))
        market = self.journal.market
        if spec.currency != self.currency:
            work.events.append(
                self._ev(
                    f"{sid}:reject",
                    EventKind.REJECT,
                    task,
                    now,
                    reason=f"priced in {spec.currency}; this market settles in {self.currency}",
                )
            )
            return
        if spec.tenant not in market.tenants:
            self.journal.add_tenant(
                TenantProfile(id=spec.tenant, country=self.config.tenant_country)
            )
            if self.config.tenant_credit_micros > 0:
                self.journal.deposit(
                    spec.tenant, self.config.tenant_credit_micros, f"credit:{spec.tenant}", now
                )
        work.events.append(self._ev(f"{sid}:admit", EventKind.ADMIT, task, now))
        self.queued_at[task] = now

    def _active_at(self, sites: Iterable[str]) -> list[str]:
        wanted = set(sites)
        return [r.id for r in self.engine.in_state(*ACTIVE) if r.site in wanted]

    def _lose(
        self, work: _TickWork, task: str, reason: LostReason, sid: str, now: datetime, note: str
    ) -> None:
        rec = self.engine.tasks[task]
        work.events.append(
            self._ev(
                sid,
                EventKind.LOST,
                task,
                now,
                attempt=rec.attempt,
                lost=reason,
                reason=note,
                attempts_allowed=self.config.max_attempts,
            )
        )
        self.metrics.lost.labels(reason.value).inc()

    def _cut(self, work: _TickWork, spec: FailureSpec, sid: str, now: datetime) -> None:
        if spec.key in self.cuts:
            return
        active = [r.id for r in self.engine.in_state(*ACTIVE)]
        before = self._origin_latencies(active)
        try:
            self.network.fail(spec, report=False)
        except SuanwangError as exc:
            log(logging.WARNING, "cut refused", key=spec.key, error=str(exc))
            return
        self.cuts[spec.key] = spec
        work.cuts_added[spec.key] = (spec, now)
        self._snap = None
        after = self._origin_latencies(active)
        for task in active:
            why = self._unreachable(task, before, after)
            if why:
                self._lose(work, task, LostReason.PATH_CUT, f"{sid}:{task}", now, why)
        log(logging.WARNING, "network cut", key=spec.key)

    def _origin_latencies(self, tasks: list[str]) -> dict[tuple[float, float], dict[str, float]]:
        """One-way latency from each task's users to every reachable site (one Dijkstra per
        distinct origin)."""
        out: dict[tuple[float, float], dict[str, float]] = {}
        for task in tasks:
            o = self.specs[task].origin
            if (o.lat, o.lon) not in out:
                out[(o.lat, o.lon)] = {
                    x.site: x.one_way_ms
                    for x in self.network.latencies_from_point(o.lat, o.lon)
                    if x.one_way_ms is not None
                }
        return out

    def _restore(self, work: _TickWork, key: str, now: datetime) -> None:
        if key not in self.cuts:
            return
        self.network.restore(key, report=False)
        del self.cuts[key]
        work.cuts_removed.add(key)
        self._snap = None
        log(logging.INFO, "network restored", key=key)

    def _site_down(self, work: _TickWork, site: str, sid: str, now: datetime) -> None:
        self.down.add(site)
        work.sites.add(site)
        self._snap = None
        for task in self._active_at([site]):
            self._lose(work, task, LostReason.SITE_DOWN, f"{sid}:{task}", now, f"{site} is down")

    def _grant_voucher(self, body: dict[str, Any], sid: str, now: datetime) -> None:
        """A voucher granted through the service: its own programme, funded with exactly the
        grant, then granted to the tenant (a tenant not seen yet is added as a submission
        would add it). Both are journalled, so a restart rebuilds them."""
        from suanwang.core.market.vouchers import VoucherProgram

        tenant = str(body["tenant"])
        try:
            program = VoucherProgram.model_validate(body["program"])
            market = self.journal.market
            if program.id in market.programs:
                return  # taken before
            if tenant not in market.tenants:
                self.journal.add_tenant(
                    TenantProfile(id=tenant, country=self.config.tenant_country)
                )
                if self.config.tenant_credit_micros > 0:
                    self.journal.deposit(
                        tenant, self.config.tenant_credit_micros, f"credit:{tenant}", now
                    )
            countries = {c.code: c for c in self.world.countries}
            self.journal.add_program(program, program.grant_micros, now, sid)
            voucher = self.journal.grant_voucher(program.id, tenant, now, countries)
        except (ValueError, MarketError) as exc:
            log(logging.WARNING, "voucher refused", stimulus=sid, tenant=tenant, error=str(exc))
            return
        log(logging.INFO, "voucher granted", voucher=voucher.id, micros=voucher.grant_micros)

    def _unreachable(
        self,
        task: str,
        before: dict[tuple[float, float], dict[str, float]],
        after: dict[tuple[float, float], dict[str, float]],
    ) -> str:
        """Why a cut leaves the task's site unable to serve it ('' if it still can): its
        users or its input data lost every path to the site, or the cut made the users'
        fastest path break the task's latency SLA."""
        rec, spec = self.engine.tasks[task], self.specs[task]
        assert rec.site is not None
        o = spec.origin
        now_ms = after[(o.lat, o.lon)].get(rec.site)
        was_ms = before[(o.lat, o.lon)].get(rec.site)
        if now_ms is None and was_ms is not None:
            return f"the users in {o.country} can no longer reach {rec.site}"
        sla = spec.latency_sla
        if sla is not None and now_ms is not None and was_ms is not None and now_ms > was_ms:
            ms = now_ms if sla.mode is LatencyMode.ONE_WAY else 2.0 * now_ms
            if ms > sla.max_ms:
                return f"{rec.site} is now {ms:.1f} ms {sla.mode.value} away (SLA {sla.max_ms} ms)"
        if spec.input is not None and spec.input.site != rec.site:
            try:
                self.network.path(spec.input.site, rec.site)
            except SuanwangError:
                return f"the input data at {spec.input.site} can no longer reach {rec.site}"
        return ""

    # --- 2. backends ------------------------------------------------------------------------
    def _poll_backends(self, work: _TickWork, now: datetime) -> None:
        by_site: dict[str, list[str]] = {}
        for r in self.engine.tasks.values():
            if (r.state in ACTIVE or r.state is TaskState.RESCHEDULING) and r.site:
                by_site.setdefault(r.site, []).append(r.id)
        polls: dict[str, Poll | None] = {}
        for name, backend in self.backends.items():
            try:
                polls[name] = backend.poll()
            except BackendError as exc:
                polls[name] = None
                self.metrics.backend_errors.labels(name, "poll").inc()
                log(logging.WARNING, "backend poll failed", backend=name, error=str(exc))
        for poll in polls.values():
            if poll is not None:
                for site in poll.sites_alive:
                    self.last_seen[site] = now
        if self.unreconciled:
            self._reconcile({k: v for k, v in polls.items() if v is not None})
        grace = timedelta(seconds=self.config.heartbeat_grace_s)
        for site, tasks in by_site.items():
            poll = polls.get(self.config.backend_of(site))
            alive = poll is not None and site in poll.sites_alive
            for task in tasks:
                rec = self.engine.tasks[task]
                key = self.engine.key(task, rec.attempt)
                status = poll.jobs.get(key) if poll is not None and alive else None
                if rec.state is TaskState.RESCHEDULING:
                    # stopped: the backend shows the old job over, or it was cancelled and its
                    # site shows no such job or cannot be asked (the cancel was accepted)
                    over = status is not None and status.state.finished
                    gone = key in self.stopped and status is None
                    if over or gone:
                        work.events.append(
                            self._ev(
                                f"stopped:{key}", EventKind.STOPPED, task, now, attempt=rec.attempt
                            )
                        )
                    continue
                if site in self.down:
                    continue
                if not alive:
                    seen = self.last_seen.get(site, now)
                    if now - seen > grace:
                        self._lose(
                            work,
                            task,
                            LostReason.HEARTBEAT,
                            f"hb:{key}",
                            now,
                            f"{site} silent for {(now - seen).total_seconds():.0f} s",
                        )
                    continue
                self._job_events(work, task, key, status, now)

    def _job_events(self, work: _TickWork, task: str, key: str, status: Any, now: datetime) -> None:
        rec = self.engine.tasks[task]
        a = rec.attempt
        if status is None:
            if key in self.dispatched:
                self._lose(
                    work, task, LostReason.VANISHED, f"vanished:{key}", now, "backend lost the job"
                )
            return
        ev = work.events
        run = self.specs[task].run
        declares = run is not None and run.checkpoint
        if declares and status.checkpoint and status.checkpoint != rec.checkpoint:
            digest = sha256(status.checkpoint.encode()).hexdigest()[:12]
            ev.append(
                self._ev(
                    f"{key}:ckpt:{digest}",
                    EventKind.CHECKPOINT,
                    task,
                    now,
                    attempt=a,
                    checkpoint=status.checkpoint,
                )
            )
        st = status.state
        if st is JobState.PENDING and rec.state is TaskState.PLACED:
            ev.append(self._ev(f"{key}:pending", EventKind.DISPATCHED, task, now, attempt=a))
        if st is JobState.RUNNING or (st.finished and rec.state is not TaskState.RUNNING):
            if rec.state is not TaskState.RUNNING:
                ev.append(self._ev(f"{key}:running", EventKind.STARTED, task, now, attempt=a))
            elif st is JobState.RUNNING:
                self._meter(rec.lease, self.sites[rec.site or ""].id, now)
        if st is JobState.SUCCEEDED:
            ev.append(
                self._ev(f"{key}:succeeded", EventKind.SUCCEEDED, task, now, attempt=a, exit_code=0)
            )
        elif st is JobState.FAILED:
            if status.lost:
                self._lose(work, task, LostReason.SITE_DOWN, f"{key}:lost", now, status.message)
            else:
                ev.append(
                    self._ev(
                        f"{key}:failed",
                        EventKind.FAILED,
                        task,
                        now,
                        attempt=a,
                        exit_code=status.exit_code,
                        reason=status.message[:500],
                    )
                )
        elif st is JobState.CANCELLED:
            self._lose(
                work, task, LostReason.VANISHED, f"{key}:cancelled", now, "cancelled at the backend"
            )

    def _meter(self, lease: str, site: str, now: datetime) -> None:
        market = self.journal.market
        if lease not in market.leases or not market.leases[lease].live:
            return
        last = self.last_meter.get(lease)
        if last is not None and (now - last).total_seconds() < self.config.meter_every_s:
            return
        self.journal.ingest(
            UsageEvent(
                source=site,
                id=event_id(lease, UsageKind.HEARTBEAT, now),
                lease=lease,
                kind=UsageKind.HEARTBEAT,
                time=now,
            )
        )
        self.journal.settle(lease, now)
        self.last_meter[lease] = now

    # --- 3. planning ------------------------------------------------------------------------
    def snapshot(self, now: datetime) -> Snapshot:
        """The world as the scheduler sees it now (rebuilt on the hour and after cuts)."""
        hour = epoch_hour(now)
        if self._snap is None or self._snap_hour != hour:
            self._snap = Snapshot.build(self.world, self.table, hour, network=self.network)
            self._snap_hour = hour
        return self._snap

    def _pool_index(self, snap: Snapshot, site: str, local: int) -> int:
        return int(snap.pools_of(snap.site_index(site))[local])

    def free_capacity(self, snap: Snapshot, now: datetime) -> np.ndarray[Any, Any]:
        """Free units per pool: capacity less live attempts; none at down or silent sites."""
        free = snap.pool_capacity.copy()
        for r in self.engine.tasks.values():
            if r.state in ACTIVE and r.site is not None and r.pool is not None:
                site = self.sites[r.site]
                g = self._pool_index(snap, r.site, r.pool)
                free[g] -= task_units(self.specs[r.id], site.pools[r.pool], self.table)
        grace = timedelta(seconds=self.config.heartbeat_grace_s)
        for sid in self.sites:
            seen = self.last_seen.get(sid, now)
            beat = self.heartbeats.get(sid)
            if sid in self.down or now - seen > grace:
                free[snap.pools_of(snap.site_index(sid))] = 0.0
            elif beat is not None and beat.online is not None and now - beat.seen_at <= grace:
                # devices online as its provider agent said; a stale report no longer limits
                # (the backend, not the agent, says whether the site is alive)
                pools = snap.pools_of(snap.site_index(sid))
                for local, online in enumerate(beat.online[: len(pools)]):
                    g = int(pools[local])
                    total = float(snap.pool_capacity[g])
                    count = self.sites[sid].pools[local].count
                    offline = total * (1.0 - min(online, count) / count)
                    free[g] -= offline
        out: np.ndarray[Any, Any] = np.maximum(free, 0.0)
        return out

    def _plan(self, work: _TickWork, now: datetime) -> list[Event]:
        queued = sorted(
            (r.id for r in self.engine.in_state(TaskState.QUEUED)),
            key=lambda t: (self.queued_at.get(t, now), t),
        )[: self.config.max_batch]
        self.stalled = False
        if not queued:
            self.metrics.queue_depth.set(0)
            return []
        snap = self.snapshot(now)
        free = self.free_capacity(snap, now)
        # A queue that placed nothing last time is planned again only when its inputs
        # changed: other tasks, other free capacity, or a rebuilt snapshot (hour, cut, site).
        inputs = (id(snap), hash(tuple(queued)), hash(free.tobytes()))
        if inputs == self._stalled_inputs:
            self.stalled = not work.events
            return []
        view = snap.with_free(free)
        # the scheduler names tasks by ``name``; users may reuse names, ids are unique
        specs = [self.specs[t].model_copy(update={"name": t}) for t in queued]
        try:
            plan = schedule(specs, view, profile=self.profile, seed=self.ticks)
        except SuanwangError as exc:
            log(logging.ERROR, "scheduler failed", error=str(exc), queued=len(queued))
            self.stalled = not work.events
            return []
        out = []
        for t in np.flatnonzero(plan.arrays.pool < 0):
            task = queued[int(t)]
            why = f"waiting: {plan.arrays.reason[int(t)]}"
            if self.waiting.get(task) != why:
                self.waiting[task] = why
                work.touched.add(task)
        for t in plan.placed:
            i = int(t)
            task = queued[i]
            g = int(plan.arrays.pool[i])
            site = snap.site_ids[int(snap.pool_site[g])]
            local = int(np.flatnonzero(snap.pools_of(int(snap.pool_site[g])) == g)[0])
            rec = self.engine.tasks[task]
            out.append(
                self._ev(
                    f"place:{task}:{rec.attempt}",
                    EventKind.PLACE,
                    task,
                    now,
                    site=site,
                    pool=local,
                )
            )
            self.waiting.pop(task, None)
            since = self.queued_at.pop(task, now)
            self.metrics.placement_latency.observe(max(0.0, (now - since).total_seconds()))
        self.metrics.queue_depth.set(len(queued) - len(out))
        self.stalled = not out and not work.events
        self._stalled_inputs = inputs if not out else None
        return out

    # --- 4. instructions --------------------------------------------------------------------
    def _handle(self, work: _TickWork, events: list[Event]) -> list[Instruction]:
        out: list[Instruction] = []
        for e in events:
            out.extend(self.engine.handle(e))
            work.touched.add(e.task)
        if events is not work.events:
            work.events.extend(events)
        return out

    def _carry_out(self, work: _TickWork, ops: list[Instruction], now: datetime) -> None:
        failed_open: set[str] = set()
        i = 0
        while i < len(ops):
            op = ops[i]
            i += 1
            if isinstance(op, OpenLease):
                try:
                    self.journal.open_lease(self._terms(op))
                except (MarketError, SuanwangError) as exc:
                    failed_open.add(op.lease)
                    ev = self._ev(
                        f"fund:{op.lease}",
                        EventKind.FAILED,
                        op.task,
                        now,
                        attempt=op.attempt,
                        reason=f"the lease could not be funded: {exc}",
                    )
                    ops.extend(self._handle(work, [ev]))
            elif isinstance(op, Dispatch):
                if f"{op.task}.{op.attempt}" in failed_open:
                    continue
                work.outbox.append(self._dispatch_body(op))
            elif isinstance(op, MeterStart):
                rec = self.engine.tasks[op.task]
                self.last_meter.pop(op.lease, None)
                self._meter(op.lease, rec.site or "unknown", op.at)
            elif isinstance(op, Stop):
                work.outbox.append(
                    {"op": "stop", "key": op.key, "backend": self.config.backend_of(op.site)}
                )
            elif isinstance(op, CloseLease):
                market = self.journal.market
                if op.lease not in market.leases:
                    continue
                lease = market.leases[op.lease]
                if op.reason.value in ("completed", "cancelled") and lease.live:
                    rec = self.engine.tasks[op.task]
                    self.last_meter.pop(op.lease, None)
                    self._meter(op.lease, rec.site or "unknown", op.at)
                self.journal.close(op.lease, op.reason, op.at)
                self.last_meter.pop(op.lease, None)
                log(
                    logging.INFO,
                    "lease closed",
                    lease=op.lease,
                    reason=op.reason.value,
                    task=op.task,
                )

    def _terms(self, op: OpenLease) -> Any:
        spec = self.specs[op.task]
        site = self.sites[op.site]
        hops: tuple[Hop, ...] = ()
        if spec.input is not None and spec.input.site != site.id:
            hops = self._hops(spec.input.site, site.id)
        grace = int(self.config.heartbeat_grace_s) + 2 * self.config.meter_every_s
        return lease_terms(
            op.lease,
            spec.model_copy(update={"name": op.task}),  # the lease names the task by its id
            site,
            site.pools[op.pool],
            self.table,
            op.at,
            hops=hops,
            platform_fee_bps=self.config.platform_fee_bps,
            grace_s=grace,
            start_timeout_s=max(900, 3 * grace),
            prepay_hours=self.config.prepay_hours,
        )

    def _hops(self, src: str, dst: str) -> tuple[Hop, ...]:
        """The input data's path (cached while the network stays as it is)."""
        version = self.network.version
        if self._paths_version != version:
            self._paths.clear()
            self._paths_version = version
        if (src, dst) not in self._paths:
            try:
                self._paths[(src, dst)] = self.network.path(src, dst).hops
            except SuanwangError:
                self._paths[(src, dst)] = ()
        return self._paths[(src, dst)]

    def _dispatch_body(self, op: Dispatch) -> dict[str, Any]:
        spec = self.specs[op.task]
        name = self.config.backend_of(op.site)
        opts = self.config.backends[name]
        run = spec.run
        est_s = spec.duration_hours * 3600.0
        sim_s = 0.0
        if isinstance(opts, SimOptions):
            sim_s = est_s / opts.time_scale
            if op.resume_from and op.resume_from.startswith("done_s="):
                done = float(op.resume_from.split("=", 1)[1])
                sim_s = max(0.0, sim_s - done)
        checkpoint_dir = None
        if run is not None and run.checkpoint:
            checkpoint_dir = str((self.data_dir / "checkpoints" / op.task).resolve())
        job = JobSpec(
            key=op.key,
            task=op.task,
            attempt=op.attempt,
            site=op.site,
            command=run.command if run else (),
            cpus=run.cpus if run else 1.0,
            memory_mb=run.memory_mb if run else 512,
            time_limit_s=(
                run.time_limit_s if run and run.time_limit_s else max(60, int(2 * est_s))
            ),
            checkpoint_dir=checkpoint_dir,
            sim_seconds=sim_s,
            env={"SUANWANG_RESUME_FROM": op.resume_from} if op.resume_from else {},
        )
        return {
            "op": "dispatch",
            "key": op.key,
            "backend": name,
            "job": job.model_dump(mode="json"),
        }

    # --- 5. commit --------------------------------------------------------------------------
    def _commit(self, work: _TickWork, now: datetime) -> None:
        """Write the tick in one transaction (bulk statements: one per table).

        A failed commit raises: the in-memory state is then ahead of the store, so the
        runtime must stop and be restarted (``recover`` rebuilds it from the store).
        """
        new_records = self.journal.new_records()
        market_ops = self.journal.take_pending()
        with self.store.transaction() as s:
            if work.new_tasks:
                s.execute(
                    insert(TaskRow),
                    [
                        {
                            "id": task,
                            "tenant": spec.tenant,
                            "name": spec.name,
                            "spec": spec.model_dump(mode="json"),
                            **self._task_row(self.engine.tasks[task], now),
                            "submitted_at": at,
                        }
                        for task, (spec, at) in work.new_tasks.items()
                    ],
                )
            if work.events:
                s.execute(
                    insert(EventRow),
                    [
                        {
                            "stimulus_id": e.stimulus_id,
                            "task": e.task,
                            "kind": e.kind.value,
                            "body": e.model_dump(mode="json"),
                        }
                        for e in work.events
                    ],
                )
            changed = [
                {"id": t, **self._task_row(self.engine.tasks[t], now)}
                for t in work.touched
                if t not in work.new_tasks and t in self.engine.tasks
            ]
            if changed:
                s.execute(update(TaskRow), changed)
            seqs: list[int] = []
            if work.outbox:
                seqs = list(
                    s.execute(
                        insert(OutboxRow).returning(OutboxRow.seq, sort_by_parameter_order=True),
                        [
                            {"op": b["op"], "key": b["key"], "body": b, "done": False}
                            for b in work.outbox
                        ],
                    ).scalars()
                )
            if market_ops:
                s.execute(insert(MarketOpRow), [{"body": b} for b in market_ops])
            if new_records:
                s.execute(
                    insert(LedgerRow), [{"body": r.model_dump(mode="json")} for r in new_records]
                )
            if work.taken:
                s.execute(update(InboxRow).where(InboxRow.seq.in_(work.taken)).values(taken=True))
            for key, (cut, cut_at) in work.cuts_added.items():
                s.merge(CutRow(key=key, spec=cut.model_dump(mode="json"), at=cut_at))
            for key in work.cuts_removed:
                row = s.get(CutRow, key)
                if row is not None:
                    s.delete(row)
            for site in work.sites:
                s.merge(
                    SiteRow(id=site, down=site in self.down, last_seen=self.last_seen.get(site))
                )
        self.pending_outbox.extend(zip(seqs, work.outbox, strict=True))

    def _task_row(self, rec: TaskRecord, now: datetime) -> dict[str, Any]:
        return {
            "state": rec.state.value,
            "attempt": rec.attempt,
            "site": rec.site,
            "pool": rec.pool,
            "reason": self._reason(rec),
            "updated_at": now,
        }

    def _reason(self, rec: TaskRecord) -> str:
        if rec.state is TaskState.QUEUED:
            return self.waiting.get(rec.id, rec.reason)
        return rec.reason

    # --- 6. outbox --------------------------------------------------------------------------
    def _run_outbox(self) -> tuple[int, int]:
        done: list[int] = []
        keep: list[tuple[int, dict[str, Any]]] = []
        refused: dict[int, dict[str, Any]] = {}
        dispatched = stopped = 0
        now = self.clock()
        for seq, body in self.pending_outbox:
            backend = self.backends.get(body["backend"])
            key = body["key"]
            if backend is None:
                keep.append((seq, body))
                continue
            try:
                if body["op"] == "dispatch":
                    backend.submit(JobSpec.model_validate(body["job"]))
                    self.dispatched.add(key)
                    self.metrics.dispatches.labels(body["backend"]).inc()
                    dispatched += 1
                else:
                    backend.cancel(key)
                    self.stopped.add(key)
                    stopped += 1
                done.append(seq)
            except BackendError as exc:
                self.metrics.backend_errors.labels(body["backend"], body["op"]).inc()
                log(logging.WARNING, "backend call failed", op=body["op"], key=key, error=str(exc))
                if body["op"] == "dispatch":
                    refused[seq] = {**body, "refused": str(exc)[:500]}
                    self.later.append(self._refused(refused[seq], now))
                    done.append(seq)
                else:
                    keep.append((seq, body))  # retried next tick
        self.pending_outbox = keep
        if done:
            with self.store.transaction() as s:
                s.execute(update(OutboxRow).where(OutboxRow.seq.in_(done)).values(done=True))
                for seq, body in refused.items():  # kept, so a restart still knows why
                    s.execute(update(OutboxRow).where(OutboxRow.seq == seq).values(body=body))
        return dispatched, stopped

    def _refused(self, body: dict[str, Any], now: datetime) -> Event:
        """The lost event of a dispatch the backend refused (dated when a tick takes it)."""
        return self._ev(
            f"dispatch-failed:{body['key']}",
            EventKind.LOST,
            str(body["job"]["task"]),
            now,
            attempt=int(body["job"]["attempt"]),
            lost=LostReason.DISPATCH,
            reason=str(body["refused"]),
            attempts_allowed=self.config.max_attempts,
        )

    # --- metrics ----------------------------------------------------------------------------
    def _update_gauges(self) -> None:
        for state, n in self.engine.counts().items():
            self.metrics.tasks.labels(state.value).set(n)
        ledger = self.journal.market.ledger
        self.metrics.ledger_txns.set(ledger.txn_count)
        if self.ticks % 10 == 0:
            by_kind: dict[str, int] = {}
            for account, amount in ledger.balances().items():
                kind = account.split(":", 1)[0]
                by_kind[kind] = by_kind.get(kind, 0) + amount
            for kind, amount in by_kind.items():
                self.metrics.ledger_balance.labels(kind).set(amount)
        now = self.clock()
        grace = timedelta(seconds=self.config.heartbeat_grace_s)
        silent = sum(
            1
            for sid in self.sites
            if sid in self.down or now - self.last_seen.get(sid, now) > grace
        )
        self.metrics.sites_silent.set(silent)
        self._publish_load(now)

    def _publish_load(self, now: datetime) -> None:
        """Per site: units in use and in total, and live attempts, as one new dict that
        readers in other threads (the API) take whole (:attr:`site_load`)."""
        snap = self.snapshot(now)
        used = np.zeros_like(snap.pool_capacity)
        running: dict[str, int] = {}
        for r in self.engine.in_state(*ACTIVE):
            if r.site is None or r.pool is None or r.site not in self.sites:
                continue
            g = self._pool_index(snap, r.site, r.pool)
            used[g] += task_units(self.specs[r.id], self.sites[r.site].pools[r.pool], self.table)
            running[r.site] = running.get(r.site, 0) + 1
        out: dict[str, SiteLoad] = {}
        for i, sid in enumerate(snap.site_ids):
            pools = snap.pools_of(i)
            out[sid] = SiteLoad(
                used_units=float(used[pools].sum()),
                capacity_units=float(snap.pool_capacity[pools].sum()),
                running=running.get(sid, 0),
            )
        self.site_load = out


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
