"""What every execution backend offers the runtime: submit, poll, cancel, by dispatch key.

The contract every backend keeps:

* **Idempotent submission.** ``submit(job)`` starts at most one job per ``job.key``, ever:
  calling it again with the same key (after a crash of the control plane, say) returns the
  existing job's handle and starts nothing. The key is the dispatch key the engine made
  (``<namespace>.<task>.<attempt>``, characters ``[A-Za-z0-9._-]``).
* **Jobs outlive the control plane.** A job keeps running when the process that submitted it
  dies; a new backend object for the same configuration sees it again in ``poll``.
* **poll() reports every job in the backend's namespace** that it still knows of, so that a
  restarted runtime can reconcile: jobs it does not expect are cancelled (fenced), jobs it
  expects that are missing are declared lost.
* **cancel(key) is idempotent** and never raises for an unknown or finished job.
* A job that died with its site, node or runner is reported failed with ``lost=True``: the
  runtime then moves the task rather than failing it.
* Errors talking to the engine raise :class:`BackendError` (the runtime counts them and treats
  the backend's sites as silent for that tick).

Capabilities are data (:class:`Capabilities`), so the scheduler and the docs can read them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import Field, field_validator

from suanwang.core.base import Frozen
from suanwang.core.errors import SuanwangError

KEY_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
CHECKPOINT_FILE = "CHECKPOINT"
"""The file in a job's checkpoint directory whose text is reported as its progress."""
CHECKPOINT_CHARS = 200


def read_checkpoint(checkpoint_dir: str | None) -> str | None:
    """The stripped start of ``CHECKPOINT`` in ``checkpoint_dir``; None if absent or empty."""
    if not checkpoint_dir:
        return None
    try:
        with open(Path(checkpoint_dir) / CHECKPOINT_FILE, "rb") as handle:
            raw = handle.read(4 * CHECKPOINT_CHARS + 64)
    except OSError:
        return None
    text = raw.decode("utf-8", "replace").strip()[:CHECKPOINT_CHARS].strip()
    return text or None


class BackendError(SuanwangError):
    """The backend's engine could not be reached or refused a request."""


class JobState(StrEnum):
    """A job as its backend sees it."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class Capabilities(Frozen):
    """What a backend can do, declared as data."""

    kind: str = Field(description="local, slurm, ray or sim")
    executes: bool = Field(description="runs the task's command for real (False: simulated)")
    resource_limits: bool = Field(description="enforces the job's CPU and memory limits")
    cancel: bool = True
    checkpoint_dir: bool = Field(
        default=False, description="gives the job a directory that survives its attempts"
    )
    survives_control_plane: bool = Field(
        default=True, description="jobs keep running when the control plane dies"
    )
    max_cpus: float = Field(default=1.0, gt=0)
    max_memory_mb: int = Field(default=1024, gt=0)
    time_scale: float = Field(default=1.0, gt=0, description="task hours per real hour")


class JobSpec(Frozen):
    """One attempt of one task, as a backend runs it."""

    key: str = Field(description="dispatch key; at most one job per key, ever")
    task: str
    attempt: int = Field(ge=1)
    site: str
    command: tuple[str, ...] = Field(
        default=(), description="argv; empty runs nothing and succeeds at once"
    )
    env: dict[str, str] = Field(default_factory=dict)
    cpus: float = Field(default=1.0, gt=0)
    memory_mb: int = Field(default=512, gt=0)
    time_limit_s: int = Field(default=3600, gt=0)
    checkpoint_dir: str | None = Field(
        default=None, description="directory shared by every attempt of the task"
    )
    sim_seconds: float = Field(
        default=0.0, ge=0, description="how long a simulated run takes, in real seconds"
    )

    @field_validator("key")
    @classmethod
    def _key_chars(cls, value: str) -> str:
        if not KEY_PATTERN.match(value):
            raise ValueError("a dispatch key uses only letters, digits, '.', '_' and '-'")
        return value


class JobStatus(Frozen):
    """What the backend knows of one job."""

    key: str
    state: JobState
    exit_code: int | None = None
    message: str = ""
    checkpoint: str | None = Field(
        default=None, description="the job's latest checkpoint reference, if it wrote one"
    )
    lost: bool = Field(
        default=False,
        description="a failure of the infrastructure (site, node, runner), not of the job: the "
        "runtime moves the task instead of failing it",
    )


class Poll(Frozen):
    """One look at a backend: its jobs and which of its sites answered."""

    jobs: dict[str, JobStatus] = Field(default_factory=dict)
    sites_alive: frozenset[str] = frozenset()


@runtime_checkable
class Backend(Protocol):
    """An execution engine behind one or more sites (see the module docstring)."""

    name: str
    capabilities: Capabilities

    def submit(self, job: JobSpec) -> str:
        """Start ``job`` unless a job with its key exists; return the engine's handle."""
        ...

    def poll(self) -> Poll:
        """Every job in this backend's namespace and the sites that answered."""
        ...

    def cancel(self, key: str) -> None:
        """Stop the job with ``key`` if it runs; never raises for unknown or finished jobs."""
        ...

    def close(self) -> None:
        """Release clients and connections (jobs keep running)."""
        ...

    def serve(self, site: str) -> None:
        """Serve ``site`` too (a provider registered it while the runtime ran)."""
        ...


def check_job(
    name: str, namespace: str, sites: frozenset[str], caps: Capabilities, job: JobSpec
) -> None:
    """What every backend refuses before it starts anything.

    Raises:
        ValueError: the key is outside the backend's namespace (a caller's bug).
        BackendError: the site is not served here, or the job asks for more than fits.
    """
    if not (KEY_PATTERN.match(job.key) and job.key.startswith(namespace + ".")):
        raise ValueError(f"key {job.key!r} is not in namespace {namespace!r}")
    if job.site not in sites:
        raise BackendError(f"{name}: site {job.site!r} is not served here")
    if job.cpus > caps.max_cpus:
        raise BackendError(f"{name}: {job.key} asks {job.cpus} CPUs, at most {caps.max_cpus} here")
    if job.memory_mb > caps.max_memory_mb:
        raise BackendError(
            f"{name}: {job.key} asks {job.memory_mb} MB, at most {caps.max_memory_mb} here"
        )


def served_sites(namespace: str, sites: Iterable[str]) -> frozenset[str]:
    """What every backend checks when it is built: a usable namespace and at least one site.

    Raises:
        ValueError: a namespace a dispatch key cannot start with, or no site.
    """
    if not KEY_PATTERN.match(namespace) or namespace.startswith("."):
        raise ValueError(f"bad namespace {namespace!r}")
    served = frozenset(sites)
    if not served:
        raise ValueError("a backend serves at least one site")
    return served
