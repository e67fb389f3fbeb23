"""The task lifecycle engine: ``handle(*events) -> instructions``, pure and replayable.

The engine holds one :class:`TaskRecord` per task and moves it by the transition table in
:mod:`.states`. It does no I/O: the runtime feeds it events (submissions, placements, backend
reports, timers) and carries out the instructions it returns. Every event it is given is kept
in the task's story with what it did, so that :meth:`Engine.replay` of the same events builds
the same state and the same instructions (the store keeps the events; a restart replays them).

Rules beyond the table:

* a stimulus id is taken once; a second event with it is a duplicate and changes nothing;
* events about an attempt (:data:`~.states.ATTEMPT_EVENTS`) that name another attempt than
  the task's current one are stale and ignored: a lost attempt is fenced, so work is never
  counted in two places;
* a lost attempt counts against ``max_attempts`` (or the ``attempts_allowed`` the event
  carries, which wins, so that replaying a log under another setting decides the same way):
  when they are used up the task fails instead of being queued again;
* the dispatch key ``<namespace>.<task>.<attempt>`` and the lease id ``<task>.<attempt>`` are
  functions of the task and attempt, so carrying out an instruction twice is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pydantic import AwareDatetime

from suanwang.core.base import Frozen
from suanwang.core.engine.events import (
    CloseLease,
    Dispatch,
    Event,
    Instruction,
    MeterStart,
    OpenLease,
    Stop,
    TaskId,
)
from suanwang.core.engine.states import (
    ATTEMPT_EVENTS,
    CLOSE_REASONS,
    TRANSITIONS,
    EventKind,
    TaskState,
)
from suanwang.core.errors import SuanwangError, UnknownIdError


class StoryLine(Frozen):
    """One event in a task's story and what the engine made of it."""

    stimulus_id: str
    kind: EventKind
    at: AwareDatetime
    attempt: int | None
    before: TaskState | None
    after: TaskState | None
    accepted: bool
    note: str = ""
    ops: tuple[str, ...] = ()


@dataclass
class TaskRecord:
    """What the engine knows of one task."""

    id: TaskId
    state: TaskState
    attempt: int = 1
    site: str | None = None
    pool: int | None = None
    checkpoint: str | None = None
    reason: str = ""
    exit_code: int | None = None
    lost: int = 0
    story: list[StoryLine] = field(default_factory=list)

    @property
    def lease(self) -> str:
        return lease_id(self.id, self.attempt)


def lease_id(task: TaskId, attempt: int) -> str:
    """The lease of a task's attempt."""
    return f"{task}.{attempt}"


def dispatch_key(namespace: str, task: TaskId, attempt: int) -> str:
    """The idempotent dispatch key of a task's attempt."""
    return f"{namespace}.{task}.{attempt}"


