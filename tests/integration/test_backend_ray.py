"""The Ray backend against a real, private Ray head started for this module.

The head listens on 127.0.0.1 only, on free ports, with its files in a temporary dir, and
is stopped (with every process it started) when the module ends.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is not installed: pip install 'suanwang[ray]'")

from ray.job_submission import JobSubmissionClient

from suanwang.control.backends.base import (
    Backend,
    BackendError,
    JobSpec,
    JobState,
    JobStatus,
)
from suanwang.control.backends.ray import RayBackend
from suanwang.control.raycluster import (
    MAX_TEMP_DIR_CHARS,
    RayClusterError,
    RayHead,
    _free_ports,
    _members,
    start_local_ray,
)

SITES = ("cn-zhangjiakou", "cn-ulanqab")
WAIT_S = 45.0


def _short_temp_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A temp dir short enough for Ray's Unix sockets (pytest's may be too long)."""
    candidate = tmp_path_factory.mktemp(name)
    if len(str(candidate.resolve())) <= MAX_TEMP_DIR_CHARS:
        return candidate
    return Path(tempfile.mkdtemp(prefix=f"sw{name}-", dir="/tmp"))


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayHead]:
    temp_dir = _short_temp_dir(tmp_path_factory, "ray")
    started = start_local_ray(temp_dir, num_cpus=2, stop_with_parent=True)
    try:
        yield started
    finally:
        started.stop()
    assert not started.alive()
    assert _members(started.pid, started.marker) == []


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def _backend(head: RayHead, namespace: str, workdir: Path) -> RayBackend:
    return RayBackend("ray-test", namespace, SITES, address=head.dashboard_url, workdir=workdir)


def _job(namespace: str, task: str, *command: str, **fields: object) -> JobSpec:
    values: dict[str, object] = {
        "key": f"{namespace}.{task}.1",
        "task": task,
        "attempt": 1,
        "site": SITES[0],
        "command": command,
        "cpus": 0.5,
        "memory_mb": 64,
    }
    values.update(fields)
    return JobSpec.model_validate(values)


def _wait_for(backend: RayBackend, key: str, *states: JobState) -> JobStatus:
    deadline = time.monotonic() + WAIT_S
    last: JobStatus | None = None
    while time.monotonic() < deadline:
        last = backend.poll().jobs.get(key)
        if last is not None and last.state in states:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{key} did not reach {states} within {WAIT_S} s; last seen {last}")


def _logs(head: RayHead, key: str) -> str:
    return str(JobSubmissionClient(head.dashboard_url).get_job_logs(key))


def test_the_ray_backend_is_a_backend_that_executes_and_survives_the_control_plane(
    head: RayHead, workdir: Path
) -> None:
    backend = _backend(head, "caps", workdir)
    assert isinstance(backend, Backend)
    assert backend.capabilities.kind == "ray"
    assert backend.capabilities.executes
    assert backend.capabilities.survives_control_plane
    assert backend.capabilities.checkpoint_dir


def test_a_job_runs_to_succeeded_and_its_output_and_env_reach_the_logs(
    head: RayHead, workdir: Path
) -> None:
    backend = _backend(head, "ok", workdir)
    script = 'echo "task=$SUANWANG_TASK attempt=$SUANWANG_ATTEMPT site=$SUANWANG_SITE"; '
    script += 'echo "greeting=$GREETING"; echo "cwd=$(pwd)"'
    job = _job("ok", "hello", "sh", "-c", script, env={"GREETING": "ni hao"})

    assert backend.submit(job) == job.key
    status = _wait_for(backend, job.key, JobState.SUCCEEDED, JobState.FAILED)

    assert status.state is JobState.SUCCEEDED
    assert status.exit_code == 0
    logs = _logs(head, job.key)
    assert f"task=hello attempt=1 site={SITES[0]}" in logs
    assert "greeting=ni hao" in logs
    assert f"cwd={(workdir / job.key).resolve()}" in logs


def test_an_empty_command_succeeds_at_once(head: RayHead, workdir: Path) -> None:
    backend = _backend(head, "empty", workdir)
    job = _job("empty", "nothing")

    backend.submit(job)

    assert _wait_for(backend, job.key, JobState.SUCCEEDED, JobState.FAILED).exit_code == 0


def test_a_failing_command_is_failed_with_its_exit_code_and_message(
    head: RayHead, workdir: Path
) -> None:
    backend = _backend(head, "bad", workdir)
    job = _job("bad", "boom", "sh", "-c", "echo it broke >&2; exit 3")

    backend.submit(job)
    status = _wait_for(backend, job.key, JobState.SUCCEEDED, JobState.FAILED)

    assert status.state is JobState.FAILED
    assert status.exit_code == 3
    assert "exit code 3" in status.message


