"""Run jobs as local subprocesses with resource limits, in a way that outlives the control plane.

Contract (see :mod:`suanwang.control.backends.base` for the one every backend keeps):

* **One directory per job**, ``workdir/<key>/``, claimed with ``os.mkdir``: that is the
  idempotency. When the directory exists, :meth:`LocalBackend.submit` returns the existing
  handle (the directory's path) and starts nothing, whatever state the job is in, even when a
  crashed control plane claimed it and never launched it (it is then reported failed).
* The directory holds ``spec.json`` (the job, written by the backend), ``pid`` (the runner's pid
  and process start time), ``job.pid`` (the job's process group), ``stdout`` and ``stderr`` (the
  job's output), ``runner.log`` (the runner's own), a ``cancel`` marker once cancelled, and,
  when the job has ended, ``exit.json`` (written atomically; it is final).
* Each job runs under :mod:`suanwang.control.backends.local_runner`, started in a new session,
  so jobs survive a SIGKILL of the control plane. The runner limits the job's address space
  (``memory_mb``) and CPU time (``time_limit_s * cpus`` per process), enforces the wall-clock
  ``time_limit_s``, sets ``SUANWANG_TASK``, ``SUANWANG_ATTEMPT``, ``SUANWANG_SITE`` and
  ``SUANWANG_CHECKPOINT_DIR``, and records how the job ended. A relative ``checkpoint_dir`` is
  taken relative to ``workdir``.
* :meth:`LocalBackend.poll` reports every directory in ``workdir`` named ``<namespace>.*``:
  with ``exit.json``: succeeded (exit 0), failed (message ``exit 3``, ``killed by signal 9``,
  ``time limit``, ``cpu time limit``, ``memory limit`` when the job's stderr says it ran out of
  memory) or cancelled; otherwise running while the runner lives (pending until the job's
  process exists), and failed ``runner died`` once the runner is gone (pid liveness is checked
  with ``os.kill(pid, 0)`` and the start time in ``/proc``, so a reused pid does not count).
  A job whose runner never wrote its pid within :data:`LAUNCH_GRACE_S` of the claim is failed
  ``runner never started``. Either verdict is written to ``exit.json`` after what is left of the
  job's process group is killed, so it is final too.
* ``JobStatus.checkpoint`` is the stripped first 200 characters of ``CHECKPOINT`` in the job's
  checkpoint directory. Every configured site is always alive.
* :meth:`LocalBackend.cancel` writes the ``cancel`` marker and sends SIGTERM to the job's
  process group; the runner sends SIGKILL after a short grace and records ``cancelled``.
* The backend keeps the runners it started and reaps them in ``submit``, ``poll`` and
  ``close`` (no SIGCHLD handler); runners whose starter died are reaped by init.

Nothing is ever deleted: finished job directories stay until someone removes them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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
from suanwang.control.backends.local_runner import (
    CANCEL_FILE,
    EXIT_FILE,
    JOB_PID_FILE,
    PID_FILE,
    RUNNER_LOG_FILE,
    SPEC_FILE,
    exit_record,
    process_alive,
    process_start_time,
    read_json,
    signal_group,
    write_json_atomic,
)

RUNNER_MODULE = "suanwang.control.backends.local_runner"
LAUNCH_GRACE_S = 60.0
"""A claimed job directory without a runner pid after this long is failed (never started)."""

_SRC_ROOT = Path(__file__).resolve().parents[3]


def _physical_memory_mb() -> int:
    try:
        return max(1, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024))
    except (ValueError, OSError, AttributeError):
        return 1024


RUNNER_LOST = frozenset({"runner died", "runner never started"})
"""Verdicts that mean the machinery failed, not the job (reported as ``lost``)."""


class LocalBackend:
    """Jobs as subprocesses of this machine (see the module docstring for the contract)."""

    def __init__(
        self,
        name: str,
        namespace: str,
        sites: Iterable[str],
        *,
        workdir: Path,
        max_cpus: float | None = None,
        max_memory_mb: int | None = None,
    ) -> None:
        served = served_sites(namespace, sites)
        self.name = name
        self.namespace = namespace
        self.sites = served
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.capabilities = Capabilities(
            kind="local",
            executes=True,
            resource_limits=True,
            cancel=True,
            checkpoint_dir=True,
            survives_control_plane=True,
            max_cpus=float(max_cpus if max_cpus is not None else (os.cpu_count() or 1)),
            max_memory_mb=int(max_memory_mb if max_memory_mb else _physical_memory_mb()),
        )
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._specs: dict[str, dict[str, Any]] = {}
        self._finished: dict[str, JobStatus] = {}

    # --- the Backend protocol ----

    def submit(self, job: JobSpec) -> str:
        """Start ``job`` unless its directory exists; return the directory's path."""
        self._reap()
        self._check(job)
        jobdir = self.workdir / job.key
        try:
            jobdir.mkdir()
        except FileExistsError:
            return str(jobdir)
        except OSError as exc:
            raise BackendError(f"{self.name}: cannot claim {jobdir}: {exc}") from exc

        try:
            write_json_atomic(jobdir / SPEC_FILE, self._spec_record(job))
        except OSError as exc:
            self._write_exit(jobdir, exit_record("failed", f"cannot write spec: {exc}"))
            raise BackendError(f"{self.name}: cannot write the spec of {job.key}: {exc}") from exc

        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(_SRC_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        try:
            with open(jobdir / RUNNER_LOG_FILE, "ab") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", RUNNER_MODULE, str(jobdir)],
                    cwd=jobdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                    close_fds=True,
                )
        except OSError as exc:
            self._write_exit(jobdir, exit_record("failed", f"runner failed to start: {exc}"))
            return str(jobdir)
        self._children[job.key] = proc
        with contextlib.suppress(OSError):
            pid_path = jobdir / PID_FILE
            if not pid_path.exists():
                write_json_atomic(
                    pid_path, {"pid": proc.pid, "start": process_start_time(proc.pid)}
                )
        return str(jobdir)

    def poll(self) -> Poll:
        """Every job directory of this namespace, and all configured sites."""
        self._reap()
        prefix = self.namespace + "."
        jobs: dict[str, JobStatus] = {}
        try:
            entries = sorted(
                entry.name
                for entry in os.scandir(self.workdir)
                if entry.name.startswith(prefix) and entry.is_dir(follow_symlinks=False)
            )
        except OSError as exc:
            raise BackendError(f"{self.name}: cannot read {self.workdir}: {exc}") from exc
        for key in entries:
            status = self._status(key)
            if status is not None:
                jobs[key] = status
        return Poll(jobs=jobs, sites_alive=self.sites)

    def cancel(self, key: str) -> None:
        """Stop the job ``key`` if it runs; a no-op for unknown or finished jobs."""
        if not self._owns(key):
            return
        jobdir = self.workdir / key
        if not jobdir.is_dir() or (jobdir / EXIT_FILE).exists():
            return
        with contextlib.suppress(OSError), open(jobdir / CANCEL_FILE, "a", encoding="utf-8"):
            pass
        job_pid = read_json(jobdir / JOB_PID_FILE)
        if job_pid is not None:
            signal_group(int(job_pid.get("pgid", 0)), job_pid.get("start"), signal.SIGTERM)
        runner = read_json(jobdir / PID_FILE)
        if runner is not None and not process_alive(int(runner.get("pid", 0)), runner.get("start")):
            self._fence(jobdir, "runner died")  # nobody else will record the cancel

    def serve(self, site: str) -> None:
        """Serve ``site`` too (see :class:`Backend`)."""
        self.sites = self.sites | {site}

    def close(self) -> None:
        """Reap finished runners and forget the rest (jobs keep running)."""
        self._reap()
        self._children.clear()

    # --- helpers ----

    def _owns(self, key: str) -> bool:
        return bool(KEY_PATTERN.match(key)) and key.startswith(self.namespace + ".")

    def _check(self, job: JobSpec) -> None:
        check_job(self.name, self.namespace, frozenset(self.sites), self.capabilities, job)

    def _spec_record(self, job: JobSpec) -> dict[str, Any]:
        record = job.model_dump(mode="json")
        checkpoint = None
        if job.checkpoint_dir:
            checkpoint = str((self.workdir / job.checkpoint_dir).resolve())
        record.update(
            checkpoint_dir_abs=checkpoint,
            namespace=self.namespace,
            backend=self.name,
            submitted_at=time.time(),
            runner={"pythonpath": os.environ.get("PYTHONPATH")},
        )
        return record

    def _reap(self) -> None:
        for key, proc in list(self._children.items()):
            if proc.poll() is not None:
                del self._children[key]

    def _spec(self, key: str) -> dict[str, Any] | None:
        spec = self._specs.get(key)
        if spec is None:
            spec = read_json(self.workdir / key / SPEC_FILE)
            if spec is not None:
                self._specs[key] = spec
        return spec

    def _status(self, key: str) -> JobStatus | None:
        finished = self._finished.get(key)
        if finished is not None:
            return finished
        jobdir = self.workdir / key
        spec = self._spec(key)
        if spec is not None and spec.get("namespace", self.namespace) != self.namespace:
            return None  # a nested namespace's job that merely shares our prefix
        checkpoint = read_checkpoint(spec.get("checkpoint_dir_abs") if spec else None)

        record = read_json(jobdir / EXIT_FILE)
        if record is None:
            runner = read_json(jobdir / PID_FILE)
            if runner is None:
                if self._age(jobdir) < LAUNCH_GRACE_S:
                    return JobStatus(key=key, state=JobState.PENDING, checkpoint=checkpoint)
                record = self._fence(jobdir, "runner never started")
            elif process_alive(int(runner.get("pid", 0)), runner.get("start")):
                started = (jobdir / JOB_PID_FILE).exists()
                state = JobState.RUNNING if started else JobState.PENDING
                return JobStatus(key=key, state=state, checkpoint=checkpoint)
            else:
                record = read_json(jobdir / EXIT_FILE) or self._fence(jobdir, "runner died")

        status = self._from_record(key, record, checkpoint)
        self._finished[key] = status
        return status

    @staticmethod
    def _from_record(key: str, record: dict[str, Any], checkpoint: str | None) -> JobStatus:
        outcome = record.get("outcome")
        exit_code = record.get("exit_code")
        code = exit_code if isinstance(exit_code, int) else None
        if outcome == "cancelled" or record.get("cancelled"):
            return JobStatus(
                key=key,
                state=JobState.CANCELLED,
                exit_code=code,
                message="cancelled",
                checkpoint=checkpoint,
            )
        if outcome == "succeeded":
            return JobStatus(key=key, state=JobState.SUCCEEDED, exit_code=0, checkpoint=checkpoint)
        message = str(record.get("message") or (f"exit {code}" if code is not None else "failed"))
        return JobStatus(
            key=key,
            state=JobState.FAILED,
            exit_code=code,
            message=message,
            checkpoint=checkpoint,
            lost=message in RUNNER_LOST,
        )

    @staticmethod
    def _age(jobdir: Path) -> float:
        try:
            return time.time() - jobdir.stat().st_mtime
        except OSError:
            return 0.0

    def _fence(self, jobdir: Path, why: str) -> dict[str, Any]:
        """Kill what is left of a job whose runner is gone, and record its end for good."""
        job_pid = read_json(jobdir / JOB_PID_FILE)
        if job_pid is not None:
            signal_group(int(job_pid.get("pgid", 0)), job_pid.get("start"), signal.SIGKILL)
        if (jobdir / CANCEL_FILE).exists():
            record = exit_record("cancelled", "cancelled", cancelled=True)
        else:
            record = exit_record("failed", why)
        self._write_exit(jobdir, record)
        return read_json(jobdir / EXIT_FILE) or record

    @staticmethod
    def _write_exit(jobdir: Path, record: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            if not (jobdir / EXIT_FILE).exists():
                write_json_atomic(jobdir / EXIT_FILE, record)


__all__ = ["LAUNCH_GRACE_S", "LocalBackend", "read_checkpoint"]
