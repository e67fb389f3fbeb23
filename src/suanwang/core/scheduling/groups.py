"""Tasks grouped into shapes: identical tasks (apart from name and tenant) are judged once.

A :class:`TaskGroups` holds one row per distinct shape, as arrays, so every plugin works on
``groups x pools`` matrices. Grouping is exact: two tasks share a row only if every field that
placement reads is equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from suanwang.core.errors import SuanwangError
from suanwang.core.network.paths import PathRules
from suanwang.core.scheduling.snapshot import CLASSES, Snapshot
from suanwang.core.scheduling.sovereignty import (
    NoJurisdictionError,
    Sovereignty,
    key,
    path_rules,
    sovereignty_of,
)
from suanwang.core.tasks import LatencyMode, TaskSpec

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


def shape_key(task: TaskSpec) -> tuple[object, ...]:
    """Everything about ``task`` that placement reads (not its name or tenant)."""
    return (
        task.demand,
        task.duration_hours,
        task.origin,
        task.input,
        task.latency_sla,
        task.deadline,
        task.budget_micros,
        task.data_class,
        task.sector,
        task.residency,
        task.forbidden_transit,
        task.deferrable,
    )


@dataclass(frozen=True, eq=False)
class TaskGroups:
    """``G`` distinct task shapes of a batch, as arrays (see the module docstring).

    ``units``: normalized units one task needs; ``model``: the hardware model it insists on
    (``None``: any); ``sla_one_way_ms``: the latency bound converted to one-way (``inf`` when
    none); ``sla_rtt``: whether the task stated it as a round trip; ``input_site``: site index
    of the input data (-1: none); ``deadline_h``: hours from the snapshot's start hour to the
    deadline (``inf``: none); ``rule``: index into ``rules`` (``None`` there: no jurisdiction
    is allowed at all).
    """

    tasks: tuple[TaskSpec, ...]
    group_of: I64
    first: I64
    count: I64
    cls: I64
    units: F64
    model: tuple[str | None, ...]
    memory_gb: F64
    duration_h: F64
    origin_lat: F64
    origin_lon: F64
    sla_one_way_ms: F64
    sla_rtt: B
    input_site: I64
    input_gb: F64
    deadline_h: F64
    budget_micros: F64
    deferrable: B
    sovereignty: tuple[Sovereignty, ...]
    rule: I64
    rules: tuple[PathRules | None, ...]
    rule_errors: tuple[str, ...]

    @property
    def n(self) -> int:
        return len(self.first)

    def members(self, g: int) -> I64:
        """Task indices of group ``g``, in input order."""
        out: I64 = np.flatnonzero(self.group_of == g)
        return out

    def task(self, g: int) -> TaskSpec:
        """The first task of group ``g`` (all members are identical for placement)."""
        return self.tasks[int(self.first[g])]

    @classmethod
    def of(cls, tasks: Sequence[TaskSpec], snap: Snapshot) -> TaskGroups:
        """Group ``tasks`` and read each shape into arrays against ``snap``.

        Raises:
            SuanwangError: two tasks share a name, or a task names an unknown site or model.
        """
        names: dict[str, int] = {}
        index: dict[tuple[object, ...], int] = {}
        group_of = np.empty(len(tasks), dtype=np.int64)
        first: list[int] = []
        for i, task in enumerate(tasks):
            if task.name in names:
                raise SuanwangError(
                    f"task name {task.name!r} appears twice (lines {names[task.name] + 1} "
                    f"and {i + 1}); names identify tasks in a plan"
                )
            names[task.name] = i
            k = shape_key(task)
            g = index.get(k)
            if g is None:
                g = index[k] = len(first)
                first.append(i)
            group_of[i] = g
        return _read(tuple(tasks), group_of, np.array(first, dtype=np.int64), snap)


def _read(tasks: tuple[TaskSpec, ...], group_of: I64, first: I64, snap: Snapshot) -> TaskGroups:
    reps = [tasks[int(i)] for i in first]
    g = len(reps)
    units = np.empty(g)
    for j, t in enumerate(reps):
        d = t.demand
        try:
            units[j] = (
                d.units
                if d.units is not None
                else snap.table.quantity(str(d.model), d.compute_class, float(d.count or 0)).amount
            )
        except (LookupError, ValueError) as exc:
            raise SuanwangError(f"task {t.name!r}: {exc}") from exc
    sla = np.full(g, np.inf)
    rtt = np.zeros(g, dtype=np.bool_)
    for j, t in enumerate(reps):
        if t.latency_sla is not None:
            rtt[j] = t.latency_sla.mode is LatencyMode.ROUND_TRIP
            sla[j] = t.latency_sla.max_ms / (2.0 if rtt[j] else 1.0)
    start = snap.start_hour * 3600.0
    deadline = np.array(
        [
            np.inf if t.deadline is None else t.deadline.timestamp() / 3600.0 - start / 3600.0
            for t in reps
        ]
    )
    input_site = np.array(
        [-1 if t.input is None else _site(snap, t, t.input.site) for t in reps], dtype=np.int64
    )
    by_rule_inputs: dict[tuple[object, ...], Sovereignty] = {}
    sov_list = []
    for t in reps:
        inputs = (t.origin.country, t.data_class, t.sector, t.residency, t.forbidden_transit)
        sov = by_rule_inputs.get(inputs)
        if sov is None:
            sov = by_rule_inputs[inputs] = sovereignty_of(t)
        sov_list.append(sov)
    sovs = tuple(sov_list)
    rule_index: dict[object, int] = {}
    rules: list[PathRules | None] = []
    errors: list[str] = []
    rule = np.empty(g, dtype=np.int64)
    for j, sov in enumerate(sovs):
        k = key(sov)
        r = rule_index.get(k)
        if r is None:
            r = rule_index[k] = len(rules)
            try:
                rules.append(path_rules(sov))
                errors.append("")
            except NoJurisdictionError as exc:
                rules.append(None)
                errors.append(str(exc))
        rule[j] = r
    return TaskGroups(
        tasks=tasks,
        group_of=group_of,
        first=first,
        count=np.bincount(group_of, minlength=g).astype(np.int64),
        cls=np.array([CLASSES.index(t.demand.compute_class) for t in reps], dtype=np.int64),
        units=units,
        model=tuple(t.demand.model for t in reps),
        memory_gb=np.array([t.demand.memory_gb for t in reps], dtype=np.float64),
        duration_h=np.array([t.duration_hours for t in reps], dtype=np.float64),
        origin_lat=np.array([t.origin.lat for t in reps], dtype=np.float64),
        origin_lon=np.array([t.origin.lon for t in reps], dtype=np.float64),
        sla_one_way_ms=sla,
        sla_rtt=rtt,
        input_site=input_site,
        input_gb=np.array([0.0 if t.input is None else t.input.size_gb for t in reps]),
        deadline_h=deadline,
        budget_micros=np.array(
            [np.inf if t.budget_micros is None else float(t.budget_micros) for t in reps]
        ),
        deferrable=np.array([t.deferrable for t in reps], dtype=np.bool_),
        sovereignty=sovs,
        rule=rule,
        rules=tuple(rules),
        rule_errors=tuple(errors),
    )


def _site(snap: Snapshot, task: TaskSpec, site: str) -> int:
    try:
        return snap.site_index(site)
    except LookupError as exc:
        raise SuanwangError(f"task {task.name!r}: input data: {exc}") from exc