def test_a_job_past_its_time_limit_fails_with_exit_code_124(head: RayHead, workdir: Path) -> None:
    backend = _backend(head, "slow", workdir)
    job = _job("slow", "overrun", "sleep", "60", time_limit_s=1)

    backend.submit(job)
    status = _wait_for(backend, job.key, JobState.SUCCEEDED, JobState.FAILED)

    assert status.state is JobState.FAILED
    assert status.exit_code == 124


def test_submitting_the_same_key_twice_starts_one_job(head: RayHead, workdir: Path) -> None:
    backend = _backend(head, "twice", workdir)
    first = _job("twice", "once", "echo", "first submission")
    second = _job("twice", "once", "echo", "second submission")

    assert backend.submit(first) == first.key
    assert backend.submit(second) == first.key
    _wait_for(backend, first.key, JobState.SUCCEEDED)

    listed = JobSubmissionClient(head.dashboard_url).list_jobs()
    assert [job.submission_id for job in listed].count(first.key) == 1
    logs = _logs(head, first.key)
    assert "first submission" in logs
    assert "second submission" not in logs


def test_a_submission_that_loses_the_race_for_its_key_returns_the_existing_job(
    head: RayHead, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = _backend(head, "race", workdir)
    loser = _backend(head, "race", workdir)
    job = _job("race", "contested", "echo", "ran")
    winner.submit(job)
    real_info = loser._info
    answers = iter([None])  # the loser's first look finds nothing: the winner came after
    monkeypatch.setattr(loser, "_info", lambda key: next(answers, real_info(key)))

    assert loser.submit(job) == job.key

    listed = JobSubmissionClient(head.dashboard_url).list_jobs()
    assert [info.submission_id for info in listed].count(job.key) == 1


def test_a_new_backend_object_sees_and_cancels_jobs_of_the_one_before_it(
    head: RayHead, workdir: Path
) -> None:
    before = _backend(head, "restart", workdir)
    job = _job("restart", "long", "sleep", "300")
    before.submit(job)
    _wait_for(before, job.key, JobState.RUNNING)
    before.close()  # the control plane dies; the job does not

    after = _backend(head, "restart", workdir)
    polled = after.poll()

    assert polled.jobs[job.key].state is JobState.RUNNING
    assert polled.sites_alive == frozenset(SITES)
    assert after.submit(job) == job.key  # resubmission after the restart starts nothing
    after.cancel(job.key)
    assert _wait_for(after, job.key, JobState.CANCELLED).state is JobState.CANCELLED


def test_cancelling_a_long_sleep_makes_it_cancelled_and_cancelling_again_is_harmless(
    head: RayHead, workdir: Path
) -> None:
    backend = _backend(head, "cancel", workdir)
    job = _job("cancel", "sleeper", "sleep", "300")
    backend.submit(job)
    _wait_for(backend, job.key, JobState.RUNNING)

    backend.cancel(job.key)
    status = _wait_for(backend, job.key, JobState.CANCELLED, JobState.FAILED, JobState.SUCCEEDED)
    backend.cancel(job.key)

    assert status.state is JobState.CANCELLED
    assert backend.poll().jobs[job.key].state is JobState.CANCELLED


def test_cancelling_an_unknown_key_does_not_raise(head: RayHead, workdir: Path) -> None:
    backend = _backend(head, "ghost", workdir)

    backend.cancel("ghost.never-submitted.1")

    assert "ghost.never-submitted.1" not in backend.poll().jobs


def test_the_checkpoint_a_job_writes_is_reported_even_by_a_new_backend_object(
    head: RayHead, workdir: Path, tmp_path: Path
) -> None:
    backend = _backend(head, "ckpt", workdir)
    checkpoint_dir = tmp_path / "checkpoints" / "train"
    script = 'printf "  step-42\\n\\n" > "$SUANWANG_CHECKPOINT_DIR/CHECKPOINT"'
    job = _job("ckpt", "train", "sh", "-c", script, checkpoint_dir=str(checkpoint_dir))
    long_job = _job(
        "ckpt",
        "long",
        "sh",
        "-c",
        'printf "%0300d" 7 > "$SUANWANG_CHECKPOINT_DIR/CHECKPOINT"',
        checkpoint_dir="checkpoints/long",  # relative: under the backend's workdir
    )

    backend.submit(job)
    backend.submit(long_job)
    assert checkpoint_dir.is_dir()  # made at submission, before the job runs
    assert (workdir / "checkpoints" / "long").is_dir()
    _wait_for(backend, job.key, JobState.SUCCEEDED)
    _wait_for(backend, long_job.key, JobState.SUCCEEDED)
    backend.close()
    jobs = _backend(head, "ckpt", workdir).poll().jobs

    assert jobs[job.key].checkpoint == "step-42"
    assert jobs[long_job.key].checkpoint == "0" * 200  # the first 200 of 300 characters


def test_a_job_larger_than_the_backend_allows_is_refused(head: RayHead, workdir: Path) -> None:
    backend = RayBackend(
        "ray-small", "small", SITES, address=head.dashboard_url, workdir=workdir, max_cpus=1.0
    )
    job = _job("small", "big", "true", cpus=2.0)

    with pytest.raises(BackendError, match=r"asks 2\.0 CPUs"):
        backend.submit(job)

    assert job.key not in backend.poll().jobs


def test_poll_lists_only_the_jobs_of_its_own_namespace(head: RayHead, workdir: Path) -> None:
    mine = _backend(head, "mine", workdir)
    theirs = _backend(head, "mine-not", workdir)
    job = _job("mine-not", "other", "true")
    theirs.submit(job)
    _wait_for(theirs, job.key, JobState.SUCCEEDED)

    assert job.key not in mine.poll().jobs
    with pytest.raises(ValueError, match="outside namespace"):
        mine.submit(job)


def test_a_dead_address_raises_backend_error_on_poll_submit_and_cancel(tmp_path: Path) -> None:
    (port,) = _free_ports(1)
    backend = RayBackend(
        "ray-dead", "dead", SITES, address=f"http://127.0.0.1:{port}", workdir=tmp_path
    )

    with pytest.raises(BackendError, match="Ray Job API"):
        backend.poll()
    with pytest.raises(BackendError):
        backend.submit(_job("dead", "nothing"))
    with pytest.raises(BackendError):
        backend.cancel("dead.nothing.1")


def test_without_ray_the_backend_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ray.job_submission", None)  # import now fails

    with pytest.raises(BackendError, match=r"pip install 'suanwang\[ray\]'"):
        RayBackend("ray-missing", "missing", SITES, workdir=tmp_path)


def test_every_socket_of_the_head_listens_on_loopback_only(head: RayHead) -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux /proc to read listening sockets")
    inodes = _listening_inodes_by_address()
    ours: set[str] = set()
    for pid in [head.pid, *_members(head.pid, head.marker)]:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    ours.add(target[len("socket:[") : -1])
        except OSError:
            continue
    addresses = {inodes[inode] for inode in ours if inode in inodes}

    assert addresses, "the head listens on nothing?"
    assert addresses <= {"127.0.0.1", "::ffff:127.0.0.1", "::1"}


def test_a_head_whose_starter_is_killed_stops_with_it_and_leaves_other_heads_running(
    head: RayHead, tmp_path_factory: pytest.TempPathFactory
) -> None:
    temp_dir = _short_temp_dir(tmp_path_factory, "ray2")
    starter = subprocess.Popen(
        [sys.executable, "-c", _STARTER, str(temp_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert starter.stdout is not None
        assert starter.stdout.readline().strip() == "started"
        second = RayHead.load(temp_dir)  # as another process finds it
        assert second.alive()
        assert second.dashboard_port != head.dashboard_port
        assert _members(second.pid, second.marker)

        starter.kill()  # SIGKILL: no cleanup in the starter itself
        starter.wait()
        deadline = time.monotonic() + WAIT_S
        while (second.alive() or _members(second.pid, second.marker)) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.2)

        assert not second.alive()
        assert _members(second.pid, second.marker) == []
        assert head.alive()
        JobSubmissionClient(head.dashboard_url).list_jobs()  # the first head still answers
    finally:
        starter.kill()
        starter.wait()
        with contextlib.suppress(RayClusterError):
            RayHead.load(temp_dir).stop()


_STARTER = """
import sys, time
from pathlib import Path
from suanwang.control.raycluster import start_local_ray
start_local_ray(Path(sys.argv[1]), num_cpus=1, stop_with_parent=True)
print("started", flush=True)
time.sleep(600)
"""


def _listening_inodes_by_address() -> dict[str, str]:
    """Socket inode -> local address of every listening TCP socket (from /proc/net)."""
    found: dict[str, str] = {}
    for table, ipv6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != "0A":  # LISTEN
                continue
            found[fields[9]] = _address(fields[1].split(":")[0], ipv6)
    return found


def _address(hexaddr: str, ipv6: bool) -> str:
    raw = bytes.fromhex(hexaddr)
    if not ipv6:
        return str(ipaddress.IPv4Address(raw[::-1]))
    # /proc stores IPv6 as four little-endian 32-bit words.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    address = ipaddress.IPv6Address(words)
    mapped = address.ipv4_mapped
    return f"::ffff:{mapped}" if mapped else str(address)
