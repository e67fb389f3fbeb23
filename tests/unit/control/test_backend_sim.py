"""The simulated backend: time decides a job's state, and all of it lives on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from suanwang.control.backends.base import Backend, BackendError, JobSpec, JobState
from suanwang.control.backends.sim import SimBackend

SITES = ("hub", "west")


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make(workdir: Path, clock: FakeClock, *, start_delay_s: float = 0.0) -> SimBackend:
    return SimBackend("sim", "ns", SITES, workdir=workdir, clock=clock, start_delay_s=start_delay_s)


def job(task: str, *, site: str = "hub", seconds: float = 10.0, attempt: int = 1) -> JobSpec:
    return JobSpec(
        key=f"ns.{task}.{attempt}", task=task, attempt=attempt, site=site, sim_seconds=seconds
    )


def state(backend: SimBackend, key: str) -> JobState:
    return backend.poll().jobs[key].state


def test_it_is_a_backend_that_declares_simulation(tmp_path: Path, clock: FakeClock) -> None:
    backend = make(tmp_path, clock)
    assert isinstance(backend, Backend)
    caps = backend.capabilities
    assert (caps.kind, caps.executes, caps.resource_limits) == ("sim", False, False)
    assert caps.checkpoint_dir
    assert caps.survives_control_plane
    assert caps.time_scale == 3600.0


def test_a_job_is_pending_then_running_then_succeeded_by_the_clock(
    tmp_path: Path, clock: FakeClock
) -> None:
    backend = make(tmp_path, clock, start_delay_s=2.0)
    backend.submit(job("a", seconds=10.0))
    assert state(backend, "ns.a.1") is JobState.PENDING
    clock.advance(2.0)
    assert state(backend, "ns.a.1") is JobState.RUNNING
    clock.advance(9.999)
    assert state(backend, "ns.a.1") is JobState.RUNNING
    clock.advance(0.001)
    status = backend.poll().jobs["ns.a.1"]
    assert status.state is JobState.SUCCEEDED
    assert status.exit_code == 0


def test_a_job_of_no_length_succeeds_at_once(tmp_path: Path, clock: FakeClock) -> None:
    backend = make(tmp_path, clock)
    backend.submit(job("a", seconds=0.0))
    assert state(backend, "ns.a.1") is JobState.SUCCEEDED


def test_submitting_the_same_key_twice_records_one_job(tmp_path: Path, clock: FakeClock) -> None:
    backend = make(tmp_path, clock)
    first = backend.submit(job("a", seconds=10.0))
    clock.advance(5.0)
    second = backend.submit(job("a", seconds=100.0))
    assert first == second
    clock.advance(5.0)  # the first submission's clock and length hold
    assert state(backend, "ns.a.1") is JobState.SUCCEEDED
    assert [p.name for p in tmp_path.iterdir()] == ["ns.a.1.json"]


def test_poll_reports_only_this_namespace(tmp_path: Path, clock: FakeClock) -> None:
    ours = make(tmp_path, clock)
    theirs = SimBackend("other", "other", SITES, workdir=tmp_path, clock=clock)
    ours.submit(job("a"))
    theirs.submit(JobSpec(key="other.b.1", task="b", attempt=1, site="hub", sim_seconds=1))
    assert set(ours.poll().jobs) == {"ns.a.1"}
    assert set(theirs.poll().jobs) == {"other.b.1"}


def test_a_key_outside_the_namespace_or_an_unknown_site_is_refused(
    tmp_path: Path, clock: FakeClock
) -> None:
    backend = make(tmp_path, clock)
    with pytest.raises(ValueError, match="namespace"):
        backend.submit(JobSpec(key="elsewhere.a.1", task="a", attempt=1, site="hub"))
    with pytest.raises(BackendError, match="mars"):
        backend.submit(job("a", site="mars"))
    assert backend.poll().jobs == {}


def test_cancel_stops_an_unfinished_job_and_leaves_a_finished_one(
    tmp_path: Path, clock: FakeClock
) -> None:
    backend = make(tmp_path, clock)
    backend.submit(job("a", seconds=10.0))
    backend.submit(job("b", seconds=1.0))
    clock.advance(4.0)
    backend.cancel("ns.a.1")
    backend.cancel("ns.b.1")  # finished already: nothing changes
    backend.cancel("ns.a.1")  # twice is fine
    backend.cancel("ns.unknown.1")
    backend.cancel("not-even-ours")
    clock.advance(100.0)
    jobs = backend.poll().jobs
    assert jobs["ns.a.1"].state is JobState.CANCELLED
    assert jobs["ns.a.1"].checkpoint == "done_s=4.000"
    assert jobs["ns.b.1"].state is JobState.SUCCEEDED


def test_a_pending_job_can_be_cancelled(tmp_path: Path, clock: FakeClock) -> None:
    backend = make(tmp_path, clock, start_delay_s=5.0)
    backend.submit(job("a"))
    backend.cancel("ns.a.1")
    status = backend.poll().jobs["ns.a.1"]
    assert status.state is JobState.CANCELLED
    assert status.checkpoint is None


def test_checkpoint_reports_the_simulated_work_done_so_far(
    tmp_path: Path, clock: FakeClock
) -> None:
    backend = make(tmp_path, clock, start_delay_s=1.0)
    backend.submit(job("a", seconds=3.0))
    assert backend.poll().jobs["ns.a.1"].checkpoint is None
    clock.advance(1.0 + 1.2344)
    assert backend.poll().jobs["ns.a.1"].checkpoint == "done_s=1.234"
    clock.advance(60.0)
    assert backend.poll().jobs["ns.a.1"].checkpoint == "done_s=3.000"


def test_silence_hides_the_site_and_its_jobs_until_the_time_passes(
    tmp_path: Path, clock: FakeClock
) -> None:
    backend = make(tmp_path, clock)
    backend.submit(job("a", site="west", seconds=5.0))
    backend.submit(job("b", site="hub", seconds=5.0))
    backend.silence("west", until=clock.now + 10.0)

    look = backend.poll()
    assert look.sites_alive == {"hub"}
    assert set(look.jobs) == {"ns.b.1"}
    with pytest.raises(BackendError, match="does not answer"):
        backend.submit(job("c", site="west"))

    clock.advance(9.9)
    assert "west" not in backend.poll().sites_alive
    clock.advance(0.1)
    look = backend.poll()
    assert look.sites_alive == set(SITES)
    # The job kept its clock while the site was silent.
    assert look.jobs["ns.a.1"].state is JobState.SUCCEEDED


def test_fail_site_fails_unfinished_jobs_only(tmp_path: Path, clock: FakeClock) -> None:
    backend = make(tmp_path, clock)
    backend.submit(job("done", site="west", seconds=1.0))
    backend.submit(job("busy", site="west", seconds=10.0))
    backend.submit(job("other", site="hub", seconds=10.0))
    clock.advance(2.0)
    backend.fail_site("west")

    jobs = backend.poll().jobs
    assert jobs["ns.done.1"].state is JobState.SUCCEEDED
    assert jobs["ns.busy.1"].state is JobState.FAILED
    assert jobs["ns.busy.1"].message == "site failed"
    assert jobs["ns.busy.1"].lost  # the site's fault, not the job's: the runtime moves it
    assert not jobs["ns.done.1"].lost
    assert jobs["ns.busy.1"].checkpoint == "done_s=2.000"
    assert jobs["ns.other.1"].state is JobState.RUNNING
    assert backend.poll().sites_alive == set(SITES)  # a failed site still answers


def test_a_failed_site_fails_new_jobs_until_restored(tmp_path: Path, clock: FakeClock) -> None:
    backend = make(tmp_path, clock)
    backend.submit(job("before", site="west"))
    backend.fail_site("west")
    backend.submit(job("during", site="west", seconds=0.0))
    assert state(backend, "ns.during.1") is JobState.FAILED

    backend.restore_site("west")
    backend.submit(job("after", site="west", seconds=1.0))
    clock.advance(1.0)
    jobs = backend.poll().jobs
    assert jobs["ns.after.1"].state is JobState.SUCCEEDED
    assert jobs["ns.before.1"].state is JobState.FAILED  # restoring does not resurrect


def test_restore_site_ends_a_silence(tmp_path: Path, clock: FakeClock) -> None:
    backend = make(tmp_path, clock)
    backend.silence("west", until=clock.now + 1e6)
    backend.restore_site("west")
    assert backend.poll().sites_alive == set(SITES)


def test_failure_injection_is_for_served_sites_only(tmp_path: Path, clock: FakeClock) -> None:
    backend = make(tmp_path, clock)
    with pytest.raises(ValueError, match="mars"):
        backend.silence("mars", until=clock.now + 1)
    with pytest.raises(ValueError, match="mars"):
        backend.fail_site("mars")


def test_a_new_backend_object_over_the_same_workdir_sees_all_state(
    tmp_path: Path, clock: FakeClock
) -> None:
    first = make(tmp_path, clock, start_delay_s=1.0)
    first.submit(job("run", site="hub", seconds=10.0))
    first.submit(job("stop", site="hub", seconds=10.0))
    first.submit(job("west", site="west", seconds=10.0))
    clock.advance(3.0)
    first.cancel("ns.stop.1")
    first.silence("west", until=clock.now + 5.0)
    first.close()

    second = make(tmp_path, clock)  # a different start delay does not rewrite old jobs
    look = second.poll()
    assert look.sites_alive == {"hub"}
    assert look.jobs["ns.run.1"].state is JobState.RUNNING
    assert look.jobs["ns.run.1"].checkpoint == "done_s=2.000"
    assert look.jobs["ns.stop.1"].state is JobState.CANCELLED
    assert "ns.west.1" not in look.jobs
    assert second.submit(job("run", seconds=1.0)) == str(tmp_path / "ns.run.1.json")

    second.fail_site("hub")
    third = make(tmp_path, clock)
    assert third.poll().jobs["ns.run.1"].state is JobState.FAILED
