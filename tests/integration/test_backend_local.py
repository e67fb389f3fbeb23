"""The local backend runs real subprocesses that outlive the process that submitted them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from suanwang.control.backends.base import Backend, JobSpec, JobState, JobStatus
from suanwang.control.backends.local import LocalBackend

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux /proc")

SITE = "local-1"


def make(workdir: Path) -> LocalBackend:
    return LocalBackend("local", "ns", [SITE], workdir=workdir)


def spec(task: str, *command: str, **fields: object) -> JobSpec:
    return JobSpec.model_validate(
        {"key": f"ns.{task}.1", "task": task, "attempt": 1, "site": SITE, "command": command}
        | fields
    )


def wait_for(
    backend: LocalBackend,
    key: str,
    done: Callable[[JobStatus], bool] = lambda status: status.state.finished,
    timeout: float = 10.0,
) -> JobStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = backend.poll().jobs.get(key)
        if status is not None and done(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"{key} did not get there in {timeout}s: {status}")
        time.sleep(0.05)


def live_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are not zombies."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


def test_it_is_a_backend_that_declares_real_limited_execution(tmp_path: Path) -> None:
    backend = make(tmp_path)
    assert isinstance(backend, Backend)
    caps = backend.capabilities
    assert (caps.kind, caps.executes, caps.resource_limits) == ("local", True, True)
    assert caps.checkpoint_dir
    assert caps.survives_control_plane
    assert backend.poll().sites_alive == {SITE}


def test_a_job_succeeds_and_its_output_is_captured(tmp_path: Path) -> None:
    backend = make(tmp_path)
    handle = backend.submit(spec("hello", "sh", "-c", "echo out; echo err >&2"))
    status = wait_for(backend, "ns.hello.1")
    assert (status.state, status.exit_code, status.message) == (JobState.SUCCEEDED, 0, "")
    jobdir = Path(handle)
    assert (jobdir / "stdout").read_text() == "out\n"
    assert (jobdir / "stderr").read_text() == "err\n"
    assert json.loads((jobdir / "exit.json").read_text())["outcome"] == "succeeded"


def test_an_empty_command_succeeds_at_once(tmp_path: Path) -> None:
    backend = make(tmp_path)
    backend.submit(spec("nothing"))
    assert wait_for(backend, "ns.nothing.1").state is JobState.SUCCEEDED


def test_a_failing_job_reports_its_exit_code(tmp_path: Path) -> None:
    backend = make(tmp_path)
    backend.submit(spec("bad", "sh", "-c", "exit 3"))
    backend.submit(spec("missing", "/no/such/program"))
    status = wait_for(backend, "ns.bad.1")
    assert (status.state, status.exit_code, status.message) == (JobState.FAILED, 3, "exit 3")
    missing = wait_for(backend, "ns.missing.1")
    assert (missing.state, missing.exit_code) == (JobState.FAILED, 127)
    assert "not found" in missing.message


def test_the_memory_limit_is_enforced(tmp_path: Path) -> None:
    backend = make(tmp_path)
    grab = "b = bytearray(400 * 1024 * 1024); print('allocated')"
    backend.submit(spec("greedy", sys.executable, "-c", grab, memory_mb=200))
    backend.submit(spec("modest", sys.executable, "-c", grab, memory_mb=1000))
    greedy = wait_for(backend, "ns.greedy.1")
    assert (greedy.state, greedy.message) == (JobState.FAILED, "memory limit")
    assert greedy.exit_code == 1
    assert wait_for(backend, "ns.modest.1").state is JobState.SUCCEEDED


def test_the_wall_clock_time_limit_is_enforced(tmp_path: Path) -> None:
    backend = make(tmp_path)
    started = time.monotonic()
    handle = backend.submit(spec("slow", "sleep", "30", time_limit_s=1))
    status = wait_for(backend, "ns.slow.1")
    assert (status.state, status.message) == (JobState.FAILED, "time limit")
    assert 1.0 <= time.monotonic() - started < 5.0
    pgid = json.loads((Path(handle) / "job.pid").read_text())["pgid"]
    assert live_members(pgid) == []


def test_submitting_the_same_key_twice_runs_the_job_once(tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    job = spec("once", "sh", "-c", f"echo ran >> {log}")
    backend = make(tmp_path / "work")
    first = backend.submit(job)
    second = backend.submit(job)
    third = make(tmp_path / "work").submit(job)  # a restarted control plane, say
    assert first == second == third
    wait_for(backend, "ns.once.1")
    time.sleep(0.2)
    assert log.read_text() == "ran\n"


def test_a_new_backend_object_sees_running_and_finished_jobs(tmp_path: Path) -> None:
    first = make(tmp_path)
    first.submit(spec("quick", "true"))
    first.submit(spec("long", "sleep", "30"))
    wait_for(first, "ns.quick.1")
    wait_for(first, "ns.long.1", lambda status: status.state is JobState.RUNNING)
    first.close()

    second = make(tmp_path)
    jobs = second.poll().jobs
    assert jobs["ns.quick.1"].state is JobState.SUCCEEDED
    assert jobs["ns.long.1"].state is JobState.RUNNING
    other = LocalBackend("other", "other", [SITE], workdir=tmp_path)
    assert other.poll().jobs == {}
    second.cancel("ns.long.1")
    assert wait_for(second, "ns.long.1").state is JobState.CANCELLED


def test_a_job_survives_a_sigkill_of_the_process_that_submitted_it(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from suanwang.control.backends.base import JobSpec
        from suanwang.control.backends.local import LocalBackend

        backend = LocalBackend("local", "ns", ["{SITE}"], workdir=Path({str(tmp_path)!r}))
        backend.submit(JobSpec(key="ns.orphan.1", task="orphan", attempt=1, site="{SITE}",
                               command=("sh", "-c", "sleep 2; echo done")))
        print("submitted", flush=True)
        time.sleep(60)
        """
    )
    control_plane = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    )
    try:
        assert control_plane.stdout is not None
        assert control_plane.stdout.readline().strip() == "submitted"
    finally:
        control_plane.send_signal(signal.SIGKILL)
        control_plane.wait()

    fresh = make(tmp_path)
    assert fresh.poll().jobs["ns.orphan.1"].state in (JobState.PENDING, JobState.RUNNING)
    assert wait_for(fresh, "ns.orphan.1").state is JobState.SUCCEEDED
    assert (tmp_path / "ns.orphan.1" / "stdout").read_text() == "done\n"


