"""Run jobs on a Slurm cluster through its command-line tools (sbatch, squeue, sacct, scancel).

Contract (see :mod:`suanwang.control.backends.base` for the one every backend keeps):

* **A job is a Slurm batch job named by its dispatch key** (``--job-name=<key>``), submitted
  with ``sbatch --parsable --no-requeue`` and ``--cpus-per-task`` (the job's CPUs rounded up),
  ``--mem`` (MB), ``--time`` (from ``time_limit_s``), ``--partition`` when one is configured,
  ``--chdir=workdir`` and ``--output=workdir/<key>.out`` (stdout and stderr together).
* **The batch script** (``workdir/<key>.sh``) exports ``job.env`` and ``SUANWANG_TASK``,
  ``SUANWANG_ATTEMPT``, ``SUANWANG_SITE`` and, when the job has one, ``SUANWANG_CHECKPOINT_DIR``
  (created by the backend and again by the script; a relative one is taken relative to
  ``workdir``), then ``exec``s ``job.command`` (each argument quoted with :func:`shlex.quote`;
  an empty command runs ``true``). The job also inherits the submitting process's environment
  (``--export=ALL``). The control plane and the cluster are assumed to share ``workdir`` and the
  checkpoint directories (one node, or a shared file system).
* **Idempotent submission.** ``submit`` holds an exclusive lock on the marker
  ``workdir/<key>.json`` while it works: a marker that records a Slurm job id is returned as
  is; otherwise a job named ``<key>`` found by ``squeue`` (or ``sacct`` when the cluster keeps
  accounting) is adopted; only then is the marker written (``submitting``), ``sbatch`` run, and
  the id recorded. A control plane that dies between ``sbatch`` and recording the id finds the
  job by name next time, so one key starts at most one job.
* **poll()** lists every job of the current user whose name starts with ``namespace + "."``:
  ``sacct`` (when accounting is configured, jobs of the last ``history_days``) merged with
  ``squeue --states=all`` (fresher; Slurm keeps finished jobs there for ``MinJobAge``). When
  several jobs share a name, the newest counts. Slurm states map to: PENDING, CONFIGURING,
  REQUEUED, ... -> pending; RUNNING, COMPLETING, SUSPENDED, ... -> running; COMPLETED ->
  succeeded (exit 0); FAILED (``exit N``, ``killed by signal N``), TIMEOUT (``time limit``),
  OUT_OF_MEMORY or a FAILED job whose output has Slurm's "Exceeded job memory limit"
  (``memory limit``), NODE_FAIL, BOOT_FAIL, DEADLINE, PREEMPTED -> failed;
  CANCELLED* -> cancelled. ``exit_code`` is the command's exit status, None when a signal
  ended it (as the local backend reports). ``JobStatus.checkpoint`` is the stripped first 200
  characters of ``CHECKPOINT`` in the job's checkpoint directory (read from the marker). A job
  whose marker names another namespace (``ns.sub`` inside ``ns``) is not reported.
  Every configured site is alive when the commands answer.
* **cancel(key)** runs ``scancel --name=<key>`` for the current user's jobs (Slurm sends
  SIGTERM, then SIGKILL after ``KillWait``); unknown and finished jobs are a no-op (scancel
  succeeds for them); only an unreachable cluster raises :class:`BackendError`.
* **Limits.** ``max_cpus`` and ``max_memory_mb`` not given are the largest node's in the
  partition (``sinfo``, asked once when the backend is made; this machine's when that fails).
  ``submit`` refuses, with :class:`BackendError`, a job over them or for a site not served
  here, and raises ValueError for a key outside the namespace.
* A failing or timed-out Slurm command raises :class:`BackendError` naming the command and its
  error. Accounting is detected once from ``scontrol show config``
  (``AccountingStorageType``); without it, finished jobs are known only while ``squeue`` keeps
  them (``MinJobAge``; ``scripts/slurm-up.sh`` sets an hour).

``scripts/slurm-up.sh`` installs and starts a one-node cluster (with slurmdbd accounting when
it can) for development and the integration tests.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import pwd
import re
import shlex
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from suanwang.control.backends.base import (
    KEY_PATTERN,
    BackendError,
    Capabilities,
    JobSpec,
    JobState,
    JobStatus,
    Poll,
    check_job,
    read_checkpoint,
    served_sites,
)

OUTPUT_TAIL_BYTES = 4096
COMMAND_TIMEOUT_S = 30.0
"""How long one Slurm command may take before the backend gives up on it."""

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SACCT_FIELDS = "JobIDRaw,JobName,State,ExitCode,Reason"
_SQUEUE_FIELDS = "JobID:|,Name:|,State:|,exit_code:|,Reason:|"
_JOB_ID = re.compile(r"^\d+$")
_DROPPED_ENV_PREFIXES = ("SBATCH_", "SQUEUE_", "SACCT_", "SCANCEL_", "SLURM_")
"""Option variables of the Slurm tools (and a surrounding job's SLURM_*, but SLURM_CONF) that
would change what the backend's commands do; they are not passed to the commands."""

_PENDING = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "REQUEUED",
        "REQUEUE_HOLD",
        "REQUEUE_FED",
        "RESV_DEL_HOLD",
        "SPECIAL_EXIT",
    }
)
_RUNNING = frozenset(
    {
        "RUNNING",
        "COMPLETING",
        "SUSPENDED",
        "STOPPED",
        "SIGNALING",
        "STAGE_OUT",
        "RESIZING",
    }
)
_FAILED_MESSAGES = {
    "TIMEOUT": "time limit",
    "OUT_OF_MEMORY": "memory limit",
    "NODE_FAIL": "node failure",
    "BOOT_FAIL": "node boot failure",
    "DEADLINE": "deadline reached",
    "PREEMPTED": "preempted",
}


