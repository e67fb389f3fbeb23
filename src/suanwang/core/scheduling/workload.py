"""Synthetic workloads for a world: a realistic, quantised mix of tasks shaped on public traces.

Pure: every random draw comes from the ``numpy.random.Generator`` the caller passes, so the same
seed gives the same tasks, and no clock is read (the caller passes ``start``).

**Recurring applications.** Real clusters run a few shapes over and over (in the Alibaba GPU
2023 trace, ``openb_pod_list_default.csv``, one CPU/memory shape is 20 % of the 8,152 pods).
:func:`generate_tasks` therefore first draws a catalogue of applications per tier (about
``4 * sqrt(n)`` in all, at least 12), each a complete task shape, and then draws every task as an
application (Zipf popularity, exponent 1.1, within its tier) submitted from an origin country.
Every value comes from a small set (durations on a 0.25 h grid, sizes and budgets on a 1-2-5
series, SLAs from four values), so tasks of one application from one country are identical
apart from their name, and a scheduler can group them.

**Tiers** (shares of tasks; :func:`tier_of` recovers the tier of a task):

* ``inference``, 40 %: latency-sensitive serving. The inference : AI-batch ratio (40 : 25) is
  close to the LS : BE pod ratio of the Alibaba GPU 2023 default trace (57 : 42). Demand per the
  trace's LS pods, with GPU shares rounded up to quarter GPUs: 14 % CPU only (1-8 cores), 5 %
  a quarter GPU, 12 % half a GPU, 66 % one GPU, 3 % two GPUs (the trace has 11 % at most half a
  GPU, 74 % one GPU or a fraction above a half, 1 % several GPUs; its BE pods supply the quarter
  shares). Reference GPU: T4 35 %, L40S 25 %, A10 10 %, A100 15 %, H100 15 %. Duration: the
  trace's LS pod lifetimes rounded up to {0.25, 0.5, 1, 2, 4, 8, 24} h with weights
  {54, 16, 12, 10, 4, 2, 2} %. SLA: 20/50/100/150 ms with weights 15/35/30/20 %, round trip
  70 %, one-way 30 %. No input data, no deadline.
* ``training``, 25 %: AI batch. 1/2/4/8 GPUs with weights 60/12/12/16 % (between the default
  trace, 99 % single-GPU, and its ``multigpu50`` variant, 7 % 8-GPU pods). Reference GPU: H100
  35 %, A100 30 %, Ascend 910B 10 %, H200 10 %, V100 5 %, MI300X 5 %, L40S 5 %. Duration:
  log-normal fitted to GAIA ``pai-100k.csv`` job lengths (Alibaba PAI 2020; mu -0.29,
  sigma 1.45 in ln hours), clipped to [0.25, 72] h. Input data: log-normal, median 20 GB,
  sigma 1.5, clipped to [1, 5000] GB. Deferrable 60 %, interruptible (checkpointing) 30 %.
* ``hpc``, 10 %: FP64 jobs of 1-64 nodes (weights 35/20/18/12/8/5/2 % for 1/2/4/8/16/32/64):
  GPU nodes of 4 devices (H100 50 %, A100 30 %, MI250X 20 %) 60 %, CPU nodes of 128 cores
  (EPYC 7763 60 %, Xeon 8480 40 %) 40 %. Duration log-normal, median 2 h, sigma 1.0, clipped to
  [0.25, 48] h (an assumption: no public trace here). Input data for half of them, median
  50 GB. Deferrable 40 %.
* ``batch``, 25 %: general CPU batch. vCPUs {2, 4, 8, 24, 30} with the GAIA ``azure-100k.csv``
  weights {58.1, 30.2, 7.7, 3.5, 0.4} %, counted as cores of a reference CPU (EPYC 9654 40 %,
  Xeon 8480 30 %, Xeon 8380 30 %). Duration log-normal fitted to the same file (mu -0.11,
  sigma 1.55), clipped to [0.25, 72] h. Input data for 30 %, median 5 GB. Deferrable 50 %,
  interruptible 20 %.

Every tier: durations are rounded **up** to a multiple of 0.25 h. A demand is ``count`` devices
of its reference model, stated as normalized units (``count x rating``) or, for 25 % of AI and
HPC applications and 10 % of general ones, as ``model`` + ``count`` (a hardware constraint),
the latter only when a pool of that model and class exists in the world (else units). A
deferrable task, and half of the other batch, training and HPC tasks, has a deadline ``start +
duration x slack`` with slack in {1.5, 2, 3, 4}. Data class: public 20 %, internal 47 %,
personal 20 %, important 10 %, core 3 %. Sector: general 85 %, financial 6 %, health 5 %,
government 4 %. 40 % of applications carry a budget: ``units x hours x`` the median pool
price of the class in the world ``x`` {1.5, 2, 3}, plus 0.02 USD per input GB, rounded up on
the 1-2-5 series (so most are feasible). 5 % ask for residency: the origin's ``EU`` tag for
EU members, else the origin's country code, when some site of the world carries that tag.
Every share except the tier shares is per application, so the shares over tasks vary with
which applications turn out popular. Tenants: ``tenant-01`` to ``tenant-08``, Zipf-weighted.

**Origins** are countries weighted by population (countries without a population or a label
point are skipped), placed exactly at the country's label point (no jitter) with no site.
Input data sits at the site nearest the origin in the same country, else the nearest site that
satisfies the residency, else the nearest site.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from suanwang.core.geo import great_circle_km
from suanwang.core.network.jurisdictions import EU
from suanwang.core.sites import Site
from suanwang.core.tasks import (
    DataClass,
    DataInput,
    DataSector,
    Demand,
    LatencyMode,
    LatencySLA,
    Origin,
    TaskSpec,
)
from suanwang.core.unit_catalog import UNIT_TABLE
from suanwang.core.units import ComputeClass
from suanwang.core.world import World

T = TypeVar("T")
Weighted = tuple[tuple[T, float], ...]
"""A discrete distribution: ``(value, weight)`` pairs; weights need not sum to one."""

AI, GENERAL, HPC = ComputeClass.AI, ComputeClass.GENERAL, ComputeClass.HPC


class Tier(StrEnum):
    """The kind of work a generated task stands for."""

    INFERENCE = "inference"
    TRAINING = "training"
    HPC = "hpc"
    BATCH = "batch"


TIER_SHARES: Weighted[Tier] = (
    (Tier.INFERENCE, 0.40),
    (Tier.TRAINING, 0.25),
    (Tier.HPC, 0.10),
    (Tier.BATCH, 0.25),
)
"""Share of tasks per tier (see the module docstring for the sources)."""

SLA_MS: Weighted[float] = ((20.0, 0.15), (50.0, 0.35), (100.0, 0.30), (150.0, 0.20))
"""Latency bounds of inference tasks, in ms."""

SLA_MODES: Weighted[LatencyMode] = ((LatencyMode.ROUND_TRIP, 0.7), (LatencyMode.ONE_WAY, 0.3))

INFERENCE_HOURS: Weighted[float] = (
    (0.25, 0.54),
    (0.5, 0.16),
    (1.0, 0.12),
    (2.0, 0.10),
    (4.0, 0.04),
    (8.0, 0.02),
    (24.0, 0.02),
)
"""Alibaba GPU 2023 default trace, LS pod lifetimes rounded up to these hours."""

INFERENCE_GPUS: Weighted[float] = ((0.25, 0.05), (0.5, 0.12), (1.0, 0.66), (2.0, 0.03))
"""GPUs per GPU inference task (fractions: GPU sharing, as in the Alibaba 2023 trace)."""

INFERENCE_CPU_SHARE = 0.14
"""Share of inference tasks on CPUs only (LS pods without a GPU in the Alibaba 2023 trace)."""

INFERENCE_CORES: Weighted[float] = ((1.0, 0.30), (2.0, 0.35), (4.0, 0.25), (8.0, 0.10))

INFERENCE_GPU_MODELS: Weighted[str] = (
    ("nvidia-t4", 0.35),
    ("nvidia-l40s", 0.25),
    ("nvidia-a10", 0.10),
    ("nvidia-a100", 0.15),
    ("nvidia-h100", 0.15),
)

TRAINING_GPUS: Weighted[float] = ((1.0, 0.60), (2.0, 0.12), (4.0, 0.12), (8.0, 0.16))

TRAINING_MODELS: Weighted[str] = (
    ("nvidia-h100", 0.35),
    ("nvidia-a100", 0.30),
    ("huawei-ascend-910b", 0.10),
    ("nvidia-h200", 0.10),
    ("nvidia-v100", 0.05),
    ("amd-mi300x", 0.05),
    ("nvidia-l40s", 0.05),
)

TRAINING_LOG_HOURS = (-0.29, 1.45)
"""(mu, sigma) of ln(hours): GAIA pai-100k.csv job lengths (Alibaba PAI 2020)."""

HPC_NODES: Weighted[float] = (
    (1.0, 0.35),
    (2.0, 0.20),
    (4.0, 0.18),
    (8.0, 0.12),
    (16.0, 0.08),
    (32.0, 0.05),
    (64.0, 0.02),
)

HPC_GPU_NODE_SHARE = 0.6
HPC_GPU_MODELS: Weighted[str] = (("nvidia-h100", 0.5), ("nvidia-a100", 0.3), ("amd-mi250x", 0.2))
HPC_CPU_MODELS: Weighted[str] = (("amd-epyc-7763", 0.6), ("intel-xeon-8480", 0.4))
HPC_GPUS_PER_NODE = 4
HPC_CORES_PER_NODE = 128
HPC_LOG_HOURS = (math.log(2.0), 1.0)

BATCH_CPUS: Weighted[float] = (
    (2.0, 0.581),
    (4.0, 0.302),
    (8.0, 0.077),
    (24.0, 0.035),
    (30.0, 0.004),
)
"""vCPUs per job in GAIA azure-100k.csv (Azure public VM trace)."""

BATCH_MODELS: Weighted[str] = (
    ("amd-epyc-9654", 0.4),
    ("intel-xeon-8480", 0.3),
    ("intel-xeon-8380", 0.3),
)
BATCH_LOG_HOURS = (-0.11, 1.55)
"""(mu, sigma) of ln(hours): GAIA azure-100k.csv job lengths."""

SLACKS: Weighted[float] = ((1.5, 0.25), (2.0, 0.25), (3.0, 0.25), (4.0, 0.25))
"""Deadline = start + duration x slack."""

DATA_CLASSES: Weighted[DataClass] = (
    (DataClass.PUBLIC, 0.20),
    (DataClass.INTERNAL, 0.47),
    (DataClass.PERSONAL, 0.20),
    (DataClass.IMPORTANT, 0.10),
    (DataClass.CORE, 0.03),
)
SECTORS: Weighted[DataSector] = (
    (DataSector.GENERAL, 0.85),
    (DataSector.FINANCIAL, 0.06),
    (DataSector.HEALTH, 0.05),
    (DataSector.GOVERNMENT, 0.04),
)
TENANTS: Weighted[str] = tuple((f"tenant-{k:02d}", 1.0 / k) for k in range(1, 9))
BUDGET_SHARE = 0.40
BUDGET_MARGINS: Weighted[float] = ((1.5, 1 / 3), (2.0, 1 / 3), (3.0, 1 / 3))
TRANSFER_ALLOWANCE_MICROS_PER_GB = 20_000
"""Budget allowance for moving input data: the assumed submarine transfer price, $0.02/GB."""
MIN_BUDGET_MICROS = 10_000
RESIDENCY_SHARE = 0.05
MODEL_CONSTRAINED_SHARE = {AI: 0.25, HPC: 0.25, GENERAL: 0.10}
HOUR_QUANTUM = 0.25
MAX_HOURS = {Tier.TRAINING: 72.0, Tier.HPC: 48.0, Tier.BATCH: 72.0}
APP_POPULARITY_EXPONENT = 1.1

FALLBACK_PRICE_MICROS = {AI: 3_500, GENERAL: 40_000, HPC: 300_000}
"""Reference price per unit-hour when the world has no pool of a class."""


def tier_of(task: TaskSpec) -> Tier:
    """The tier a generated task belongs to: an SLA makes it inference, else its class decides."""
    if task.latency_sla is not None:
        return Tier.INFERENCE
    return {AI: Tier.TRAINING, HPC: Tier.HPC, GENERAL: Tier.BATCH}[task.demand.compute_class]


def population_origins(world: World) -> tuple[tuple[Origin, ...], NDArray[np.float64]]:
    """Every country with a population and a label point as an :class:`Origin`, with the
    probability of each (population share). Sorted by country code.

    Raises:
        ValueError: no country of ``world`` has both.
    """
    origins: list[Origin] = []
    people: list[float] = []
    for c in sorted(world.countries, key=lambda c: c.code):
        if c.population is None or c.lat is None or c.lon is None or c.population.value <= 0:
            continue
        origins.append(Origin(country=c.code, lat=c.lat, lon=c.lon))
        people.append(c.population.value)
    if not origins:
        raise ValueError("the world has no country with both a population and a label point")
    weights = np.asarray(people, dtype=np.float64)
    return tuple(origins), weights / weights.sum()


def pick(rng: np.random.Generator, table: Weighted[T]) -> T:
    """One value of ``table`` drawn by weight."""
    weights = np.array([w for _, w in table], dtype=np.float64)
    return table[int(rng.choice(len(table), p=weights / weights.sum()))][0]


def ceil_125(x: float) -> float:
    """The smallest value of the 1-2-5 series (..., 0.5, 1, 2, 5, 10, ...) that is >= ``x`` > 0."""
    exponent = math.floor(math.log10(x))
    for step in (1.0, 2.0, 5.0, 10.0):
        value = step * 10.0**exponent
        if value >= x * (1 - 1e-12):
            return float(f"{value:.12g}")
    raise AssertionError("unreachable")  # pragma: no cover


def quantise_hours(hours: float, quantum: float = HOUR_QUANTUM) -> float:
    """``hours`` rounded up to a multiple of ``quantum`` (at least one quantum)."""
    return max(1, math.ceil(hours / quantum - 1e-9)) * quantum


@dataclass(frozen=True, slots=True)
class _App:
    """One recurring application: everything about a task except its name and origin."""

    tier: Tier
    tenant: str
    demand: Demand
    units: float
    hours: float
    sla: LatencySLA | None
    slack: float | None
    deferrable: bool
    interruptible: bool
    input_gb: float | None
    budget_factor: float | None
    data_class: DataClass
    sector: DataSector
    residency: bool


class _Draw:
    """Draws applications against one world."""

    def __init__(self, world: World, rng: np.random.Generator) -> None:
        self.rng = rng
        self.available: dict[ComputeClass, set[str]] = {c: set() for c in ComputeClass}
        prices: dict[ComputeClass, list[int]] = {c: [] for c in ComputeClass}
        for site in world.sites:
            for pool in site.pools:
                self.available[pool.compute_class].add(pool.model)
                prices[pool.compute_class].append(pool.price_per_unit_hour_micros)
        self.price = {
            c: float(np.median(p)) if p else float(FALLBACK_PRICE_MICROS[c])
            for c, p in prices.items()
        }

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def log_normal(self, mu: float, sigma: float, lo: float, hi: float) -> float:
        return float(min(max(self.rng.lognormal(mu, sigma), lo), hi))

    def demand(self, cls: ComputeClass, model: str, count: float) -> tuple[Demand, float]:
        units = round(count * UNIT_TABLE.model(model).rating(cls), 4)
        constrained = model in self.available[cls] and self.chance(MODEL_CONSTRAINED_SHARE[cls])
        if constrained:
            return Demand(compute_class=cls, model=model, count=count), units
        return Demand(compute_class=cls, units=units), units

    def app(self, tier: Tier) -> _App:
        sla: LatencySLA | None = None
        slack: float | None = None
        deferrable = interruptible = False
        input_gb: float | None = None
        if tier is Tier.INFERENCE:
            if self.chance(INFERENCE_CPU_SHARE):
                demand = self.demand(
                    GENERAL, pick(self.rng, BATCH_MODELS), pick(self.rng, INFERENCE_CORES)
                )
            else:
                demand = self.demand(
                    AI, pick(self.rng, INFERENCE_GPU_MODELS), pick(self.rng, INFERENCE_GPUS)
                )
            hours = pick(self.rng, INFERENCE_HOURS)
            sla = LatencySLA(max_ms=pick(self.rng, SLA_MS), mode=pick(self.rng, SLA_MODES))
        elif tier is Tier.TRAINING:
            demand = self.demand(AI, pick(self.rng, TRAINING_MODELS), pick(self.rng, TRAINING_GPUS))
            hours = self.log_normal(*TRAINING_LOG_HOURS, HOUR_QUANTUM, MAX_HOURS[tier])
            input_gb = ceil_125(self.log_normal(math.log(20.0), 1.5, 1.0, 5000.0))
            deferrable, interruptible = self.chance(0.6), self.chance(0.3)
        elif tier is Tier.HPC:
            nodes = pick(self.rng, HPC_NODES)
            if self.chance(HPC_GPU_NODE_SHARE):
                model, per_node = pick(self.rng, HPC_GPU_MODELS), HPC_GPUS_PER_NODE
            else:
                model, per_node = pick(self.rng, HPC_CPU_MODELS), HPC_CORES_PER_NODE
            demand = self.demand(HPC, model, nodes * per_node)
            hours = self.log_normal(*HPC_LOG_HOURS, HOUR_QUANTUM, MAX_HOURS[tier])
            if self.chance(0.5):
                input_gb = ceil_125(self.log_normal(math.log(50.0), 1.5, 1.0, 5000.0))
            deferrable = self.chance(0.4)
        else:
            demand = self.demand(GENERAL, pick(self.rng, BATCH_MODELS), pick(self.rng, BATCH_CPUS))
            hours = self.log_normal(*BATCH_LOG_HOURS, HOUR_QUANTUM, MAX_HOURS[tier])
            if self.chance(0.3):
                input_gb = ceil_125(self.log_normal(math.log(5.0), 1.2, 1.0, 1000.0))
            deferrable, interruptible = self.chance(0.5), self.chance(0.2)
        if tier is not Tier.INFERENCE and (deferrable or self.chance(0.5)):
            slack = pick(self.rng, SLACKS)
        return _App(
            tier=tier,
            tenant=pick(self.rng, TENANTS),
            demand=demand[0],
            units=demand[1],
            hours=quantise_hours(hours),
            sla=sla,
            slack=slack,
            deferrable=deferrable,
            interruptible=interruptible,
            input_gb=input_gb,
            budget_factor=pick(self.rng, BUDGET_MARGINS) if self.chance(BUDGET_SHARE) else None,
            data_class=pick(self.rng, DATA_CLASSES),
            sector=pick(self.rng, SECTORS),
            residency=self.chance(RESIDENCY_SHARE),
        )

    def budget(self, app: _App) -> int | None:
        if app.budget_factor is None:
            return None
        compute = app.units * app.hours * self.price[app.demand.compute_class]
        transfer = (app.input_gb or 0.0) * TRANSFER_ALLOWANCE_MICROS_PER_GB
        wanted = max(compute * app.budget_factor + transfer, MIN_BUDGET_MICROS)
        return round(ceil_125(wanted))


def _residency(origin: Origin, tags: set[str]) -> tuple[str, ...]:
    if origin.country in EU and "EU" in tags:
        return ("EU",)
    return (origin.country,) if origin.country in tags else ()


def _data_site(origin: Origin, residency: tuple[str, ...], sites: Sequence[Site]) -> str:
    """The site nearest ``origin``: in its country, else within the residency, else anywhere."""
    home = [s for s in sites if s.country == origin.country]
    allowed = [s for s in sites if set(residency) & set(s.jurisdiction)] if residency else []
    candidates = home or allowed or list(sites)
    return min(
        candidates, key=lambda s: (great_circle_km(origin.lat, origin.lon, s.lat, s.lon), s.id)
    ).id


def _app_counts(n: int) -> list[int]:
    total = max(12, math.ceil(4 * math.sqrt(n)))
    return [max(1, round(share * total)) for _, share in TIER_SHARES]


def generate_tasks(
    world: World,
    n: int,
    rng: np.random.Generator,
    *,
    start: datetime,
    id_prefix: str = "t",
) -> list[TaskSpec]:
    """``n`` tasks named ``{id_prefix}000001`` ... for ``world`` (the mix in the module docstring).

    Deadlines are ``start + duration x slack``; ``start`` must be timezone-aware. The same
    world, ``n``, generator state and ``start`` always give the same tasks. Every model-stated
    demand names a model that some pool of ``world`` sells in that class.

    Raises:
        ValueError: ``n`` is negative, ``start`` is naive, or the world has no sites or no
            country with a population and a label point.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if start.utcoffset() is None:
        raise ValueError("start must include a timezone, e.g. datetime(2026, 1, 1, tzinfo=UTC)")
    if n == 0:
        return []
    if not world.sites:
        raise ValueError("the world has no sites to hold input data")
    origins, weights = population_origins(world)
    draw = _Draw(world, rng)
    tiers = [tier for tier, _ in TIER_SHARES]
    apps = [
        [draw.app(tier) for _ in range(k)] for tier, k in zip(tiers, _app_counts(n), strict=True)
    ]
    tier_p = np.array([share for _, share in TIER_SHARES])
    tier_idx = rng.choice(len(tiers), size=n, p=tier_p / tier_p.sum())
    app_idx = np.zeros(n, dtype=np.int64)
    for t, catalogue in enumerate(apps):
        members = np.flatnonzero(tier_idx == t)
        popularity = 1.0 / np.arange(1, len(catalogue) + 1) ** APP_POPULARITY_EXPONENT
        app_idx[members] = rng.choice(
            len(catalogue), size=members.size, p=popularity / popularity.sum()
        )
    origin_idx = rng.choice(len(origins), size=n, p=weights)

    tags = {tag for site in world.sites for tag in site.jurisdiction}
    data_sites: dict[tuple[str, tuple[str, ...]], str] = {}

    def data_site(origin: Origin, residency: tuple[str, ...]) -> str:
        key = (origin.country, residency)
        if key not in data_sites:
            data_sites[key] = _data_site(origin, residency, world.sites)
        return data_sites[key]

    budgets = [[draw.budget(app) for app in catalogue] for catalogue in apps]
    templates: dict[tuple[int, int, int], TaskSpec] = {}
    tasks: list[TaskSpec] = []
    for i in range(n):
        key = (int(tier_idx[i]), int(app_idx[i]), int(origin_idx[i]))
        template = templates.get(key)
        if template is None:
            app = apps[key[0]][key[1]]
            budget = budgets[key[0]][key[1]]
            template = _task(app, budget, origins[key[2]], tags, data_site, start)
            templates[key] = template
        tasks.append(template.model_copy(update={"name": f"{id_prefix}{i + 1:06d}"}))
    return tasks


def _task(
    app: _App,
    budget: int | None,
    origin: Origin,
    tags: set[str],
    data_site: Callable[[Origin, tuple[str, ...]], str],
    start: datetime,
) -> TaskSpec:
    residency = _residency(origin, tags) if app.residency else ()
    data = None
    if app.input_gb is not None:
        data = DataInput(site=data_site(origin, residency), size_gb=app.input_gb)
    deadline = None
    if app.slack is not None:
        deadline = start + timedelta(hours=app.hours * app.slack)
    return TaskSpec(
        name="template",
        tenant=app.tenant,
        demand=app.demand,
        duration_hours=app.hours,
        origin=origin,
        input=data,
        latency_sla=app.sla,
        deadline=deadline,
        budget_micros=budget,
        data_class=app.data_class,
        sector=app.sector,
        residency=residency,
        deferrable=app.deferrable,
        interruptible=app.interruptible,
    )
