"""Ray backend: every attempt is a Ray job, submitted through Ray's Job Submission API.

The contract of :mod:`suanwang.control.backends.base`, kept with Ray's own guarantees:

* **Idempotent submission.** The dispatch key is the Ray ``submission_id``, which a Ray
  cluster accepts once, ever. ``submit`` first asks for the job (``get_job_info``) and
  returns the key if it exists; if two submitters race, Ray refuses the second, and
  ``submit`` then finds the job and returns its key as well.
* **Jobs outlive the control plane.** A Ray job belongs to the Ray cluster, not to the
  process that submitted it. A new ``RayBackend`` for the same address and namespace sees
  it again in ``poll``: everything it needs (the checkpoint dir, say) is stored in the
  job's Ray metadata (keys ``suanwang.*``), nothing in this object.
* **poll() lists every Ray job whose submission id starts with** ``<namespace>.``, finished
  ones included (Ray keeps them until they are deleted), mapped as PENDING -> pending,
  RUNNING -> running, SUCCEEDED -> succeeded, FAILED -> failed (Ray's message, the
  entrypoint's exit code, or 1 when Ray gives none, e.g. the job never started) and
  STOPPED -> cancelled. A job that wrote ``CHECKPOINT`` into its checkpoint dir reports
  the file's stripped content (first 200 characters) as its checkpoint.
* **cancel(key)** is ``stop_job``: Ray sends SIGTERM to the job's processes, SIGKILL after
  a grace period, and marks the job STOPPED; an unknown or finished job is no error.
* **Errors** talking to the Ray dashboard (down, refusing, timing out) raise
  :class:`BackendError`; every configured site counts as alive exactly when it answers.

How a job runs: the entrypoint is ``cd <workdir>/<key> && exec timeout -k 10
<time_limit_s> <shlex.join(command)>`` (no ``timeout`` when the node lacks it; ``true`` for
an empty command) with the job's ``env`` plus ``SUANWANG_TASK``, ``SUANWANG_ATTEMPT``,
``SUANWANG_SITE`` and ``SUANWANG_CHECKPOINT_DIR`` (when the job has one; a relative one is
taken relative to ``workdir``, and made at submission) as the runtime env's ``env_vars``.
A job past its time limit fails with exit code 124.

Resources: ``entrypoint_num_cpus = job.cpus`` and ``entrypoint_memory = job.memory_mb`` MiB
are *reservations* that Ray's scheduler honours (a job waits in PENDING until a node has
them free; one larger than every node stays PENDING until Ray gives up, after 15 minutes by
default), not limits: Ray does not stop a job from using more, so ``resource_limits`` is
False. ``max_cpus`` and ``max_memory_mb`` (default 2 CPUs and 4096 MB) say what one job may
ask for, and ``submit`` refuses a larger job with :class:`BackendError`; keep them within the
largest Ray node (a head offers its ``num_cpus`` and, as ``memory``, the memory available
when it started less its object store; on a small machine a job's ``memory_mb`` can thus
exceed every node and stay PENDING).

Files: the working dirs and checkpoint dirs are paths on the Ray nodes *and* on the control
plane host (which reads ``CHECKPOINT``), so for a multi-host cluster they must live on a
shared file system. The backend's sites all map to the one cluster; Ray does not place a
job on the node of its site.

Ray is imported only when a ``RayBackend`` is made, so this module imports without it.
"""

from __future__ import annotations

import shlex
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
    read_checkpoint,
)

INSTALL_HINT = "pip install 'suanwang[ray]'"
MESSAGE_CHARS = 2000
META_PREFIX = "suanwang."
KILL_AFTER_S = 10
DEFAULT_MAX_CPUS = 2.0
DEFAULT_MAX_MEMORY_MB = 4096

_STATES = {
    "PENDING": JobState.PENDING,
    "RUNNING": JobState.RUNNING,
    "SUCCEEDED": JobState.SUCCEEDED,
    "FAILED": JobState.FAILED,
    "STOPPED": JobState.CANCELLED,
}


