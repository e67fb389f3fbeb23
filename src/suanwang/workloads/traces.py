"""Public cluster traces as tasks: Alibaba GPU 2023 pods and GAIA (Azure, PAI) jobs.

Neither trace is shipped (the Alibaba 2023 trace is for research or study only; see
``shared/data/traces/SOURCE.md``): pass the path of a copy. The traces say nothing about where
their users are, so each task's origin is drawn by population from the world's countries
(:func:`~suanwang.core.scheduling.workload.population_origins`) with a generator seeded by
``seed``; the same file, world and seed always give the same tasks.

Each loader has two forms: ``alibaba_gpu_2023`` / ``gaia`` return the tasks in file order, and
the ``*_arrivals`` forms return :class:`Arrival` pairs that keep each task's submission time
(a :class:`~suanwang.core.tasks.TaskSpec` has no arrival field). Times are laid out from
``start``: a task that arrives ``x`` hours into the trace arrives at ``start + x h``.

Durations are rounded up to a multiple of ``quantum_hours`` (0.25 h by default, at least one
quantum, at most 366 days), so tasks of the same shape are identical apart from their name.

Errors: a missing file, a missing column or a malformed value raises :class:`TraceError`
naming the file and line.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from suanwang.core.errors import SuanwangError
from suanwang.core.scheduling.workload import (
    SLA_MS,
    pick,
    population_origins,
    quantise_hours,
)
from suanwang.core.tasks import Demand, LatencyMode, LatencySLA, Origin, TaskSpec
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.units import ComputeClass
from suanwang.core.world import World

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
"""Where trace time zero is placed unless the caller says otherwise."""

MAX_HOURS = 24.0 * 366
"""The longest duration a task may state."""

ALIBABA_VARIANTS = {
    "default": "openb_pod_list_default.csv",
    "gpushare100": "openb_pod_list_gpushare100.csv",
}
"""Pod lists with timing and QoS columns. ``multigpu50`` has neither, so it is not mapped."""

ALIBABA_GPU_MODELS = {
    "T4": "nvidia-t4",
    "A10": "nvidia-a10",
    "V100M16": "nvidia-v100",
    "V100M32": "nvidia-v100",
}
"""``gpu_spec`` codes of the Alibaba trace that name a model of the unit table. P100 has no
entry in the table and G1/G2/G3 are undisclosed, so those stay unit demands."""

ALIBABA_REFERENCE_GPU = "nvidia-t4"
"""The GPU a pod's GPU count is measured in when ``gpu_spec`` names no known model: the T4, the
most common disclosed model of the trace's nodes (404 of 1,213 GPU nodes)."""

GENERAL_REFERENCE_CORE = "intel-xeon-8380"
"""A trace CPU core (or vCPU) counts as one core of the general unit's reference CPU (1 GCU)."""


class TraceError(SuanwangError, ValueError):
    """A trace file is missing, lacks a column or holds a malformed value."""


@dataclass(frozen=True, slots=True)
class Arrival:
    """A task and the moment it is submitted."""

    at: datetime
    task: TaskSpec


def _rows(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line number, row)`` for each data row of a CSV file with the ``required`` columns."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise TraceError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or ())]
        if missing:
            raise TraceError(f"{path}: missing column(s) {', '.join(missing)}")
        for row in reader:
            yield reader.line_num, row


def _number(row: dict[str, str], column: str, where: str) -> float:
    raw = (row.get(column) or "").strip()
    try:
        value = float(raw)
    except ValueError:
        raise TraceError(f"{where}: {column} {raw!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise TraceError(f"{where}: {column} {raw!r} must be a finite number >= 0")
    return value


def _origins(world: World, count: int, seed: int) -> tuple[list[Origin], np.random.Generator]:
    origins, weights = population_origins(world)
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(origins), size=count, p=weights)
    return [origins[int(i)] for i in picked], rng


