"""The Slurm backend against a real cluster (start one with ``sudo scripts/slurm-up.sh``).

Skipped when ``sbatch`` is not on PATH or ``scontrol ping`` fails, unless
``SUANWANG_REQUIRE_SERVICES=1``, which turns the skip into a failure (the ``require_service``
fixture of ``tests/integration/conftest.py``). Every run uses its own
namespace, so runs (and jobs left from earlier runs) do not collide.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from suanwang.control.backends.base import Backend, BackendError, JobSpec, JobState, JobStatus
from suanwang.control.backends.slurm import SlurmBackend

SITES = ("slurm-a", "slurm-b")
WAIT_S = 45.0


@pytest.fixture(autouse=True)
def _slurm_cluster(slurm_cluster: None) -> None:
    """Skip (or fail, with SUANWANG_REQUIRE_SERVICES=1) when there is no cluster."""


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    ns = f"swtest{uuid.uuid4().hex[:10]}"
    yield ns
    # Leave nothing running behind: cancel whatever this run left in its namespace.
    if shutil.which("squeue") is None:
        return
    names = subprocess.run(
        ["squeue", "--noheader", "--me", "--format=%j"],
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    ).stdout.split()
    for name in names:
        if name.startswith(ns + "."):
            subprocess.run(["scancel", f"--name={name}"], timeout=15, check=False)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("slurm-jobs")


@pytest.fixture
def backend(namespace: str, workdir: Path) -> Iterator[SlurmBackend]:
    b = SlurmBackend("slurm", namespace, SITES, workdir=workdir, max_cpus=1, max_memory_mb=512)
    yield b
    b.close()


def _job(namespace: str, task: str, *command: str, **fields: object) -> JobSpec:
    return JobSpec.model_validate(
        {
            "key": f"{namespace}.{task}.1",
            "task": task,
            "attempt": 1,
            "site": SITES[0],
            "command": command,
            "cpus": 1,
            "memory_mb": 256,
            "time_limit_s": 300,
            **fields,
        }
    )


def _wait(backend: SlurmBackend, key: str, until: frozenset[JobState]) -> JobStatus:
    """Poll until ``key`` is in one of the states ``until``; fail after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    status = None
    while time.monotonic() < deadline:
        status = backend.poll().jobs.get(key)
        if status is not None and status.state in until:
            return status
        time.sleep(0.25)
    pytest.fail(f"{key} did not reach {sorted(until)} in {WAIT_S} s; last seen: {status}")


FINISHED = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


def _slurm_job_ids(key: str) -> set[str]:
    """Every Slurm job named ``key``, by squeue and (when accounting is on) sacct."""
    ids = set(
        subprocess.run(
            ["squeue", "--noheader", "--states=all", f"--name={key}", "--format=%i"],
            capture_output=True,
            text=True,
            timeout=15,
            check=True,
        ).stdout.split()
    )
    sacct = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-S", "now-1days", f"--name={key}", "-o", "JobIDRaw"],
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )
    if sacct.returncode == 0:
        ids |= set(sacct.stdout.split())
    return ids


def test_the_slurm_backend_keeps_the_backend_protocol(backend: SlurmBackend) -> None:
    assert isinstance(backend, Backend)
    caps = backend.capabilities
    assert (caps.kind, caps.executes, caps.resource_limits) == ("slurm", True, True)
    assert caps.checkpoint_dir
    assert caps.survives_control_plane
    assert caps.cancel


def test_a_job_runs_to_succeeded_with_exit_code_0_and_its_output_in_the_out_file(
    backend: SlurmBackend, namespace: str, workdir: Path
) -> None:
    job = _job(namespace, "hello", "sh", "-c", "echo 'hello from slurm'; echo oops >&2")
    job_id = backend.submit(job)
    assert job_id.isdigit()

    status = _wait(backend, job.key, FINISHED)

    assert status.state is JobState.SUCCEEDED, status
    assert status.exit_code == 0
    output = (workdir / f"{job.key}.out").read_text()
    assert "hello from slurm" in output
    assert "oops" in output


def test_a_failing_command_is_reported_failed_with_its_exit_code(
    backend: SlurmBackend, namespace: str
) -> None:
    job = _job(namespace, "fails", "sh", "-c", "exit 3")
    backend.submit(job)

    status = _wait(backend, job.key, FINISHED)

    assert status.state is JobState.FAILED
    assert status.exit_code == 3
    assert "exit 3" in status.message


def test_an_empty_command_succeeds(backend: SlurmBackend, namespace: str) -> None:
    job = _job(namespace, "nothing")
    backend.submit(job)
    assert _wait(backend, job.key, FINISHED).state is JobState.SUCCEEDED


def test_submitting_the_same_key_twice_starts_one_job_even_after_a_crash(
    backend: SlurmBackend, namespace: str, workdir: Path
) -> None:
    job = _job(namespace, "twice", "sleep", "2")
    first = backend.submit(job)
    again = backend.submit(job)
    from_another_backend = SlurmBackend(
        "slurm", namespace, SITES, workdir=workdir, max_cpus=1, max_memory_mb=512
    ).submit(job)
    # A control plane that died after sbatch but before recording the job id left no id behind:
    (workdir / f"{job.key}.json").write_text('{"state": "submitting"}\n')
    after_crash = backend.submit(job)

    assert first == again == from_another_backend == after_crash
    assert _slurm_job_ids(job.key) == {first}