# --- pure helpers (unit tested with fake command output) -----------------------------------


@dataclass(frozen=True)
class SlurmJob:
    """One job as ``squeue`` or ``sacct`` shows it."""

    job_id: int
    name: str
    state: str
    exit_code: int | None = None
    signal: int | None = None
    reason: str = ""


def base_state(state: str) -> str:
    """``CANCELLED by 0`` -> ``CANCELLED``; ``COMPLETED+`` -> ``COMPLETED``."""
    word = state.strip().split(" ", 1)[0] if state.strip() else ""
    return word.rstrip("+*").upper()


def map_state(state: str) -> JobState:
    """The :class:`JobState` of a Slurm job state (unknown states count as running)."""
    base = base_state(state)
    if base in _PENDING:
        return JobState.PENDING
    if base in _RUNNING:
        return JobState.RUNNING
    if base == "COMPLETED":
        return JobState.SUCCEEDED
    if base.startswith("CANCELLED") or base == "REVOKED":
        return JobState.CANCELLED
    if base == "FAILED" or base in _FAILED_MESSAGES:
        return JobState.FAILED
    return JobState.RUNNING


def parse_exit_code(text: str) -> tuple[int | None, int | None]:
    """``(exit status, signal)`` from sacct's ``3:0`` or squeue's raw wait status ``768``."""
    text = text.strip()
    if not text or text.upper() in {"N/A", "(NULL)"}:
        return None, None
    try:
        if ":" in text:
            code, sig = text.split(":", 1)
            return int(code), int(sig)
        status = int(text)
    except ValueError:
        return None, None
    if status < 0:
        return None, None
    if status & 0x7F:
        return 0, status & 0x7F
    return (status >> 8) & 0xFF, 0


def _parse_rows(text: str, source: str) -> Iterator[SlurmJob]:
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) < 5:
            raise BackendError(f"unexpected {source} output line: {line!r}")
        job_id, name, state, exit_text, reason = (f.strip() for f in fields[:5])
        if not _JOB_ID.match(job_id):
            continue  # array or heterogeneous job components: never submitted by this backend
        code, sig = parse_exit_code(exit_text)
        yield SlurmJob(
            job_id=int(job_id),
            name=name,
            state=state,
            exit_code=code,
            signal=sig,
            reason="" if reason in {"None", "(null)"} else reason,
        )