def test_a_job_whose_runner_died_is_failed_and_fenced(tmp_path: Path) -> None:
    backend = make(tmp_path)
    handle = Path(backend.submit(spec("fenced", "sleep", "30")))
    wait_for(backend, "ns.fenced.1", lambda status: status.state is JobState.RUNNING)
    runner = json.loads((handle / "pid").read_text())["pid"]
    pgid = json.loads((handle / "job.pid").read_text())["pgid"]
    os.kill(runner, signal.SIGKILL)

    status = wait_for(backend, "ns.fenced.1")
    assert (status.state, status.message) == (JobState.FAILED, "runner died")
    deadline = time.monotonic() + 5
    while live_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_members(pgid) == []


def test_cancel_stops_the_job_and_its_whole_process_group(tmp_path: Path) -> None:
    backend = make(tmp_path)
    handle = Path(backend.submit(spec("victim", "sh", "-c", "sleep 30 & sleep 30; wait")))
    wait_for(backend, "ns.victim.1", lambda status: status.state is JobState.RUNNING)
    pgid = json.loads((handle / "job.pid").read_text())["pgid"]
    assert len(live_members(pgid)) >= 2

    backend.cancel("ns.victim.1")
    status = wait_for(backend, "ns.victim.1", timeout=5.0)
    assert (status.state, status.message) == (JobState.CANCELLED, "cancelled")
    assert live_members(pgid) == []
    backend.cancel("ns.victim.1")  # again, and after the end: nothing happens
    assert backend.poll().jobs["ns.victim.1"].state is JobState.CANCELLED


def test_cancelling_an_unknown_or_foreign_key_is_fine(tmp_path: Path) -> None:
    backend = make(tmp_path)
    backend.cancel("ns.never.1")
    backend.cancel("elsewhere.x.1")
    backend.cancel("..")
    assert backend.poll().jobs == {}


def test_the_job_gets_its_environment_and_reports_its_checkpoint(tmp_path: Path) -> None:
    backend = make(tmp_path / "work")
    checkpoints = tmp_path / "checkpoints" / "train"
    script = (
        'echo "$SUANWANG_TASK $SUANWANG_ATTEMPT $SUANWANG_SITE $COLOR"; '
        'echo "  step-42  " > "$SUANWANG_CHECKPOINT_DIR/CHECKPOINT"; pwd'
    )
    handle = backend.submit(
        spec("train", "sh", "-c", script, env={"COLOR": "blue"}, checkpoint_dir=str(checkpoints))
    )
    status = wait_for(backend, "ns.train.1")
    assert status.state is JobState.SUCCEEDED
    assert status.checkpoint == "step-42"
    lines = (Path(handle) / "stdout").read_text().splitlines()
    assert lines == [f"train 1 {SITE} blue", handle]


def test_finished_runners_are_reaped(tmp_path: Path) -> None:
    backend = make(tmp_path)
    handle = Path(backend.submit(spec("reaped", "true")))
    wait_for(backend, "ns.reaped.1")
    runner = json.loads((handle / "pid").read_text())["pid"]
    deadline = time.monotonic() + 5
    while Path(f"/proc/{runner}").exists() and time.monotonic() < deadline:
        backend.poll()  # reaps the runners this object started
        time.sleep(0.05)
    assert not Path(f"/proc/{runner}").exists()