def test_a_new_backend_object_sees_the_job_after_a_control_plane_restart(
    namespace: str, workdir: Path
) -> None:
    before = SlurmBackend("slurm", namespace, SITES, workdir=workdir, max_cpus=1)
    job = _job(namespace, "restart", "sh", "-c", "sleep 1; exit 0")
    before.submit(job)
    before.close()
    del before

    after = SlurmBackend("slurm", namespace, SITES, workdir=workdir, max_cpus=1)

    assert job.key in after.poll().jobs
    assert _wait(after, job.key, FINISHED).state is JobState.SUCCEEDED


def test_cancel_of_a_long_sleep_job_reports_cancelled(
    backend: SlurmBackend, namespace: str
) -> None:
    job = _job(namespace, "sleeper", "sleep", "600")
    backend.submit(job)
    _wait(backend, job.key, frozenset({JobState.RUNNING}))

    backend.cancel(job.key)
    status = _wait(backend, job.key, FINISHED)

    assert status.state is JobState.CANCELLED
    backend.cancel(job.key)  # again, now that it is finished: still fine
    assert backend.poll().jobs[job.key].state is JobState.CANCELLED


def test_cancel_of_an_unknown_key_does_not_raise(backend: SlurmBackend, namespace: str) -> None:
    backend.cancel(f"{namespace}.never-submitted.1")
    backend.cancel("not a key at all")


def test_the_job_environment_and_suanwang_variables_reach_the_job(
    backend: SlurmBackend, namespace: str, workdir: Path
) -> None:
    script = (
        'printf "%s|%s|%s|%s|%s|%s\\n" "$GREETING" "$SUANWANG_TASK" "$SUANWANG_ATTEMPT" '
        '"$SUANWANG_SITE" "$SUANWANG_CHECKPOINT_DIR" "$TRICKY"'
    )
    job = _job(
        namespace,
        "envtask",
        "bash",
        "-c",
        script,
        env={"GREETING": "ni hao", "TRICKY": 'it\'s $HOME `x` "q"'},
        site=SITES[1],
        checkpoint_dir="checkpoints/envtask",
    )
    backend.submit(job)

    assert _wait(backend, job.key, FINISHED).state is JobState.SUCCEEDED
    line = (workdir / f"{job.key}.out").read_text().strip()
    checkpoint_dir = workdir / "checkpoints" / "envtask"
    assert line == f'ni hao|envtask|1|{SITES[1]}|{checkpoint_dir}|it\'s $HOME `x` "q"'
    assert checkpoint_dir.is_dir()


def test_a_checkpoint_file_in_the_checkpoint_dir_is_reported(
    backend: SlurmBackend, namespace: str, tmp_path: Path
) -> None:
    checkpoint_dir = tmp_path / "ckpt"
    job = _job(
        namespace,
        "checkpointer",
        "sh",
        "-c",
        'printf "  step-42\\n\\n" > "$SUANWANG_CHECKPOINT_DIR/CHECKPOINT"',
        checkpoint_dir=str(checkpoint_dir),
    )
    backend.submit(job)

    status = _wait(backend, job.key, FINISHED)

    assert status.state is JobState.SUCCEEDED
    assert status.checkpoint == "step-42"


def test_poll_reports_this_namespace_only_and_every_site_alive(
    backend: SlurmBackend, namespace: str, workdir: Path
) -> None:
    nested = SlurmBackend("slurm", namespace + ".sub", SITES, workdir=workdir, max_cpus=1)
    beside = SlurmBackend("slurm", namespace + "x", SITES, workdir=workdir, max_cpus=1)
    nested_job = _job(namespace + ".sub", "foreign")
    beside_job = _job(namespace + "x", "foreign")
    nested.submit(nested_job)
    beside.submit(beside_job)

    poll = backend.poll()

    assert nested_job.key not in poll.jobs
    assert beside_job.key not in poll.jobs
    assert all(key.startswith(namespace + ".") for key in poll.jobs)
    assert poll.sites_alive == frozenset(SITES)
    assert nested_job.key in nested.poll().jobs
    _wait(nested, nested_job.key, FINISHED)
    _wait(beside, beside_job.key, FINISHED)


def test_a_job_asking_more_than_the_backend_offers_is_refused(
    backend: SlurmBackend, namespace: str
) -> None:
    with pytest.raises(BackendError, match="CPUs"):
        backend.submit(_job(namespace, "greedy", "true", cpus=4))
    assert f"{namespace}.greedy.1" not in backend.poll().jobs


def test_a_job_over_its_memory_limit_fails(backend: SlurmBackend, namespace: str) -> None:
    config = subprocess.run(
        ["scontrol", "show", "config"], capture_output=True, text=True, timeout=15, check=True
    ).stdout
    if "task/cgroup" in config:
        hold_s = 1  # the cgroup's OOM killer acts at once
    elif "OverMemoryKill" in config:
        hold_s = 20  # Slurm samples memory every few seconds (JobAcctGatherFrequency)
    else:
        pytest.skip("the cluster enforces no memory limit (neither task/cgroup nor OverMemoryKill)")
    job = _job(
        namespace,
        "hog",
        "python3",
        "-c",
        f"import time; x = bytearray(400 * 2**20); time.sleep({hold_s})",
        memory_mb=100,
    )
    backend.submit(job)

    status = _wait(backend, job.key, FINISHED)

    assert status.state is JobState.FAILED
    assert "memory limit" in status.message