def parse_sacct(text: str) -> list[SlurmJob]:
    """Rows of ``sacct -X -n -P -o JobIDRaw,JobName,State,ExitCode,Reason``."""
    return list(_parse_rows(text, "sacct"))


def parse_squeue(text: str) -> list[SlurmJob]:
    """Rows of ``squeue -h -O JobID:|,Name:|,State:|,exit_code:|,Reason:|``."""
    return list(_parse_rows(text, "squeue"))


def merge_jobs(*sources: Iterable[SlurmJob]) -> dict[str, SlurmJob]:
    """The newest job of each name; for one job id, the later source wins (squeue is fresher).

    A finished job's exit code that only the earlier source knows is kept.
    """
    by_id: dict[int, SlurmJob] = {}
    for source in sources:
        for job in source:
            old = by_id.get(job.job_id)
            if old is not None and job.exit_code is None and old.exit_code is not None:
                job = replace(job, exit_code=old.exit_code, signal=old.signal)
            by_id[job.job_id] = job
    by_name: dict[str, SlurmJob] = {}
    for job in sorted(by_id.values(), key=lambda j: j.job_id):
        by_name[job.name] = job
    return by_name


def job_status(
    job: SlurmJob, checkpoint: str | None = None, *, out_of_memory: bool = False
) -> JobStatus:
    """What the backend reports for one Slurm job.

    ``out_of_memory``: the job's output says Slurm killed it for exceeding ``--mem`` (without
    cgroups Slurm reports such a job FAILED by signal 9).
    """
    state = map_state(job.state)
    base = base_state(job.state)
    signalled = bool(job.signal)
    code = None if signalled else job.exit_code
    if state is JobState.SUCCEEDED:
        return JobStatus(key=job.name, state=state, exit_code=0, checkpoint=checkpoint)
    if state is JobState.CANCELLED:
        return JobStatus(
            key=job.name, state=state, exit_code=code, message="cancelled", checkpoint=checkpoint
        )
    if state is JobState.FAILED:
        if base in _FAILED_MESSAGES:
            message = _FAILED_MESSAGES[base]
        elif out_of_memory:
            message = "memory limit"
        elif signalled:
            message = f"killed by signal {job.signal}"
        elif code is not None:
            message = f"exit {code}"
        else:
            message = "failed"
        detail = f"slurm job {job.job_id} {base}"
        if job.reason and job.reason not in {"NonZeroExitCode", "OutOfMemory"}:
            detail += f", {job.reason}"
        return JobStatus(
            key=job.name,
            state=state,
            exit_code=code,
            message=f"{message} ({detail})",
            checkpoint=checkpoint,
            lost=base in ("NODE_FAIL", "BOOT_FAIL"),
        )
    message = "" if base in _PENDING | _RUNNING else f"unknown slurm state {job.state}"
    if state is JobState.PENDING and job.reason:
        message = job.reason
    return JobStatus(key=job.name, state=state, message=message, checkpoint=checkpoint)


