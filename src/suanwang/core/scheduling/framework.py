"""The scheduling framework: extension points, statuses, the scratchpad, registry and profiles.

Modelled on the Kubernetes scheduling framework, vectorised: a plugin judges a whole slice of
task groups against every pool at once (``rows x pools`` arrays).

- **PreFilter** computes per-decision data into the :class:`CycleState` scratchpad; the
  built-in ``facts`` step computes the physical facts (:mod:`.facts`) every other plugin reads.
- **Filter** returns a feasibility mask and, on request, the reason one (group, pool) failed.
- **Score** returns a raw value per (group, pool), *lower is better*, in its own unit. The
  framework, not the plugin, normalises: ``penalty = min(1, (v - best) / max(|best|, floor))``
  over the row's feasible pools, ``score = 100 x (1 - penalty)``, and weighs by the profile.
- **Reserve** / **Permit** run when a plan is committed tentatively: Reserve takes capacity in
  a scratch copy, Permit approves a set of reservations all or nothing (gang jobs).

Plugins never call each other; they share data only through the scratchpad.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from pydantic import Field, field_validator, model_validator

from suanwang.core.base import Frozen
from suanwang.core.errors import SuanwangError, UnknownIdError
from suanwang.core.scheduling.groups import TaskGroups
from suanwang.core.scheduling.snapshot import Snapshot

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


class Code(StrEnum):
    """Outcome of one plugin call (Kubernetes' status codes)."""

    SUCCESS = "success"
    UNSCHEDULABLE = "unschedulable"
    UNRESOLVABLE = "unresolvable"
    WAIT = "wait"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Status:
    """A plugin's verdict: ``code``, human ``reasons`` and the ``plugin`` that gave it."""

    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def ok(self) -> bool:
        return self.code is Code.SUCCESS

    @classmethod
    def success(cls, plugin: str = "") -> Status:
        return cls(Code.SUCCESS, (), plugin)


class CycleState:
    """The per-decision scratchpad plugins share data through (keys are plugin-chosen)."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def read(self, key: str) -> Any:
        """The value under ``key``; a missing key names the PreFilter that should write it."""
        try:
            return self._data[key]
        except KeyError:
            raise SuanwangError(
                f"scratchpad has no {key!r}: enable the PreFilter plugin that computes it"
            ) from None

    def __contains__(self, key: str) -> bool:
        return key in self._data


@dataclass(frozen=True, eq=False)
class Context:
    """What every plugin is given: rows ``rows`` of ``groups`` judged against every pool of
    ``snap`` with free capacity ``free`` (normalized units per pool)."""

    groups: TaskGroups
    snap: Snapshot
    rows: I64
    free: F64


@runtime_checkable
class PreFilterPlugin(Protocol):
    name: str

    def pre_filter(self, state: CycleState, ctx: Context) -> Status: ...


@runtime_checkable
class FilterPlugin(Protocol):
    name: str

    def filter(self, state: CycleState, ctx: Context) -> B: ...

    def reason(self, state: CycleState, ctx: Context, row: int, pool: int) -> str: ...


@runtime_checkable
class ScorePlugin(Protocol):
    name: str
    unit: str
    floor: float

    def score(self, state: CycleState, ctx: Context) -> F64: ...


@runtime_checkable
class ReservePlugin(Protocol):
    name: str

    def reserve(self, state: CycleState, ctx: Context, row: int, pool: int) -> Status: ...

    def unreserve(self, state: CycleState, ctx: Context, row: int, pool: int) -> None: ...


@runtime_checkable
class PermitPlugin(Protocol):
    name: str

    def permit(
        self, state: CycleState, ctx: Context, chosen: Sequence[tuple[int, int]]
    ) -> Status: ...


Factory = Callable[[Mapping[str, Any]], object]


class RegistryError(SuanwangError, ValueError):
    """A plugin registered twice, or a profile naming a plugin nobody registered."""


@dataclass
class Registry:
    """Plugin factories by name. A factory validates its arguments and returns the plugin."""

    _factories: dict[str, Factory] = field(default_factory=dict)

    def register(self, name: str, factory: Factory) -> None:
        if name in self._factories:
            raise RegistryError(f"a plugin named {name!r} is already registered")
        self._factories[name] = factory

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._factories))

    def create(self, name: str, args: Mapping[str, Any] | None = None) -> object:
        try:
            factory = self._factories[name]
        except KeyError:
            raise UnknownIdError("plugin", name, self._factories) from None
        return factory(dict(args or {}))


class Mode(StrEnum):
    """What a profile optimises for."""

    BALANCED = "balanced"
    COST = "cost"
    CARBON = "carbon"
    LATENCY = "latency"


MODE_WEIGHTS: dict[Mode, dict[str, float]] = {
    Mode.BALANCED: {
        "price": 1.0,
        "carbon": 1.0,
        "latency": 1.0,
        "transfer-time": 0.5,
        "spread": 0.5,
    },
    Mode.COST: {"price": 4.0, "carbon": 0.5, "latency": 0.5, "transfer-time": 0.25, "spread": 0.25},
    Mode.CARBON: {
        "price": 0.5,
        "carbon": 4.0,
        "latency": 0.5,
        "transfer-time": 0.25,
        "spread": 0.25,
    },
    Mode.LATENCY: {
        "price": 0.5,
        "carbon": 0.5,
        "latency": 4.0,
        "transfer-time": 1.0,
        "spread": 0.25,
    },
}
"""Score weights per mode: the mode's own goal counts four times the balanced weight."""

DEFAULT_FILTERS: tuple[str, ...] = (
    "resource-fit",
    "sovereignty",
    "latency-sla",
    "transfer",
    "deadline",
    "budget",
)
"""Filters in the order they run (cheap and decisive first); the first to reject is the reason."""


class Profile(Frozen):
    """Which plugins run, with what weights and arguments, and the mode they encode."""

    name: str = Field(min_length=1)
    mode: Mode = Mode.BALANCED
    filters: tuple[str, ...] = DEFAULT_FILTERS
    weights: dict[str, float] = Field(default_factory=lambda: dict(MODE_WEIGHTS[Mode.BALANCED]))
    args: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, weights: dict[str, float]) -> dict[str, float]:
        bad = {k: w for k, w in weights.items() if not w >= 0.0}
        if bad:
            raise ValueError(f"weights must be >= 0: {bad}")
        return weights

    @model_validator(mode="after")
    def _no_repeats(self) -> Profile:
        if len(set(self.filters)) != len(self.filters):
            raise ValueError("a filter is listed twice")
        return self

    @classmethod
    def for_mode(cls, mode: Mode | str) -> Profile:
        """The built-in profile for ``mode`` (balanced, cost, carbon, latency)."""
        try:
            m = Mode(mode)
        except ValueError:
            modes = ", ".join(x.value for x in Mode)
            raise SuanwangError(f"unknown mode {mode!r}; choose one of: {modes}") from None
        return cls(name=m.value, mode=m, weights=dict(MODE_WEIGHTS[m]))

    @property
    def unplaced_penalty(self) -> float:
        """Objective cost of leaving a task unplaced: more than any placement can cost."""
        return float(sum(self.weights.values())) + 1.0


def normalise(values: F64, feasible: B, floor: float) -> F64:
    """Penalty in [0, 1] per row: ``min(1, (v - best) / max(|best|, floor))``; 1 if infeasible."""
    masked = np.where(feasible, values, np.inf)
    best = masked.min(axis=1, keepdims=True)
    best = np.where(np.isfinite(best), best, 0.0)
    scale = np.maximum(np.abs(best), floor)
    with np.errstate(invalid="ignore"):
        pen = np.clip((values - best) / scale, 0.0, 1.0)
    out: F64 = np.where(feasible, np.nan_to_num(pen, nan=1.0), 1.0)
    return out
