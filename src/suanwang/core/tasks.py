"""What a user asks for: the task specification (a validated value; no lifecycle yet)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from suanwang.core.base import ISO2, Frozen, Identifier, Latitude, Longitude, Micros
from suanwang.core.units import ComputeClass


class LatencyMode(StrEnum):
    """Whether a latency figure is one-way or a round trip; every latency figure says which."""

    ONE_WAY = "one-way"
    ROUND_TRIP = "round-trip"


class DataClass(StrEnum):
    """Data classification, strictest last (CN: 一般 / 重要 / 核心 data)."""

    PUBLIC = "public"
    INTERNAL = "internal"
    PERSONAL = "personal"
    IMPORTANT = "important"
    CORE = "core"


class DataSector(StrEnum):
    """The regulated sector the data belongs to, where localisation laws single one out."""

    GENERAL = "general"
    FINANCIAL = "financial"
    HEALTH = "health"
    GOVERNMENT = "government"


class Demand(Frozen):
    """Compute demand in one class, stated either as normalized units or as devices of a model.

    ``count`` may be fractional (half a GPU is 0.5). ``memory_gb`` is the total memory the task
    needs across its devices.
    """

    compute_class: ComputeClass
    units: float | None = Field(default=None, gt=0.0, description="normalized units")
    model: Identifier | None = None
    count: float | None = Field(default=None, gt=0.0, description="devices of `model`")
    memory_gb: float = Field(default=0.0, ge=0.0)

    @model_validator(mode="after")
    def _one_way_of_stating(self) -> Demand:
        by_units = self.units is not None
        by_devices = self.model is not None or self.count is not None
        if by_units == by_devices:
            raise ValueError("state the demand either as `units` or as `model` with `count`")
        if by_devices and (self.model is None or self.count is None):
            raise ValueError("a device demand needs both `model` and `count`")
        return self


class LatencySLA(Frozen):
    """An end-to-end latency bound from the origin, one-way or round-trip."""

    max_ms: float = Field(gt=0.0)
    mode: LatencyMode


class Origin(Frozen):
    """Where the task's users or data producers are."""

    country: ISO2
    lat: Latitude
    lon: Longitude
    site: Identifier | None = Field(default=None, description="nearest network node, if known")


class DataInput(Frozen):
    """Input data: where it is and how much."""

    site: Identifier
    size_gb: float = Field(ge=0.0)


class RunSpec(Frozen):
    """What to execute when the task runs on a backend that executes (local, Slurm, Ray).

    ``command`` is an argv (no shell); empty runs nothing. ``checkpoint``: the task saves its
    progress in ``$SUANWANG_CHECKPOINT_DIR`` (and may write a short reference to a file named
    ``CHECKPOINT`` there); a rescheduled attempt gets the same directory and resumes. A
    simulated backend ignores the command and takes ``duration_hours`` at its time scale.
    """

    command: tuple[str, ...] = Field(default=(), max_length=1000)
    cpus: float = Field(default=1.0, gt=0.0, le=1024.0)
    memory_mb: int = Field(default=512, gt=0, le=16 * 1024 * 1024)
    time_limit_s: int | None = Field(default=None, gt=0, description="default: 2x estimate")
    checkpoint: bool = False


class TaskSpec(Frozen):
    """A task as submitted.

    ``residency`` lists the jurisdiction tags the data may be processed in (empty: anywhere);
    ``forbidden_transit`` lists countries the data must never cross. Both are hard rules.
    ``data_class`` and ``sector`` drive the sovereignty rules (see
    :mod:`suanwang.core.scheduling.sovereignty`). ``deadline`` must be timezone-aware.
    """

    name: str = Field(min_length=1, max_length=200)
    tenant: Identifier
    demand: Demand
    duration_hours: float = Field(gt=0.0, le=24 * 366, description="estimated run time")
    origin: Origin
    input: DataInput | None = None
    latency_sla: LatencySLA | None = None
    deadline: datetime | None = None
    budget_micros: Micros | None = None
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    data_class: DataClass = DataClass.INTERNAL
    sector: DataSector = DataSector.GENERAL
    residency: tuple[str, ...] = ()
    forbidden_transit: tuple[ISO2, ...] = ()
    deferrable: bool = False
    interruptible: bool = False
    run: RunSpec | None = Field(default=None, description="what executing backends run")

    @field_validator("deadline")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("deadline must include a timezone, e.g. 2026-12-01T00:00:00Z")
        return value