def _hours(hours: float, quantum_hours: float) -> float:
    return min(quantise_hours(hours, quantum_hours), MAX_HOURS)


def _check(n: int | None, quantum_hours: float, start: datetime) -> None:
    if n is not None and n < 0:
        raise ValueError(f"n must be >= 0 or None, got {n}")
    if not quantum_hours > 0:
        raise ValueError(f"quantum_hours must be > 0, got {quantum_hours}")
    if start.utcoffset() is None:
        raise ValueError("start must include a timezone")


# --- Alibaba GPU 2023 -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Pod:
    name: str
    cpu_milli: float
    num_gpu: int
    gpu_milli: float
    gpu_spec: str
    qos: str
    created_s: float
    deleted_s: float | None


def _pods(path: Path, n: int | None) -> list[_Pod]:
    columns = (
        "name",
        "cpu_milli",
        "num_gpu",
        "gpu_milli",
        "qos",
        "creation_time",
        "deletion_time",
    )
    pods: list[_Pod] = []
    for line, row in _rows(path, columns):
        if n is not None and len(pods) >= n:
            break
        where = f"{path}: line {line}"
        deleted = (row.get("deletion_time") or "").strip()
        pods.append(
            _Pod(
                name=row["name"].strip(),
                cpu_milli=_number(row, "cpu_milli", where),
                num_gpu=int(_number(row, "num_gpu", where)),
                gpu_milli=_number(row, "gpu_milli", where),
                gpu_spec=(row.get("gpu_spec") or "").strip(),
                qos=row["qos"].strip(),
                created_s=_number(row, "creation_time", where),
                deleted_s=_number(row, "deletion_time", where) if deleted else None,
            )
        )
    return pods


def _gpu_demand(pod: _Pod, world_models: set[str], reference_gpu: str) -> Demand:
    """A GPU pod's AI demand: a model and count when ``gpu_spec`` pins one model the world
    sells, else normalized units (the slowest model ``gpu_spec`` allows, else the reference)."""
    share = pod.gpu_milli / 1000.0 if pod.num_gpu == 1 and pod.gpu_milli > 0 else pod.num_gpu
    known = sorted(
        {ALIBABA_GPU_MODELS[c] for c in pod.gpu_spec.split("|") if c in ALIBABA_GPU_MODELS}
    )
    if len(known) == 1 and known[0] in world_models:
        return Demand(compute_class=ComputeClass.AI, model=known[0], count=share)
    rating = min(
        (UNIT_TABLE.model(m).rating(ComputeClass.AI) for m in known),
        default=UNIT_TABLE.model(reference_gpu).rating(ComputeClass.AI),
    )
    return Demand(compute_class=ComputeClass.AI, units=round(share * rating, 4))


