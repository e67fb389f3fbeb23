"""The built-in plugins and the default registry.

Every filter reads the facts the ``facts`` PreFilter wrote (:mod:`.facts`) and explains a
rejection in one line; every score returns a raw value (lower is better) in the unit it
names. Arguments are validated by each factory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from suanwang.core.errors import SuanwangError
from suanwang.core.scheduling import facts as facts_mod
from suanwang.core.scheduling.facts import Facts
from suanwang.core.scheduling.framework import (
    F64,
    B,
    Code,
    Context,
    CycleState,
    Factory,
    Registry,
    Status,
)
from suanwang.core.scheduling.snapshot import CLASSES
from suanwang.core.scheduling.sovereignty import site_allowed

FACTS = "facts"
"""Scratchpad key of the :class:`Facts`."""


def _facts(state: CycleState) -> Facts:
    out: Facts = state.read(FACTS)
    return out


def _no_args(name: str, args: Mapping[str, Any]) -> None:
    if args:
        raise SuanwangError(f"plugin {name!r} takes no arguments, got {sorted(args)}")


# --- PreFilter ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FactsPreFilter:
    """Computes the :class:`Facts`; ``shift_carbon``/``shift_price`` weigh temporal shifting."""

    shift_carbon: float = 1.0
    shift_price: float = 0.5
    name: str = "facts"

    def pre_filter(self, state: CycleState, ctx: Context) -> Status:
        state.write(
            FACTS,
            facts_mod.compute(
                ctx.groups, ctx.rows, ctx.snap, ctx.free, self.shift_carbon, self.shift_price
            ),
        )
        return Status.success(self.name)


# --- Filters -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResourceFit:
    """Class, hardware model, memory per device and free normalized units."""

    name: str = "resource-fit"

    def filter(self, state: CycleState, ctx: Context) -> B:
        f = _facts(state)
        out: B = f.class_ok & f.model_ok & f.memory_ok & f.capacity_ok
        return out

    def reason(self, state: CycleState, ctx: Context, row: int, pool: int) -> str:
        f, g, s = _facts(state), int(ctx.rows[row]), ctx.snap
        if not f.class_ok[row, pool]:
            return (
                f"pool {s.pool_model[pool]} sells {CLASSES[int(s.pool_class[pool])].value}, "
                f"the task needs {CLASSES[int(ctx.groups.cls[g])].value}"
            )
        if not f.model_ok[row, pool]:
            return f"the task needs {ctx.groups.model[g]}, the pool has {s.pool_model[pool]}"
        if not f.memory_ok[row, pool]:
            dev = ctx.groups.units[g] / s.pool_rating[pool]
            return (
                f"needs {ctx.groups.memory_gb[g]:g} GB of device memory, {dev:.3g} "
                f"{s.pool_model[pool]} devices hold {dev * s.pool_mem_per_device[pool]:.3g} GB"
            )
        return (
            f"needs {_num(ctx.groups.units[g])} units, {_num(max(0.0, float(ctx.free[pool])))} "
            f"free in {s.pool_model[pool]}"
        )


@dataclass(frozen=True)
class SovereigntyFilter:
    """Residency and sovereignty rules: the site, and the paths from origin and input data."""

    name: str = "sovereignty"

    def filter(self, state: CycleState, ctx: Context) -> B:
        f = _facts(state)
        out: B = f.allowed & np.isfinite(f.origin_ms) & f.input_ok
        return out

    def reason(self, state: CycleState, ctx: Context, row: int, pool: int) -> str:
        f, g = _facts(state), int(ctx.rows[row])
        rule = ctx.groups.rules[int(ctx.groups.rule[g])]
        if rule is None:
            return ctx.groups.rule_errors[int(ctx.groups.rule[g])]
        site = ctx.snap.world.sites[int(ctx.snap.pool_site[pool])]
        why = site_allowed(ctx.groups.sovereignty[g], site)
        if why is not None:
            return why
        scope = _scope(rule.within, rule.avoid)
        if not np.isfinite(f.origin_ms[row, pool]):
            return f"no network path from the task's origin to {site.id} {scope}"
        return f"no network path from the input data to {site.id} {scope}"


def _scope(within: frozenset[str] | None, avoid: frozenset[str]) -> str:
    parts = []
    if within is not None:
        parts.append("stays within " + ", ".join(sorted(within)))
    if avoid:
        parts.append("avoids " + ", ".join(sorted(avoid)))
    return "that " + " and ".join(parts) if parts else "at all"


@dataclass(frozen=True)
class LatencySLAFilter:
    """Origin-to-site latency within the task's bound (one-way or round trip, as stated)."""

    name: str = "latency-sla"

    def filter(self, state: CycleState, ctx: Context) -> B:
        f = _facts(state)
        out: B = f.origin_ms <= ctx.groups.sla_one_way_ms[ctx.rows][:, None] + 1e-9
        return out

    def reason(self, state: CycleState, ctx: Context, row: int, pool: int) -> str:
        f, g = _facts(state), int(ctx.rows[row])
        task = ctx.groups.task(g)
        sla = task.latency_sla
        assert sla is not None  # a task without an SLA always passes
        got = f.origin_ms[row, pool] * (2.0 if ctx.groups.sla_rtt[g] else 1.0)
        return f"{sla.mode.value} latency {got:.1f} ms exceeds the SLA of {sla.max_ms:g} ms"