class Engine:
    """The lifecycle state of every task (see the module docstring)."""

    def __init__(self, namespace: str = "sw", *, max_attempts: int = 5) -> None:
        if max_attempts < 1:
            raise SuanwangError("max_attempts must be at least 1")
        self.namespace = namespace
        self.max_attempts = max_attempts
        self.tasks: dict[TaskId, TaskRecord] = {}
        self._seen: set[str] = set()
        self.events_handled = 0

    # --- reading --------------------------------------------------------------------------
    def task(self, task: TaskId) -> TaskRecord:
        try:
            return self.tasks[task]
        except KeyError:
            raise UnknownIdError("task", task, self.tasks) from None

    def story(self, task: TaskId) -> list[StoryLine]:
        """Every event the task was given, in order, with what it did."""
        return list(self.task(task).story)

    def in_state(self, *states: TaskState) -> Iterator[TaskRecord]:
        wanted = set(states)
        return (r for r in self.tasks.values() if r.state in wanted)

    def counts(self) -> dict[TaskState, int]:
        out = dict.fromkeys(TaskState, 0)
        for r in self.tasks.values():
            out[r.state] += 1
        return out

    def key(self, task: TaskId, attempt: int) -> str:
        return dispatch_key(self.namespace, task, attempt)

    # --- writing --------------------------------------------------------------------------
    def handle(self, *events: Event) -> list[Instruction]:
        """Apply ``events`` in order; return the instructions they call for, in order."""
        out: list[Instruction] = []
        for event in events:
            out.extend(self._one(event))
        return out

    @classmethod
    def replay(
        cls, events: Iterable[Event], namespace: str = "sw", *, max_attempts: int = 5
    ) -> Engine:
        """A new engine that has handled ``events`` (the instructions are dropped)."""
        engine = cls(namespace, max_attempts=max_attempts)
        for event in events:
            engine.handle(event)
        return engine

    def _one(self, ev: Event) -> list[Instruction]:
        self.events_handled += 1
        if ev.stimulus_id in self._seen:
            rec = self.tasks.get(ev.task)
            if rec is not None:
                self._log(rec, ev, rec.state, rec.state, False, "duplicate stimulus")
            return []
        self._seen.add(ev.stimulus_id)
        rec = self.tasks.get(ev.task)
        before = rec.state if rec is not None else None
        if rec is None and ev.kind is not EventKind.SUBMIT:
            return []  # nothing to tell a story about: an event for a task never submitted
        if ev.kind in ATTEMPT_EVENTS and rec is not None and ev.attempt != rec.attempt:
            self._log(rec, ev, before, before, False, f"stale: attempt is {rec.attempt}")
            return []
        if ev.kind is EventKind.PLACE and (ev.site is None or ev.pool is None):
            assert rec is not None
            self._log(rec, ev, before, before, False, "a placement must name a site and a pool")
            return []
        row = TRANSITIONS.get((before, ev.kind))
        if row is None:
            assert rec is not None
            self._log(rec, ev, before, before, False, f"no transition from {before}")
            return []
        if rec is None:
            rec = TaskRecord(id=ev.task, state=row.to)
            self.tasks[ev.task] = rec
        ops: list[Instruction] = []
        to = row.to
        note = ev.reason
        for effect in row.effects:
            ops.extend(self._effect(rec, ev, effect))
        if ev.kind is EventKind.LOST:
            rec.lost += 1
            if rec.lost >= (ev.attempts_allowed or self.max_attempts):
                to = TaskState.FAILED
                note = f"{ev.lost or 'lost'}: gave up after {rec.lost} lost attempts"
        if ev.kind is EventKind.PLACE:
            rec.site, rec.pool = ev.site, ev.pool
        if ev.kind in (EventKind.FAILED, EventKind.REJECT, EventKind.SUCCEEDED):
            rec.reason, rec.exit_code = ev.reason, ev.exit_code
        if ev.kind is EventKind.LOST and to is TaskState.FAILED:
            rec.reason = note
        rec.state = to
        self._log(rec, ev, before, to, True, note, ops)
        return ops

    def _effect(self, rec: TaskRecord, ev: Event, effect: str) -> list[Instruction]:
        if effect == "open_lease":
            assert ev.site is not None
            assert ev.pool is not None
            return [
                OpenLease(
                    task=rec.id,
                    attempt=rec.attempt,
                    lease=rec.lease,
                    site=ev.site,
                    pool=ev.pool,
                    at=ev.at,
                )
            ]
        if effect == "dispatch":
            assert ev.site is not None
            assert ev.pool is not None
            return [
                Dispatch(
                    task=rec.id,
                    attempt=rec.attempt,
                    key=self.key(rec.id, rec.attempt),
                    site=ev.site,
                    pool=ev.pool,
                    resume_from=rec.checkpoint,
                )
            ]
        if effect == "meter_start":
            return [MeterStart(task=rec.id, attempt=rec.attempt, lease=rec.lease, at=ev.at)]
        if effect == "stop":
            assert rec.site is not None
            return [
                Stop(
                    task=rec.id,
                    attempt=rec.attempt,
                    key=self.key(rec.id, rec.attempt),
                    site=rec.site,
                )
            ]
        if effect in CLOSE_REASONS:
            return [
                CloseLease(
                    task=rec.id,
                    attempt=rec.attempt,
                    lease=rec.lease,
                    reason=CLOSE_REASONS[effect],
                    at=ev.at,
                )
            ]
        if effect == "checkpoint":
            if ev.checkpoint:
                rec.checkpoint = ev.checkpoint
            return []
        if effect == "next_attempt":
            rec.attempt += 1
            rec.site = rec.pool = None
            return []
        raise SuanwangError(f"unknown effect {effect!r} in the transition table")

    def _log(
        self,
        rec: TaskRecord,
        ev: Event,
        before: TaskState | None,
        after: TaskState | None,
        accepted: bool,
        note: str,
        ops: list[Instruction] | None = None,
    ) -> None:
        rec.story.append(
            StoryLine(
                stimulus_id=ev.stimulus_id,
                kind=ev.kind,
                at=ev.at,
                attempt=ev.attempt,
                before=before,
                after=after,
                accepted=accepted,
                note=note,
                ops=tuple(op.op for op in ops or ()),
            )
        )