def alibaba_gpu_2023_arrivals(
    path_dir: str | Path,
    world: World,
    n: int | None = None,
    *,
    variant: str = "default",
    seed: int = 0,
    start: datetime = DEFAULT_START,
    max_wait_hours: float = 24.0,
    quantum_hours: float = 0.25,
    reference_gpu: str = ALIBABA_REFERENCE_GPU,
) -> list[Arrival]:
    """The first ``n`` pods (all when ``None``) of an Alibaba GPU 2023 pod list, as tasks.

    ``path_dir`` is the ``alibaba-gpu-v2023`` folder; ``variant`` picks the file (keys of
    :data:`ALIBABA_VARIANTS`). Mapping of a pod:

    * name: the pod's ``name``; tenant ``alibaba-openb``.
    * demand: a pod with GPUs asks for AI compute: ``gpu_milli / 1000`` of one GPU when
      ``num_gpu`` is 1 (GPU sharing), else ``num_gpu`` GPUs. When ``gpu_spec`` names exactly
      one model of the unit table (``T4``, ``A10``, ``V100M16``/``V100M32``) and a pool of
      ``world`` sells it, the demand is that model and that count; otherwise it is
      normalized units: the count times the AI rating of the slowest model ``gpu_spec``
      allows, or of ``reference_gpu`` (T4) when it names none. A pod without GPUs asks for
      ``cpu_milli / 1000`` general units (one trace core = 1 GCU). Memory is not mapped
      (the trace's ``memory_mib`` is host memory).
    * duration: ``deletion_time - creation_time`` (seconds), rounded up to the quantum; a pod
      without ``deletion_time`` lasts to the last timestamp of the file.
    * arrival: ``start + creation_time``.
    * ``qos``: ``LS`` and ``Guaranteed`` pods get a round-trip latency SLA drawn from
      {20, 50, 100, 150} ms (weights of :data:`~suanwang.core.scheduling.workload.SLA_MS`);
      ``BE`` pods are deferrable with deadline ``arrival + duration + max_wait_hours``;
      ``Burstable`` and other pods get neither.
    * origin: drawn by population; data class, sector and budget keep their defaults.

    Raises:
        TraceError: unknown variant, missing file or column, or a malformed value.
        ValueError: a negative ``n``, a naive ``start`` or a non-positive quantum.
    """
    _check(n, quantum_hours, start)
    if variant not in ALIBABA_VARIANTS:
        known = ", ".join(sorted(ALIBABA_VARIANTS))
        raise TraceError(f"unknown Alibaba GPU 2023 variant {variant!r} (known: {known})")
    path = Path(path_dir) / ALIBABA_VARIANTS[variant]
    pods = _pods(path, n)
    trace_end = max(
        (t for p in pods for t in (p.created_s, p.deleted_s) if t is not None), default=0.0
    )
    origins, rng = _origins(world, len(pods), seed)
    ai_models = {
        p.model for s in world.sites for p in s.pools if p.compute_class is ComputeClass.AI
    }
    core = UNIT_TABLE.model(GENERAL_REFERENCE_CORE).rating(ComputeClass.GENERAL)
    out: list[Arrival] = []
    for pod, origin in zip(pods, origins, strict=True):
        where = f"{path}: pod {pod.name}"
        if pod.num_gpu > 0:
            demand = _gpu_demand(pod, ai_models, reference_gpu)
        elif pod.cpu_milli > 0:
            demand = Demand(
                compute_class=ComputeClass.GENERAL, units=round(pod.cpu_milli / 1000 * core, 4)
            )
        else:
            raise TraceError(f"{where}: asks for neither GPUs nor CPU")
        end = pod.deleted_s if pod.deleted_s is not None else trace_end
        hours = _hours(max(end - pod.created_s, 0.0) / 3600.0, quantum_hours)
        arrival = start + timedelta(seconds=pod.created_s)
        sla = None
        deferrable = pod.qos == "BE"
        if pod.qos in ("LS", "Guaranteed"):
            sla = LatencySLA(max_ms=pick(rng, SLA_MS), mode=LatencyMode.ROUND_TRIP)
        task = TaskSpec(
            name=pod.name,
            tenant="alibaba-openb",
            demand=demand,
            duration_hours=hours,
            origin=origin,
            latency_sla=sla,
            deadline=arrival + timedelta(hours=hours + max_wait_hours) if deferrable else None,
            deferrable=deferrable,
        )
        out.append(Arrival(at=arrival, task=task))
    return out


def alibaba_gpu_2023(
    path_dir: str | Path,
    world: World,
    n: int | None = None,
    *,
    variant: str = "default",
    seed: int = 0,
    start: datetime = DEFAULT_START,
    max_wait_hours: float = 24.0,
    quantum_hours: float = 0.25,
    reference_gpu: str = ALIBABA_REFERENCE_GPU,
) -> list[TaskSpec]:
    """The tasks of :func:`alibaba_gpu_2023_arrivals`, in file order."""
    arrivals = alibaba_gpu_2023_arrivals(
        path_dir,
        world,
        n,
        variant=variant,
        seed=seed,
        start=start,
        max_wait_hours=max_wait_hours,
        quantum_hours=quantum_hours,
        reference_gpu=reference_gpu,
    )
    return [a.task for a in arrivals]


