"""The lifecycle engine, specified by events in and instructions out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanwang.core.engine import (
    TRANSITIONS,
    CloseLease,
    Dispatch,
    Engine,
    Event,
    EventKind,
    LostReason,
    MeterStart,
    OpenLease,
    Stop,
    TaskState,
)
from suanwang.core.market.leases import CloseReason

T0 = datetime(2026, 12, 1, tzinfo=UTC)
_ids = count()


def ev(kind: EventKind, task: str = "t1", attempt: int | None = None, **kw: object) -> Event:
    n = next(_ids)
    return Event(
        stimulus_id=f"s{n}",
        kind=kind,
        task=task,
        at=T0 + timedelta(seconds=n),
        attempt=attempt,
        **kw,  # type: ignore[arg-type]
    )


def placed(engine: Engine, task: str = "t1", site: str = "cn-a", pool: int = 0) -> None:
    engine.handle(ev(EventKind.SUBMIT, task), ev(EventKind.ADMIT, task))
    engine.handle(ev(EventKind.PLACE, task, site=site, pool=pool))


def ops(instructions: list[object]) -> list[str]:
    return [i.op for i in instructions]  # type: ignore[attr-defined]


def test_the_happy_path_opens_a_lease_dispatches_meters_and_closes_completed() -> None:
    e = Engine("ns")
    assert e.handle(ev(EventKind.SUBMIT)) == []
    assert e.task("t1").state is TaskState.SUBMITTED
    e.handle(ev(EventKind.ADMIT))
    out = e.handle(ev(EventKind.PLACE, site="cn-a", pool=2))
    assert [type(i) for i in out] == [OpenLease, Dispatch]
    assert isinstance(out[1], Dispatch)
    assert (out[1].key, out[1].site, out[1].pool) == ("ns.t1.1", "cn-a", 2)
    assert e.handle(ev(EventKind.DISPATCHED, attempt=1)) == []
    out = e.handle(ev(EventKind.STARTED, attempt=1))
    assert [type(i) for i in out] == [MeterStart]
    out = e.handle(ev(EventKind.SUCCEEDED, attempt=1, exit_code=0))
    assert isinstance(out[0], CloseLease)
    assert out[0].reason is CloseReason.COMPLETED
    assert out[0].lease == "t1.1"
    assert e.task("t1").state is TaskState.SUCCEEDED


@pytest.mark.parametrize(
    ("state_events", "kind", "expected_state", "expected_ops"),
    [
        ([], EventKind.CANCEL, TaskState.CANCELLED, []),
        ([EventKind.ADMIT], EventKind.CANCEL, TaskState.CANCELLED, []),
        ([EventKind.ADMIT], EventKind.REJECT, TaskState.QUEUED, []),
        ([], EventKind.REJECT, TaskState.FAILED, []),
        ([], EventKind.PLACE, TaskState.SUBMITTED, []),
    ],
)
def test_before_placement(
    state_events: list[EventKind],
    kind: EventKind,
    expected_state: TaskState,
    expected_ops: list[str],
) -> None:
    e = Engine()
    e.handle(ev(EventKind.SUBMIT), *[ev(k) for k in state_events])
    out = e.handle(ev(kind, site="x", pool=0))
    assert e.task("t1").state is expected_state
    assert ops(out) == expected_ops


@pytest.mark.parametrize(
    ("kind", "expected_state", "expected_ops", "reason"),
    [
        (EventKind.SUCCEEDED, TaskState.SUCCEEDED, ["close_lease"], CloseReason.COMPLETED),
        (EventKind.FAILED, TaskState.FAILED, ["close_lease"], CloseReason.COMPLETED),
        (EventKind.LOST, TaskState.RESCHEDULING, ["stop", "close_lease"], CloseReason.RESCHEDULED),
        (EventKind.CANCEL, TaskState.CANCELLED, ["stop", "close_lease"], CloseReason.CANCELLED),
    ],
)
@pytest.mark.parametrize("phase", ["placed", "dispatched", "running"])
def test_an_active_attempt_ends_with_a_typed_lease_close(
    phase: str,
    kind: EventKind,
    expected_state: TaskState,
    expected_ops: list[str],
    reason: CloseReason,
) -> None:
    e = Engine()
    placed(e)
    if phase in ("dispatched", "running"):
        e.handle(ev(EventKind.DISPATCHED, attempt=1))
    if phase == "running":
        e.handle(ev(EventKind.STARTED, attempt=1))
    assert e.task("t1").state is TaskState(phase)
    out = e.handle(ev(kind, attempt=None if kind is EventKind.CANCEL else 1))
    assert e.task("t1").state is expected_state
    assert ops(out) == expected_ops
    close = out[-1]
    assert isinstance(close, CloseLease)
    assert close.reason is reason


def test_a_lost_attempt_is_fenced_and_the_next_attempt_resumes_from_its_checkpoint() -> None:
    e = Engine("ns")
    placed(e, site="cn-a")
    e.handle(ev(EventKind.STARTED, attempt=1))
    e.handle(ev(EventKind.CHECKPOINT, attempt=1, checkpoint="step=40"))
    out = e.handle(ev(EventKind.LOST, attempt=1, lost=LostReason.HEARTBEAT))
    stop = out[0]
    assert isinstance(stop, Stop)
    assert (stop.key, stop.site) == ("ns.t1.1", "cn-a")
    # the old attempt keeps talking: it is fenced
    assert e.handle(ev(EventKind.SUCCEEDED, attempt=1)) == []
    assert e.task("t1").state is TaskState.RESCHEDULING
    e.handle(ev(EventKind.STOPPED, attempt=1))
    rec = e.task("t1")
    assert (rec.state, rec.attempt, rec.site) == (TaskState.QUEUED, 2, None)
    out = e.handle(ev(EventKind.PLACE, site="de-b", pool=0))
    dispatch = out[1]
    assert isinstance(dispatch, Dispatch)
    assert (dispatch.key, dispatch.resume_from, dispatch.site) == ("ns.t1.2", "step=40", "de-b")
    assert out[0].lease == "t1.2"  # type: ignore[union-attr]
    # reports about attempt 1 after attempt 2 started are stale
    assert e.handle(ev(EventKind.FAILED, attempt=1)) == []
    assert e.task("t1").state is TaskState.PLACED
    assert e.task("t1").story[-1].note == "stale: attempt is 2"


def test_a_task_that_keeps_losing_its_site_fails_after_max_attempts() -> None:
    e = Engine(max_attempts=2)
    placed(e)
    e.handle(ev(EventKind.LOST, attempt=1, lost=LostReason.SITE_DOWN))
    e.handle(ev(EventKind.STOPPED, attempt=1))
    e.handle(ev(EventKind.PLACE, site="b", pool=0))
    out = e.handle(ev(EventKind.LOST, attempt=2, lost=LostReason.PATH_CUT))
    rec = e.task("t1")
    assert rec.state is TaskState.FAILED
    assert "gave up after 2 lost attempts" in rec.reason
    assert ops(out) == ["stop", "close_lease"]


def test_a_duplicate_stimulus_changes_nothing() -> None:
    e = Engine()
    placed(e)
    start = ev(EventKind.STARTED, attempt=1)
    assert ops(e.handle(start)) == ["meter_start"]
    assert e.handle(start) == []
    assert e.task("t1").story[-1].note == "duplicate stimulus"


@pytest.mark.parametrize("final", [EventKind.SUCCEEDED, EventKind.FAILED])
def test_final_states_take_no_more_events(final: EventKind) -> None:
    e = Engine()
    placed(e)
    e.handle(ev(final, attempt=1))
    before = e.task("t1").state
    for kind in EventKind:
        assert e.handle(ev(kind, attempt=1, site="x", pool=0)) == []
    assert e.task("t1").state is before


def test_events_for_unknown_tasks_are_dropped() -> None:
    e = Engine()
    assert e.handle(ev(EventKind.STARTED, "ghost", attempt=1)) == []
    assert "ghost" not in e.tasks


def test_the_table_never_leaves_a_final_state() -> None:
    for (state, _), row in TRANSITIONS.items():
        assert state is None or not state.terminal, (state, row)


def test_every_non_final_state_can_be_cancelled() -> None:
    for state in TaskState:
        if not state.terminal:
            assert (state, EventKind.CANCEL) in TRANSITIONS, state


# --- replay: the story is enough to rebuild everything -----------------------------------------
_kinds = st.sampled_from(list(EventKind))


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    tasks = [f"t{i}" for i in range(draw(st.integers(1, 4)))]
    out: list[Event] = [
        Event(stimulus_id=f"sub-{t}", kind=EventKind.SUBMIT, task=t, at=T0) for t in tasks
    ]
    for i in range(draw(st.integers(0, 60))):
        kind = draw(_kinds)
        dup = draw(st.booleans()) and out and draw(st.integers(0, 9)) == 0
        if dup:
            out.append(out[draw(st.integers(0, len(out) - 1))])
            continue
        out.append(
            Event(
                stimulus_id=f"e{i}",
                kind=kind,
                task=draw(st.sampled_from(tasks)),
                at=T0 + timedelta(seconds=i),
                attempt=draw(st.integers(1, 3)),
                site=draw(st.sampled_from(["a", "b"])),
                pool=0,
                lost=LostReason.HEARTBEAT,
            )
        )
    return out


@settings(max_examples=150, deadline=None)
@given(histories())
def test_replaying_the_events_rebuilds_the_same_state_and_instructions(events: list[Event]) -> None:
    live = Engine("ns", max_attempts=3)
    said = [live.handle(e) for e in events]
    again = Engine("ns", max_attempts=3)
    assert [again.handle(e) for e in events] == said
    assert {k: (r.state, r.attempt, r.site, r.checkpoint) for k, r in live.tasks.items()} == {
        k: (r.state, r.attempt, r.site, r.checkpoint) for k, r in again.tasks.items()
    }
    assert Engine.replay(events, "ns", max_attempts=3).counts() == live.counts()


@settings(max_examples=150, deadline=None)
@given(histories())
def test_leases_open_and_close_in_pairs_and_one_attempt_runs_at_a_time(events: list[Event]) -> None:
    e = Engine("ns", max_attempts=3)
    open_leases: set[str] = set()
    live_keys: dict[str, str] = {}
    for event in events:
        for op in e.handle(event):
            if isinstance(op, OpenLease):
                assert op.lease not in open_leases
                open_leases.add(op.lease)
            elif isinstance(op, CloseLease):
                open_leases.remove(op.lease)
            elif isinstance(op, Dispatch):
                assert op.task not in live_keys, "a second attempt while one is live"
                live_keys[op.task] = op.key
            elif isinstance(op, Stop):
                assert live_keys.pop(op.task) == op.key
        for task, rec in e.tasks.items():
            if rec.state.terminal or rec.state is TaskState.QUEUED:
                assert not any(lease.startswith(f"{task}.") for lease in open_leases)
            if rec.state is TaskState.SUCCEEDED or rec.state is TaskState.FAILED:
                live_keys.pop(task, None)  # finished by itself: nothing to stop
    # every open lease belongs to an active task
    for lease in open_leases:
        task = lease.rsplit(".", 1)[0]
        assert e.tasks[task].state.active


def test_the_policy_a_lost_event_carries_wins_over_the_engines_setting() -> None:
    events = [
        ev(EventKind.SUBMIT),
        ev(EventKind.ADMIT),
        ev(EventKind.PLACE, site="a", pool=0),
        ev(EventKind.LOST, attempt=1, lost=LostReason.SITE_DOWN, attempts_allowed=3),
    ]
    strict = Engine.replay(events, max_attempts=1)  # replayed under a stricter setting
    assert strict.task("t1").state is TaskState.RESCHEDULING
    plain = Engine(max_attempts=1)
    plain.handle(*events[:3])
    plain.handle(ev(EventKind.LOST, attempt=1, lost=LostReason.SITE_DOWN))
    assert plain.task("t1").state is TaskState.FAILED