def _client_class(timeout_s: float) -> Any:
    """Ray's ``JobSubmissionClient`` with a timeout on every HTTP request."""
    try:
        from ray.job_submission import JobSubmissionClient
    except ImportError as exc:
        raise BackendError(f"the Ray backend needs Ray: {INSTALL_HINT} ({exc})") from exc

    class _TimedClient(JobSubmissionClient):
        # Ray's client sends its requests without a timeout; a hung dashboard would hang
        # the control plane's tick. ``_do_request`` is where all of them go.
        def _do_request(self, method: str, endpoint: str, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", timeout_s)
            return super()._do_request(method, endpoint, **kwargs)

    if not hasattr(JobSubmissionClient, "_do_request"):  # a Ray that moved it: no timeout
        return JobSubmissionClient
    return _TimedClient


def _missing(exc: BaseException) -> bool:
    """True when Ray's client error says the job does not exist (HTTP 404)."""
    text = str(exc)
    return "status code 404" in text or "does not exist" in text


def _entrypoint(job: JobSpec, rundir: Path) -> str:
    command = shlex.join(job.command) if job.command else "true"
    limit = f"timeout -k {KILL_AFTER_S} {job.time_limit_s}"
    run = (
        f"if command -v timeout >/dev/null 2>&1; then exec {limit} {command}; "
        f"else exec {command}; fi"
    )
    return f"cd {shlex.quote(str(rundir))} && {run}"


class RayBackend:
    """Runs jobs on a Ray cluster through its Job Submission API (see the module docstring)."""

    def __init__(
        self,
        name: str,
        namespace: str,
        sites: Iterable[str],
        *,
        address: str = "http://127.0.0.1:8265",
        workdir: Path,
        max_cpus: float | None = None,
        max_memory_mb: int | None = None,
        request_timeout_s: float = 10.0,
    ) -> None:
        if not KEY_PATTERN.match(namespace):
            raise ValueError("a namespace uses only letters, digits, '.', '_' and '-'")
        self.name = name
        self.namespace = namespace
        self.sites = tuple(sites)
        self.address = address.rstrip("/")
        self.workdir = Path(workdir).resolve()
        self.request_timeout_s = request_timeout_s
        self.capabilities = Capabilities(
            kind="ray",
            executes=True,
            resource_limits=False,
            checkpoint_dir=True,
            survives_control_plane=True,
            max_cpus=max_cpus if max_cpus is not None else DEFAULT_MAX_CPUS,
            max_memory_mb=max_memory_mb if max_memory_mb is not None else DEFAULT_MAX_MEMORY_MB,
        )
        self._client_cls = _client_class(request_timeout_s)
        self._client_obj: Any = None

    def __repr__(self) -> str:
        return f"RayBackend({self.name!r}, namespace={self.namespace!r}, {self.address})"

    # -- talking to Ray -----------------------------------------------------------------

    def _client(self) -> Any:
        if self._client_obj is None:
            try:
                self._client_obj = self._client_cls(self.address)
            except Exception as exc:
                raise self._error("connect to", exc) from exc
        return self._client_obj

    def _error(self, what: str, exc: BaseException) -> BackendError:
        # Ray's errors may carry a server traceback: its last meaningful line says most.
        lines = [line.strip() for line in str(exc).splitlines() if len(line.strip()) > 2]
        reason = lines[-1] if lines else type(exc).__name__
        return BackendError(
            f"Ray backend {self.name!r}: could not {what} the Ray Job API at {self.address}: "
            f"{reason[:MESSAGE_CHARS]}"
        )

    def _info(self, key: str) -> Any | None:
        """Ray's JobDetails for ``key``, or None when Ray has no such job."""
        client = self._client()
        try:
            return client.get_job_info(key)
        except Exception as exc:
            if _missing(exc):
                return None
            raise self._error(f"look up job {key} at", exc) from exc

    # -- the Backend protocol -----------------------------------------------------------

    def submit(self, job: JobSpec) -> str:
        """Start ``job`` as the Ray job ``job.key`` unless that job exists; return the key."""
        key = job.key
        if not key.startswith(self.namespace + "."):
            raise ValueError(f"job key {key!r} is outside namespace {self.namespace!r}")
        if self._info(key) is not None:
            return key
        caps = self.capabilities
        if job.cpus > caps.max_cpus or job.memory_mb > caps.max_memory_mb:
            raise BackendError(
                f"{self.name}: {key} asks {job.cpus} CPUs and {job.memory_mb} MB, at most "
                f"{caps.max_cpus} CPUs and {caps.max_memory_mb} MB here"
            )
        rundir = self.workdir / key
        checkpoint_dir = ""
        if job.checkpoint_dir:  # a relative one is relative to workdir
            checkpoint_dir = str((self.workdir / job.checkpoint_dir).resolve())
        try:
            rundir.mkdir(parents=True, exist_ok=True)
            if checkpoint_dir:
                Path(checkpoint_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(f"Ray backend {self.name!r}: cannot make job dirs: {exc}") from exc
        env = dict(job.env)
        env.update(
            SUANWANG_TASK=job.task,
            SUANWANG_ATTEMPT=str(job.attempt),
            SUANWANG_SITE=job.site,
        )
        if checkpoint_dir:
            env["SUANWANG_CHECKPOINT_DIR"] = checkpoint_dir
        metadata = {
            META_PREFIX + "backend": self.name,
            META_PREFIX + "namespace": self.namespace,
            META_PREFIX + "task": job.task,
            META_PREFIX + "attempt": str(job.attempt),
            META_PREFIX + "site": job.site,
            META_PREFIX + "checkpoint_dir": checkpoint_dir,
            META_PREFIX + "workdir": str(rundir),
        }
        client = self._client()
        try:
            return str(
                client.submit_job(
                    entrypoint=_entrypoint(job, rundir),
                    submission_id=key,
                    runtime_env={"env_vars": env},
                    metadata=metadata,
                    entrypoint_num_cpus=job.cpus,
                    entrypoint_memory=job.memory_mb * 2**20,
                )
            )
        except Exception as exc:
            # Another submitter won the race for this key: Ray keeps its job, so do we.
            if self._info(key) is not None:
                return key
            raise self._error(f"submit job {key} to", exc) from exc

    def poll(self) -> Poll:
        """Every Ray job of this namespace; all sites alive when the Job API answers."""
        client = self._client()
        try:
            details = client.list_jobs()
        except Exception as exc:
            raise self._error("list jobs at", exc) from exc
        prefix = self.namespace + "."
        jobs: dict[str, JobStatus] = {}
        for info in details:
            key = getattr(info, "submission_id", None)
            if isinstance(key, str) and key.startswith(prefix) and KEY_PATTERN.match(key):
                jobs[key] = self._status(key, info)
        return Poll(jobs=jobs, sites_alive=frozenset(self.sites))

    def _status(self, key: str, info: Any) -> JobStatus:
        raw = str(getattr(info.status, "value", info.status))
        state = _STATES.get(raw, JobState.PENDING)
        message = str(info.message or "")
        if raw not in _STATES:
            message = f"Ray job status {raw}: {message}"
        exit_code: int | None = None
        if state is JobState.SUCCEEDED:
            exit_code = 0
        elif state is JobState.FAILED:
            code = getattr(info, "driver_exit_code", None)
            exit_code = int(code) if code is not None else 1
        metadata = info.metadata or {}
        checkpoint = read_checkpoint(str(metadata.get(META_PREFIX + "checkpoint_dir", "")))
        return JobStatus(
            key=key,
            state=state,
            exit_code=exit_code,
            message=message[:MESSAGE_CHARS],
            checkpoint=checkpoint,
        )

    def cancel(self, key: str) -> None:
        """Stop the Ray job ``key``; nothing happens for an unknown or finished job."""
        client = self._client()
        try:
            client.stop_job(key)
        except Exception as exc:
            if _missing(exc):
                return
            raise self._error(f"stop job {key} at", exc) from exc

    def serve(self, site: str) -> None:
        """Serve ``site`` too (see :class:`Backend`)."""
        if site not in self.sites:
            self.sites = (*self.sites, site)

    def close(self) -> None:
        """Forget the client (it holds no connection between requests); jobs keep running."""
        self._client_obj = None