def slurm_time(seconds: int) -> str:
    """``--time`` for a limit in seconds (``minutes:seconds``)."""
    seconds = max(1, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def batch_script(job: JobSpec, checkpoint_dir: Path | None = None) -> str:
    """The batch script that runs ``job`` (see the module docstring)."""
    env = dict(job.env)
    env.update(
        SUANWANG_TASK=job.task,
        SUANWANG_ATTEMPT=str(job.attempt),
        SUANWANG_SITE=job.site,
    )
    if checkpoint_dir is not None:
        env["SUANWANG_CHECKPOINT_DIR"] = str(checkpoint_dir)
    bad = sorted(name for name in env if not ENV_NAME.match(name))
    if bad:
        raise BackendError(f"{job.key}: invalid environment variable names {bad}")
    lines = ["#!/bin/bash", f"# suanwang job {job.key}"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    if checkpoint_dir is not None:
        lines.append('mkdir -p -- "$SUANWANG_CHECKPOINT_DIR"')
    argv = job.command or ("true",)
    lines.append("exec " + " ".join(shlex.quote(arg) for arg in argv))
    return "\n".join(lines) + "\n"


def says_out_of_memory(output_tail: str) -> bool:
    """Whether a job's output holds Slurm's note that it exceeded its memory limit."""
    text = output_tail.lower()
    return "exceeded job memory limit" in text or "oom-kill" in text


# --- the backend ----------------------------------------------------------------------------


class SlurmBackend:
    """Jobs as Slurm batch jobs (see the module docstring for the contract)."""

    def __init__(
        self,
        name: str,
        namespace: str,
        sites: Iterable[str],
        *,
        workdir: Path,
        partition: str | None = None,
        max_cpus: float | None = None,
        max_memory_mb: int | None = None,
        history_days: int = 30,
        command_timeout_s: float = COMMAND_TIMEOUT_S,
    ) -> None:
        served = served_sites(namespace, sites)
        self.name = name
        self.namespace = namespace
        self.sites = served
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.partition = partition
        self.history_days = history_days
        self.command_timeout_s = command_timeout_s
        self._env = {
            k: v
            for k, v in os.environ.items()
            if k == "SLURM_CONF" or not k.startswith(_DROPPED_ENV_PREFIXES)
        }
        try:
            self._user = pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            self._user = str(os.getuid())
        if max_cpus is None or max_memory_mb is None:
            cpus, memory = self._node_limits()
            max_cpus = max_cpus if max_cpus is not None else cpus
            max_memory_mb = max_memory_mb if max_memory_mb is not None else memory
        self.capabilities = Capabilities(
            kind="slurm",
            executes=True,
            resource_limits=True,
            cancel=True,
            checkpoint_dir=True,
            survives_control_plane=True,
            max_cpus=float(max_cpus),
            max_memory_mb=int(max_memory_mb),
        )
        self._accounting: bool | None = None
        self._markers: dict[str, dict[str, Any]] = {}
        self._oom: dict[int, bool] = {}

    # --- the Backend protocol ----

    def submit(self, job: JobSpec) -> str:
        """Start ``job`` unless a job named ``job.key`` exists; return its Slurm job id."""
        self._check(job)
        marker = self.workdir / f"{job.key}.json"
        try:
            handle = open(marker, "a+", encoding="utf-8")  # noqa: SIM115 (held while locked)
        except OSError as exc:
            raise BackendError(f"{self.name}: cannot open {marker}: {exc}") from exc
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            record = self._read_marker(handle)
            job_id = record.get("job_id")
            if isinstance(job_id, str) and job_id:
                return job_id
            checkpoint = self._checkpoint_path(job)
            record = {
                "key": job.key,
                "namespace": self.namespace,
                "backend": self.name,
                "checkpoint_dir": str(checkpoint) if checkpoint else None,
            }
            existing = self._find(job.key)
            if existing is not None:
                record.update(job_id=str(existing.job_id), adopted=True)
                self._write_marker(handle, record)
                return str(existing.job_id)
            record.update(state="submitting", submitted_at=time.time())
            self._write_marker(handle, record)
            if checkpoint is not None:
                try:
                    checkpoint.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise BackendError(f"{self.name}: cannot create {checkpoint}: {exc}") from exc
            script = self.workdir / f"{job.key}.sh"
            try:
                script.write_text(batch_script(job, checkpoint), encoding="utf-8")
            except OSError as exc:
                raise BackendError(f"{self.name}: cannot write {script}: {exc}") from exc
            out = self._run(self._sbatch_args(job, script))
            job_id = out.strip().split(";", 1)[0].strip()
            if not _JOB_ID.match(job_id):
                raise BackendError(f"{self.name}: sbatch printed {out.strip()!r}, not a job id")
            record.update(job_id=job_id, state="submitted")
            self._write_marker(handle, record)
            self._markers[job.key] = record
            return job_id

    def poll(self) -> Poll:
        """Every job of this namespace that Slurm knows of, and all configured sites."""
        prefix = self.namespace + "."
        sources: list[list[SlurmJob]] = []
        if self._has_accounting():
            sources.append(self._sacct())
        sources.append(self._squeue())
        jobs: dict[str, JobStatus] = {}
        for name, job in sorted(merge_jobs(*sources).items()):
            if not name.startswith(prefix) or not KEY_PATTERN.match(name):
                continue
            marker = self._marker(name) or {}
            if marker.get("namespace", self.namespace) != self.namespace:
                continue  # a nested namespace's job that merely shares our prefix
            checkpoint_dir = marker.get("checkpoint_dir")
            jobs[name] = job_status(
                job,
                read_checkpoint(checkpoint_dir if isinstance(checkpoint_dir, str) else None),
                out_of_memory=self._out_of_memory(job),
            )
        return Poll(jobs=jobs, sites_alive=self.sites)

    def cancel(self, key: str) -> None:
        """Cancel the job named ``key``; a no-op for unknown or finished jobs."""
        if not KEY_PATTERN.match(key):
            return
        self._run(["scancel", f"--name={key}", f"--user={self._user}"])

    def serve(self, site: str) -> None:
        """Serve ``site`` too (see :class:`Backend`)."""
        self.sites = self.sites | {site}

    def close(self) -> None:
        """Nothing to release: every call runs its own command (jobs keep running)."""
        self._markers.clear()
        self._oom.clear()

    # --- helpers ----

    def _check(self, job: JobSpec) -> None:
        check_job(self.name, self.namespace, frozenset(self.sites), self.capabilities, job)

    def _checkpoint_path(self, job: JobSpec) -> Path | None:
        if not job.checkpoint_dir:
            return None
        return (self.workdir / job.checkpoint_dir).resolve()

    def _sbatch_args(self, job: JobSpec, script: Path) -> list[str]:
        args = [
            "sbatch",
            "--parsable",
            f"--job-name={job.key}",
            f"--output={self.workdir / (job.key + '.out')}",
            f"--chdir={self.workdir}",
            f"--cpus-per-task={max(1, math.ceil(job.cpus))}",
            f"--mem={job.memory_mb}",
            f"--time={slurm_time(job.time_limit_s)}",
            "--ntasks=1",
            "--nodes=1",
            "--no-requeue",
            "--export=ALL",
        ]
        if self.partition:
            args.append(f"--partition={self.partition}")
        args.append(str(script))
        return args

    def _find(self, key: str) -> SlurmJob | None:
        """The newest job named ``key`` that Slurm knows of, if any."""
        sources = []
        if self._has_accounting():
            sources.append(self._sacct(name=key))
        sources.append(self._squeue(name=key))
        return merge_jobs(*sources).get(key)

    def _squeue(self, name: str | None = None) -> list[SlurmJob]:
        args = ["squeue", "--noheader", "--states=all", f"--user={self._user}"]
        if name is not None:
            args.append(f"--name={name}")
        args.append(f"--Format={_SQUEUE_FIELDS}")
        return parse_squeue(self._run(args))

    def _sacct(self, name: str | None = None) -> list[SlurmJob]:
        args = [
            "sacct",
            "--allocations",
            "--noheader",
            "--parsable2",
            f"--user={self._user}",
            f"--starttime=now-{self.history_days}days",
            "--endtime=now",
            f"--format={_SACCT_FIELDS}",
        ]
        if name is not None:
            args.append(f"--name={name}")
        return parse_sacct(self._run(args))

    def _has_accounting(self) -> bool:
        """Whether the cluster keeps accounting (sacct works); asked once."""
        if self._accounting is None:
            config = self._run(["scontrol", "show", "config"])
            match = re.search(r"^AccountingStorageType\s*=\s*(\S+)", config, re.MULTILINE)
            storage = match.group(1) if match else "accounting_storage/none"
            self._accounting = storage != "accounting_storage/none"
        return self._accounting

    def _node_limits(self) -> tuple[float, int]:
        """The largest node's CPUs and memory (MB) in the partition; this machine's if unknown."""
        args = ["sinfo", "--noheader", "--format=%c|%m"]
        if self.partition:
            args.append(f"--partition={self.partition}")
        try:
            rows = [line.split("|") for line in self._run(args).split()]
            cpus = max(float(row[0].rstrip("+")) for row in rows)
            memory = max(int(row[1].rstrip("+")) for row in rows)
        except (BackendError, ValueError, IndexError):
            cpus = float(os.cpu_count() or 1)
            try:
                memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
            except (ValueError, OSError):
                memory = 1024
        return max(cpus, 1.0), max(int(memory), 1)

    def _out_of_memory(self, job: SlurmJob) -> bool:
        """For a failed job: whether its output says Slurm killed it for memory (cached)."""
        if map_state(job.state) is not JobState.FAILED or base_state(job.state) != "FAILED":
            return False
        if job.job_id not in self._oom:
            try:
                with open(self.workdir / f"{job.name}.out", "rb") as handle:
                    handle.seek(0, os.SEEK_END)
                    handle.seek(max(0, handle.tell() - OUTPUT_TAIL_BYTES))
                    tail = handle.read().decode("utf-8", "replace")
            except OSError:
                tail = ""
            self._oom[job.job_id] = says_out_of_memory(tail)
        return self._oom[job.job_id]

    def _marker(self, key: str) -> dict[str, Any] | None:
        """The marker ``submit`` wrote for ``key`` (cached once it has a job id), if any."""
        record = self._markers.get(key)
        if record is None:
            try:
                loaded = json.loads((self.workdir / f"{key}.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None  # not submitted from this workdir, or being written: look again
            if not isinstance(loaded, dict):
                return None
            record = loaded
            if record.get("job_id"):
                self._markers[key] = record
        return record

    @staticmethod
    def _read_marker(handle: IO[str]) -> dict[str, Any]:
        handle.seek(0)
        try:
            record = json.loads(handle.read() or "{}")
        except ValueError:
            return {}
        return record if isinstance(record, dict) else {}

    def _write_marker(self, handle: IO[str], record: dict[str, Any]) -> None:
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            raise BackendError(f"{self.name}: cannot write {handle.name}: {exc}") from exc

    def _run(self, args: Sequence[str]) -> str:
        """Run one Slurm command; its stdout, or BackendError with what went wrong."""
        try:
            done = subprocess.run(
                list(args),
                capture_output=True,
                text=True,
                timeout=self.command_timeout_s,
                env=self._env,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except FileNotFoundError as exc:
            raise BackendError(f"{self.name}: {args[0]} is not installed (not on PATH)") from exc
        except subprocess.TimeoutExpired as exc:
            raise BackendError(
                f"{self.name}: {args[0]} did not answer in {self.command_timeout_s:g} s"
            ) from exc
        except OSError as exc:
            raise BackendError(f"{self.name}: cannot run {args[0]}: {exc}") from exc
        if done.returncode != 0:
            error = (done.stderr or done.stdout).strip().replace("\n", "; ")[:500]
            raise BackendError(
                f"{self.name}: {shlex.join(args[:2])} failed (exit {done.returncode}): {error}"
            )
        return done.stdout


__all__ = [
    "SlurmBackend",
    "SlurmJob",
    "batch_script",
    "job_status",
    "map_state",
    "merge_jobs",
    "parse_exit_code",
    "parse_sacct",
    "parse_squeue",
    "read_checkpoint",
    "says_out_of_memory",
    "slurm_time",
]