@dataclass(frozen=True)
class TransferFilter:
    """The input data must be able to move: a free path at ``min_gbps`` or more."""

    min_gbps: float = 0.1
    name: str = "transfer"

    def filter(self, state: CycleState, ctx: Context) -> B:
        f = _facts(state)
        gb = ctx.groups.input_gb[ctx.rows][:, None]
        link = np.nan_to_num(f.link_free_gbps, nan=0.0)
        out: B = (gb <= 0) | (link >= self.min_gbps)
        return out

    def reason(self, state: CycleState, ctx: Context, row: int, pool: int) -> str:
        free = float(np.nan_to_num(_facts(state).link_free_gbps[row, pool], nan=0.0))
        return f"only {free:.3g} Gbps free on the input path (needs {self.min_gbps:g})"


@dataclass(frozen=True)
class DeadlineFilter:
    """Start + transfer + run time must end by the deadline."""

    name: str = "deadline"

    def filter(self, state: CycleState, ctx: Context) -> B:
        f = _facts(state)
        end = f.start_h + f.transfer_h + ctx.groups.duration_h[ctx.rows][:, None]
        out: B = end <= ctx.groups.deadline_h[ctx.rows][:, None] + 1e-9
        return out

    def reason(self, state: CycleState, ctx: Context, row: int, pool: int) -> str:
        f, g = _facts(state), int(ctx.rows[row])
        end = f.start_h[row, pool] + f.transfer_h[row, pool] + ctx.groups.duration_h[g]
        return (
            f"would finish {end:.2f} h from now (transfer {f.transfer_h[row, pool]:.2f} h), "
            f"after the deadline {ctx.groups.deadline_h[g]:.2f} h from now"
        )


@dataclass(frozen=True)
class BudgetFilter:
    """Compute price + egress within the task's budget."""

    name: str = "budget"

    def filter(self, state: CycleState, ctx: Context) -> B:
        out: B = _facts(state).cost_micros <= ctx.groups.budget_micros[ctx.rows][:, None] + 0.5
        return out

    def reason(self, state: CycleState, ctx: Context, row: int, pool: int) -> str:
        f, g = _facts(state), int(ctx.rows[row])
        return (
            f"costs {_usd(f.cost_micros[row, pool])} USD (compute "
            f"{_usd(f.compute_micros[row, pool])} + egress "
            f"{_usd(f.egress_micros[row, pool])})"
            f", over the budget of {_usd(ctx.groups.budget_micros[g])} USD"
        )


# --- Scores ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PriceScore:
    """What the user pays: compute + egress (micro-USD)."""

    name: str = "price"
    unit: str = "micro-USD"
    floor: float = 10_000.0

    def score(self, state: CycleState, ctx: Context) -> F64:
        return _facts(state).cost_micros


@dataclass(frozen=True)
class CarbonScore:
    """Task energy x the site's intensity over the run (gCO2e, location-based)."""

    name: str = "carbon"
    unit: str = "gCO2e"
    floor: float = 1.0

    def score(self, state: CycleState, ctx: Context) -> F64:
        return _facts(state).carbon_g


@dataclass(frozen=True)
class LatencyScore:
    """One-way latency from the origin (ms)."""

    name: str = "latency"
    unit: str = "ms"
    floor: float = 5.0

    def score(self, state: CycleState, ctx: Context) -> F64:
        return _facts(state).origin_ms


@dataclass(frozen=True)
class TransferScore:
    """Hours to move the input data to the site."""

    name: str = "transfer-time"
    unit: str = "h"
    floor: float = 0.05

    def score(self, state: CycleState, ctx: Context) -> F64:
        return _facts(state).transfer_h


@dataclass(frozen=True)
class SpreadScore:
    """Load balance: the pool's utilisation with the task placed (LeastAllocated)."""

    name: str = "spread"
    unit: str = "utilisation"
    floor: float = 0.1

    def score(self, state: CycleState, ctx: Context) -> F64:
        return _facts(state).util_after


# --- Reserve / Permit --------------------------------------------------------------------------
FREE = "free"
"""Scratchpad key of the tentative free capacity (a copy the Reserve plugin decrements)."""


