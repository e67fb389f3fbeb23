"""The Slurm backend's pure helpers, fed with output captured from Slurm 22.05."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from suanwang.control.backends.base import BackendError, JobSpec, JobState
from suanwang.control.backends.slurm import (
    SlurmJob,
    batch_script,
    job_status,
    map_state,
    merge_jobs,
    parse_exit_code,
    parse_sacct,
    parse_squeue,
    read_checkpoint,
    says_out_of_memory,
    slurm_time,
)

SACCT = """\
9|ns.fail.1|FAILED|3:0|None
10|ns.mem.1|OUT_OF_MEMORY|0:125|None
11|ns.ok.1|COMPLETED|0:0|None
12|ns.cancelled.1|CANCELLED by 0|0:15|None
13|ns.late.1|TIMEOUT|0:0|TimeLimit
14|ns.wait.1|PENDING|0:0|Resources
"""

SQUEUE = """\
9|ns.fail.1|FAILED|768|NonZeroExitCode|
10|ns.mem.1|OUT_OF_MEMORY|253|OutOfMemory|
14|ns.wait.1|RUNNING|0|None|
"""


@pytest.mark.parametrize(
    ("slurm", "state"),
    [
        ("PENDING", JobState.PENDING),
        ("CONFIGURING", JobState.PENDING),
        ("REQUEUED", JobState.PENDING),
        ("RUNNING", JobState.RUNNING),
        ("COMPLETING", JobState.RUNNING),
        ("SUSPENDED", JobState.RUNNING),
        ("COMPLETED", JobState.SUCCEEDED),
        ("FAILED", JobState.FAILED),
        ("TIMEOUT", JobState.FAILED),
        ("OUT_OF_MEMORY", JobState.FAILED),
        ("NODE_FAIL", JobState.FAILED),
        ("BOOT_FAIL", JobState.FAILED),
        ("DEADLINE", JobState.FAILED),
        ("CANCELLED", JobState.CANCELLED),
        ("CANCELLED by 0", JobState.CANCELLED),
        ("CANCELLED+", JobState.CANCELLED),
        ("something new", JobState.RUNNING),
    ],
)
def test_slurm_states_map_to_job_states(slurm: str, state: JobState) -> None:
    assert map_state(slurm) is state


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("3:0", (3, 0)),
        ("0:125", (0, 125)),
        ("768", (3, 0)),
        ("253", (0, 125)),
        ("9", (0, 9)),
        ("0", (0, 0)),
        ("", (None, None)),
        ("N/A", (None, None)),
        ("junk", (None, None)),
    ],
)
def test_exit_codes_parse_from_sacct_pairs_and_squeue_wait_statuses(
    text: str, parsed: tuple[int | None, int | None]
) -> None:
    assert parse_exit_code(text) == parsed


def test_sacct_rows_parse_into_jobs_with_exit_codes_and_reasons() -> None:
    jobs = {job.name: job for job in parse_sacct(SACCT)}

    assert jobs["ns.fail.1"] == SlurmJob(9, "ns.fail.1", "FAILED", 3, 0, "")
    assert jobs["ns.cancelled.1"].state == "CANCELLED by 0"
    assert jobs["ns.late.1"].reason == "TimeLimit"


def test_squeue_rows_parse_and_array_components_are_ignored() -> None:
    jobs = parse_squeue(SQUEUE + "20_3|array|RUNNING|0|None|\n")

    assert [job.job_id for job in jobs] == [9, 10, 14]
    assert jobs[0].exit_code == 3


def test_a_malformed_line_is_a_backend_error() -> None:
    with pytest.raises(BackendError, match="unexpected squeue output"):
        parse_squeue("garbage\n")


def test_squeue_is_fresher_than_sacct_and_the_newest_job_of_a_name_counts() -> None:
    merged = merge_jobs(
        parse_sacct(SACCT + "15|ns.ok.1|FAILED|1:0|None\n"),
        parse_squeue(SQUEUE),
    )

    assert merged["ns.wait.1"].state == "RUNNING"
    assert merged["ns.ok.1"].job_id == 15
    assert merged["ns.mem.1"].signal == 125


def test_job_statuses_carry_exit_codes_and_readable_messages() -> None:
    jobs = merge_jobs(parse_sacct(SACCT))

    ok = job_status(jobs["ns.ok.1"], checkpoint="step-1")
    failed = job_status(jobs["ns.fail.1"])
    oom = job_status(jobs["ns.mem.1"])
    late = job_status(jobs["ns.late.1"])
    cancelled = job_status(jobs["ns.cancelled.1"])
    waiting = job_status(jobs["ns.wait.1"])

    assert (ok.state, ok.exit_code, ok.checkpoint) == (JobState.SUCCEEDED, 0, "step-1")
    assert (failed.state, failed.exit_code) == (JobState.FAILED, 3)
    assert failed.message.startswith("exit 3")
    assert (oom.state, oom.exit_code) == (JobState.FAILED, None)
    assert oom.message.startswith("memory limit")
    assert late.message.startswith("time limit")
    assert "TimeLimit" in late.message
    assert (cancelled.state, cancelled.message) == (JobState.CANCELLED, "cancelled")
    assert (waiting.state, waiting.message) == (JobState.PENDING, "Resources")


def test_a_job_killed_by_a_signal_has_no_exit_code() -> None:
    status = job_status(SlurmJob(1, "ns.k.1", "FAILED", 0, 9))

    assert status.exit_code is None
    assert status.message.startswith("killed by signal 9")


def test_time_limits_are_minutes_and_seconds() -> None:
    assert slurm_time(3600) == "60:00"
    assert slurm_time(61) == "1:01"
    assert slurm_time(5) == "0:05"


def _spec(**fields: object) -> JobSpec:
    base: dict[str, object] = {"key": "ns.t.2", "task": "t", "attempt": 2, "site": "s"}
    return JobSpec.model_validate(base | fields)


def test_the_batch_script_quotes_arguments_and_exports_the_environment(tmp_path: Path) -> None:
    tricky = 'it\'s $HOME `x` "q"; rm -rf /'
    shown = 'printf "%s|%s|%s|%s|%s|%s" "$1" "$X" "$SUANWANG_TASK" "$SUANWANG_ATTEMPT" '
    shown += '"$SUANWANG_SITE" "$SUANWANG_CHECKPOINT_DIR"'
    script = batch_script(
        _spec(command=("bash", "-c", shown, "_", tricky), env={"X": tricky}), tmp_path / "ck"
    )
    path = tmp_path / "job.sh"
    path.write_text(script)

    done = subprocess.run(["bash", str(path)], capture_output=True, text=True, check=True)

    assert done.stdout == f"{tricky}|{tricky}|t|2|s|{tmp_path / 'ck'}"
    assert (tmp_path / "ck").is_dir()
    assert f"export X={shlex.quote(tricky)}" in script


def test_an_empty_command_runs_true_and_bad_env_names_are_refused() -> None:
    assert batch_script(_spec()).rstrip().endswith("exec true")
    assert "SUANWANG_CHECKPOINT_DIR" not in batch_script(_spec())
    with pytest.raises(BackendError, match="environment variable"):
        batch_script(_spec(env={"BAD NAME": "x"}))


def test_the_checkpoint_is_the_stripped_start_of_the_checkpoint_file(tmp_path: Path) -> None:
    assert read_checkpoint(None) is None
    assert read_checkpoint(str(tmp_path)) is None
    (tmp_path / "CHECKPOINT").write_text("\n  " + "x" * 300 + "\n")
    assert read_checkpoint(str(tmp_path)) == "x" * 200
    (tmp_path / "CHECKPOINT").write_text("  \n")
    assert read_checkpoint(str(tmp_path)) is None


def test_a_job_slurm_killed_for_memory_without_cgroups_reports_memory_limit() -> None:
    output = (
        "slurmstepd-vm: error: StepId=37.batch exceeded memory limit (434786304 > 104857600)\n"
        "slurmstepd-vm: error: Exceeded job memory limit\n"
    )
    job = SlurmJob(37, "ns.hog.1", "FAILED", 0, 9, "JobLaunchFailure")

    status = job_status(job, out_of_memory=says_out_of_memory(output))

    assert status.state is JobState.FAILED
    assert status.message.startswith("memory limit")
    assert not says_out_of_memory("all fine\n")
