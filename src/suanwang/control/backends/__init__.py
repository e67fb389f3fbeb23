"""Execution backends (local, Slurm, Ray, simulated) behind one contract (:mod:`.base`)."""

from suanwang.control.backends.base import (
    Backend,
    BackendError,
    Capabilities,
    JobSpec,
    JobState,
    JobStatus,
    Poll,
)

__all__ = ["Backend", "BackendError", "Capabilities", "JobSpec", "JobState", "JobStatus", "Poll"]