@dataclass(frozen=True)
class CapacityReserve:
    """Takes the task's units from the scratch copy of free capacity."""

    name: str = "capacity"

    def reserve(self, state: CycleState, ctx: Context, row: int, pool: int) -> Status:
        free: F64 = state.read(FREE)
        need = float(ctx.groups.units[int(ctx.rows[row])])
        if need > free[pool] + 1e-9:
            why = f"{ctx.snap.pool_label(pool)}: needs {_num(need)} units, {_num(free[pool])} free"
            return Status(Code.UNSCHEDULABLE, (why,), self.name)
        free[pool] -= need
        return Status.success(self.name)

    def unreserve(self, state: CycleState, ctx: Context, row: int, pool: int) -> None:
        free: F64 = state.read(FREE)
        free[pool] += float(ctx.groups.units[int(ctx.rows[row])])


@dataclass(frozen=True)
class GangPermit:
    """All members placed, on distinct sites when asked, within ``max_spread_ms`` of each other."""

    distinct_sites: bool = True
    max_spread_ms: float | None = None
    name: str = "gang"

    def permit(self, state: CycleState, ctx: Context, chosen: Sequence[tuple[int, int]]) -> Status:
        sites = [int(ctx.snap.pool_site[p]) for _, p in chosen]
        if self.distinct_sites and len(set(sites)) < len(sites):
            return Status(Code.UNSCHEDULABLE, ("two members would share a site",), self.name)
        if self.max_spread_ms is not None and len(sites) > 1:
            cm = ctx.snap.network.cost_map()
            idx = np.array(sites)
            worst = float(cm.one_way_ms[np.ix_(idx, idx)].max())
            if worst > self.max_spread_ms:
                why = f"member sites are {worst:.1f} ms apart (limit {self.max_spread_ms:g} ms)"
                return Status(Code.UNSCHEDULABLE, (why,), self.name)
        return Status.success(self.name)


def _float_args(name: str, args: Mapping[str, Any], allowed: set[str]) -> dict[str, float]:
    unknown = set(args) - allowed
    if unknown:
        raise SuanwangError(f"plugin {name!r}: unknown argument(s) {sorted(unknown)}")
    out: dict[str, float] = {}
    for k, v in args.items():
        if not isinstance(v, int | float) or isinstance(v, bool) or not v >= 0:
            raise SuanwangError(f"plugin {name!r}: {k} must be a number >= 0, got {v!r}")
        out[k] = float(v)
    return out


def _plain(name: str, kind: type) -> Factory:
    def make(args: Mapping[str, Any]) -> object:
        _no_args(name, args)
        return kind()

    return make


def default_registry() -> Registry:
    """A registry with every built-in plugin under its name."""
    reg = Registry()

    def facts(args: Mapping[str, Any]) -> object:
        a = _float_args("facts", args, {"shift_carbon", "shift_price"})
        return FactsPreFilter(
            shift_carbon=a.get("shift_carbon", 1.0), shift_price=a.get("shift_price", 0.5)
        )

    def transfer(args: Mapping[str, Any]) -> object:
        return TransferFilter(
            min_gbps=_float_args("transfer", args, {"min_gbps"}).get("min_gbps", 0.1)
        )

    reg.register("facts", facts)
    reg.register("transfer", transfer)
    plain: dict[str, type] = {
        "resource-fit": ResourceFit,
        "sovereignty": SovereigntyFilter,
        "latency-sla": LatencySLAFilter,
        "deadline": DeadlineFilter,
        "budget": BudgetFilter,
        "price": PriceScore,
        "carbon": CarbonScore,
        "latency": LatencyScore,
        "transfer-time": TransferScore,
        "spread": SpreadScore,
        "capacity": CapacityReserve,
    }
    for name, kind in plain.items():
        reg.register(name, _plain(name, kind))
    reg.register("gang", _gang)
    return reg


def _gang(args: Mapping[str, Any]) -> GangPermit:
    unknown = set(args) - {"distinct_sites", "max_spread_ms"}
    if unknown:
        raise SuanwangError(f"plugin 'gang': unknown argument(s) {sorted(unknown)}")
    distinct = args.get("distinct_sites", True)
    if not isinstance(distinct, bool):
        raise SuanwangError("plugin 'gang': distinct_sites must be true or false")
    spread = args.get("max_spread_ms")
    if spread is not None and (not isinstance(spread, int | float) or not spread > 0):
        raise SuanwangError("plugin 'gang': max_spread_ms must be a positive number")
    return GangPermit(distinct, None if spread is None else float(spread))


def _num(x: float) -> str:
    """A quantity for a sentence: thousands separated, small ones to 4 significant digits."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def _usd(micros: float) -> str:
    """Micro-units as units: cents, or up to six decimals below a cent (never "0.00")."""
    units = float(micros) / 1e6
    if abs(units) >= 0.01 or units == 0:
        return f"{units:,.2f}"
    return f"{units:.6f}".rstrip("0")
