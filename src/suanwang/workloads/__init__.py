"""Workloads from files: public cluster traces mapped onto tasks for a world.

The synthetic generator is pure and lives in :mod:`suanwang.core.scheduling.workload`; this
package reads files (the shell side).
"""

from suanwang.workloads.traces import (
    Arrival,
    TraceError,
    alibaba_gpu_2023,
    alibaba_gpu_2023_arrivals,
    gaia,
    gaia_arrivals,
)

__all__ = [
    "Arrival",
    "TraceError",
    "alibaba_gpu_2023",
    "alibaba_gpu_2023_arrivals",
    "gaia",
    "gaia_arrivals",
]