# --- GAIA -------------------------------------------------------------------------------------


def gaia_arrivals(
    path_csv: str | Path,
    world: World,
    n: int | None = None,
    seed: int = 0,
    *,
    start: datetime = DEFAULT_START,
    max_wait_hours: float = 24.0,
    quantum_hours: float = 0.25,
) -> list[Arrival]:
    """The first ``n`` jobs (all when ``None``) of a GAIA trace (``azure-100k.csv``,
    ``pai-100k.csv``: ``arrival_time``, ``length``, ``cpus``), as general-class tasks.

    Mapping of a job (row ``i``, counted from 1):

    * name ``{file stem}-{i:06d}`` (``azure-100k-000001``); tenant ``gaia-{first word of the
      stem}`` (``gaia-azure``).
    * demand: ``cpus`` general units (one trace CPU = 1 GCU, a reference core; Azure's vCPUs
      are hyperthreads, so this errs on the large side). The PAI sample's CPU counts stand
      for GPU jobs, but the file has no GPU column, so they stay general.
    * duration: ``length`` hours rounded up to the quantum.
    * arrival: ``start + arrival_time`` hours.
    * deferrable, with deadline ``arrival + duration + max_wait_hours`` (GAIA studies how
      long batch jobs may wait for cleaner or cheaper power).
    * origin: drawn by population; no SLA, no budget, default data class and sector.

    Raises:
        TraceError: missing file or column, or a malformed value.
        ValueError: a negative ``n``, a naive ``start`` or a non-positive quantum.
    """
    _check(n, quantum_hours, start)
    path = Path(path_csv)
    stem = path.stem.lower()
    jobs: list[tuple[float, float, float]] = []
    for line, row in _rows(path, ("arrival_time", "length", "cpus")):
        if n is not None and len(jobs) >= n:
            break
        where = f"{path}: line {line}"
        cpus = _number(row, "cpus", where)
        if cpus <= 0:
            raise TraceError(f"{where}: cpus must be > 0")
        jobs.append((_number(row, "arrival_time", where), _number(row, "length", where), cpus))
    origins, _ = _origins(world, len(jobs), seed)
    word = "".join(ch for ch in stem.split("-")[0] if ch.isascii() and ch.isalnum())
    tenant = f"gaia-{word}" if word else "gaia"
    core = UNIT_TABLE.model(GENERAL_REFERENCE_CORE).rating(ComputeClass.GENERAL)
    out: list[Arrival] = []
    for i, ((arrival_h, length_h, cpus), origin) in enumerate(zip(jobs, origins, strict=True), 1):
        hours = _hours(length_h, quantum_hours)
        arrival = start + timedelta(hours=arrival_h)
        task = TaskSpec(
            name=f"{stem}-{i:06d}",
            tenant=tenant,
            demand=Demand(compute_class=ComputeClass.GENERAL, units=cpus * core),
            duration_hours=hours,
            origin=origin,
            deadline=arrival + timedelta(hours=hours + max_wait_hours),
            deferrable=True,
        )
        out.append(Arrival(at=arrival, task=task))
    return out


def gaia(
    path_csv: str | Path,
    world: World,
    n: int | None = None,
    seed: int = 0,
    *,
    start: datetime = DEFAULT_START,
    max_wait_hours: float = 24.0,
    quantum_hours: float = 0.25,
) -> list[TaskSpec]:
    """The tasks of :func:`gaia_arrivals`, in file order."""
    arrivals = gaia_arrivals(
        path_csv,
        world,
        n,
        seed,
        start=start,
        max_wait_hours=max_wait_hours,
        quantum_hours=quantum_hours,
    )
    return [a.task for a in arrivals]
