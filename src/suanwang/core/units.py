"""Compute classes and the versioned normalized-unit table (算力度量).

Heterogeneous hardware becomes comparable only *within* a compute class: each class has one
normalized unit (AI: dense FP16/BF16 tensor TFLOPS; HPC: peak FP64 TFLOPS; general: per-core
integer throughput relative to a reference core). A hardware model may carry a rating in several
classes (an H100 rates in AI and in HPC); a pool decides which class it sells. Quantities of
different classes are never added: doing so raises :class:`ClassMismatchError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from suanwang.core.base import Frozen, Identifier
from suanwang.core.errors import ClassMismatchError, UnknownIdError


class ComputeClass(StrEnum):
    """The three classes of compute the reports distinguish (通用 / 智能 / 超算)."""

    GENERAL = "general"
    AI = "ai"
    HPC = "hpc"


class ClassUnit(Frozen):
    """The normalized unit of one compute class."""

    compute_class: ComputeClass
    symbol: str = Field(min_length=1, description="short unit name, e.g. 'TFLOPS-FP16'")
    definition: str = Field(min_length=1)


PositiveRating = Annotated[float, Field(gt=0.0)]


class HardwareModel(Frozen):
    """One hardware model and its normalized rating per device, for each class it serves.

    A *device* is one accelerator (GPU, NPU, DCU, MLU) or one CPU core; pools count devices.
    """

    id: Identifier
    vendor: str = Field(min_length=1)
    name: str = Field(min_length=1)
    device: str = Field(min_length=1, description="what one counted device is, e.g. 'GPU'")
    ratings: dict[ComputeClass, PositiveRating] = Field(min_length=1)
    memory_gb: float | None = Field(default=None, gt=0.0, description="memory per device")
    source: str = Field(min_length=1)
    note: str = ""

    def rating(self, compute_class: ComputeClass) -> float:
        """Normalized units one device provides in ``compute_class``.

        Raises:
            ClassMismatchError: the model has no rating in that class.
        """
        try:
            return self.ratings[compute_class]
        except KeyError:
            served = ", ".join(sorted(c.value for c in self.ratings))
            raise ClassMismatchError(
                f"{self.id} has no {compute_class.value} rating (it serves: {served})"
            ) from None


@dataclass(frozen=True, slots=True)
class ComputeQuantity:
    """An amount of normalized compute in one class. Adding two classes is an error."""

    compute_class: ComputeClass
    amount: float

    def __post_init__(self) -> None:
        if not self.amount >= 0.0:  # also rejects NaN
            raise ValueError(f"a compute quantity cannot be negative or NaN: {self.amount}")

    def _check(self, other: ComputeQuantity) -> None:
        if other.compute_class is not self.compute_class:
            raise ClassMismatchError(
                f"cannot combine {self.compute_class.value} and {other.compute_class.value} "
                "units: normalized units of different classes are not comparable"
            )

    def __add__(self, other: ComputeQuantity) -> ComputeQuantity:
        self._check(other)
        return ComputeQuantity(self.compute_class, self.amount + other.amount)

    def __sub__(self, other: ComputeQuantity) -> ComputeQuantity:
        """Difference; raises ``ValueError`` if it would go below zero."""
        self._check(other)
        return ComputeQuantity(self.compute_class, self.amount - other.amount)

    def fits_in(self, capacity: ComputeQuantity) -> bool:
        """True if this quantity fits inside ``capacity`` of the same class."""
        self._check(capacity)
        return self.amount <= capacity.amount


class UnitTable(Frozen):
    """A versioned table of class units and hardware ratings. Leases snapshot its version."""

    version: str = Field(min_length=1)
    units: tuple[ClassUnit, ...]
    models: tuple[HardwareModel, ...]

    @model_validator(mode="after")
    def _consistent(self) -> UnitTable:
        classes = [u.compute_class for u in self.units]
        if sorted(classes) != sorted(ComputeClass):
            raise ValueError("the table needs exactly one unit per compute class")
        ids = [m.id for m in self.models]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate hardware model ids: {', '.join(dupes)}")
        return self

    def unit(self, compute_class: ComputeClass) -> ClassUnit:
        """The normalized unit of ``compute_class``."""
        return next(u for u in self.units if u.compute_class is compute_class)

    def model(self, model_id: str) -> HardwareModel:
        """Look a hardware model up by id; unknown ids raise :class:`UnknownIdError`."""
        for m in self.models:
            if m.id == model_id:
                return m
        raise UnknownIdError("hardware model", model_id, (m.id for m in self.models))

    def quantity(self, model_id: str, compute_class: ComputeClass, count: float) -> ComputeQuantity:
        """Normalized units of ``count`` devices (fractions allowed: half a GPU is 0.5)."""
        if not count >= 0.0:
            raise ValueError(f"device count must be >= 0, got {count}")
        return ComputeQuantity(compute_class, self.model(model_id).rating(compute_class) * count)
